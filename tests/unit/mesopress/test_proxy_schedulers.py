"""The proxy's scheduler list: which URLs it tries in which order, how answers refresh the list, what
counts as a valid answer, what it logs, and what the scheduler side renders and serves for it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from mesopress.adapters.schedulers import ordered, url_of
from mesopress.http import routes
from mesopress.kinds import proxy as proxy_kind
from mesopress.kinds import wordpress
from mesopress.model import config
from mesopress.tasks.proxy import Sources, sources_of
from mesopress.wordpress import proxy

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "local-site.yaml"
A, B, C, VIP = "http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080", "http://vip:80"


def answer(*schedulers: str, port: int = 31000) -> dict[str, Any]:
    """A leader's /v1/endpoints: one ready WordPress instance on `port`, and the live schedulers."""
    entry = {"instance": "wordpress-0", "host": "10.1.0.1", "ports": {"http": port}, "ready": True}
    return {"wordpress": [entry], "galera": [], "schedulers": list(schedulers)}


class Fake:
    """Scheduler URLs -> their answers (an exception is raised as the failure)."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def get(self, url: str) -> Any:
        self.asked.append(url)
        found = self.answers.get(url.removesuffix("/v1/endpoints"), ConnectionRefusedError("refused"))
        if isinstance(found, Exception):
            raise found
        return found


def sources(fake: Fake, pinned: list[str], known: list[str]) -> tuple[Sources, list[str]]:
    logged: list[str] = []
    return Sources(pinned, known, get=fake.get, log=logged.append), logged


def test_urls_are_tried_pinned_first_then_known_without_duplicates() -> None:
    assert proxy.candidates([VIP + "/"], [A + "/v1/endpoints", B, VIP, "", A]) == [VIP, A, B]
    assert proxy.endpoints_url(A) == proxy.endpoints_url(A + "/v1/endpoints/") == A + "/v1/endpoints"
    assert proxy.base_url(A + "/v1/endpoints") == A


def test_the_schedulers_list_of_an_answer() -> None:
    assert proxy.schedulers_in(answer(A, B + "/", A)) == [A, B]
    assert proxy.schedulers_in(answer()) is None  # empty: keep the known list
    assert proxy.schedulers_in({"wordpress": []}) is None  # an older scheduler, a file
    assert proxy.schedulers_in(answer(A, "10.0.0.2:8080")) is None  # not a URL: the list is not trusted
    assert proxy.schedulers_in({"schedulers": "http://a:1"}) is None


def test_the_schedulers_key_is_not_a_pod_and_an_error_answer_is_invalid() -> None:
    parsed = proxy.parse_endpoints(answer(A, B))
    assert parsed.wordpress == (proxy.Server("wordpress-0", "10.1.0.1", 31000),)
    own = {"wordpress": [{"name": "w", "host": "h", "port": 1}], "schedulers": [A]}  # the file format
    assert proxy.parse_endpoints(own).wordpress == (proxy.Server("w", "h", 1),)
    with pytest.raises(ValueError, match="the answer is an error: no leader elected yet"):
        proxy.parse_endpoints({"error": "no leader elected yet; try again shortly"})


def test_the_first_valid_answer_is_used_and_refreshes_the_list() -> None:
    fake = Fake({A: ValueError("not JSON"), B: answer(B, C, port=31001)})
    src, logged = sources(fake, [], [A, B])
    endpoints = src.read()
    assert endpoints is not None and endpoints.wordpress[0].port == 31001
    assert fake.asked == [A + "/v1/endpoints", B + "/v1/endpoints"]
    assert src.known == [B, C] and src.order() == [B, C]  # A is gone from the schedulers' list
    assert logged == [f"reading endpoints from {B}", f"schedulers now: {B}, {C} (were: {A}, {B})"]


def test_the_operators_url_stays_first_and_a_list_without_it_is_fine() -> None:
    fake = Fake({VIP: answer(A, B)})
    src, _ = sources(fake, [VIP], [A])
    assert src.read() is not None
    assert src.order() == [VIP, A, B] and src.known == [A, B]
    fake.answers[VIP] = OSError("HTTP 503 no leader elected yet")
    fake.answers[B] = answer(B)
    assert src.read() is not None and src.order() == [VIP, B]


def test_an_answering_url_the_schedulers_do_not_list_is_kept_first() -> None:
    """E.g. the launching scheduler's advertise_url, while the schedulers advertise host:port names."""
    fake = Fake({"http://sched.example:8080": answer("http://127.0.0.1:8080")})
    src, _ = sources(fake, [], ["http://sched.example:8080/v1/endpoints"])
    assert src.read() is not None
    assert src.known == ["http://sched.example:8080", "http://127.0.0.1:8080"]


def test_an_answer_without_a_list_keeps_the_known_one() -> None:
    fake = Fake({A: {"wordpress": [], "galera": []}})
    src, _ = sources(fake, [], [A, B])
    assert src.read() == proxy.Endpoints() and src.known == [A, B]


def test_nothing_answering_keeps_the_configuration_and_logs_once_per_change() -> None:
    fake = Fake({A: answer(A, B)})
    src, logged = sources(fake, [], [A, B])
    for _ in range(3):
        assert src.read() is not None
    assert logged == [f"reading endpoints from {A}"]
    del fake.answers[A]
    fake.answers[B] = OSError("HTTP 503 no leader elected yet; try again shortly")
    for _ in range(3):
        assert src.read() is None  # the caller keeps its configuration
    assert len(logged) == 2 and logged[1].startswith("error reading endpoints: no source answers (")
    assert f"{A}: refused" in logged[1] and f"{B}: HTTP 503 no leader elected yet" in logged[1]
    assert "keeping the current configuration" in logged[1]
    fake.answers[B] = answer(B)
    for _ in range(3):
        assert src.read() is not None
    assert logged[2:] == [f"reading endpoints from {B}", f"schedulers now: {B} (were: {A}, {B})"]


def test_a_file_source(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.json"
    logged: list[str] = []
    src = Sources(file=str(path), log=logged.append)
    assert src.read() is None
    path.write_text(json.dumps({"wordpress": [{"name": "w", "host": "h", "port": 1}]}))
    assert src.read() is not None and src.read() is not None
    assert len(logged) == 2 and logged[1] == f"reading endpoints from {path}"


def test_the_programs_sources_from_config_and_flags(capsys: pytest.CaptureFixture[str]) -> None:
    src = sources_of({"api_url": VIP, "schedulers": [A, B]}, A + "/v1/endpoints", None, "proxy.json")
    assert src.pinned == [VIP] and src.known == [A, B]
    assert sources_of({}, B + "/v1/endpoints", None, "proxy.json").order() == [B]
    bad = [
        ({"schedulers": "http://a:1"}, None, "schedulers must be a list of http://host:port URLs"),
        ({"api_url": "vip:80"}, None, "api_url 'vip:80' is not a URL"),
        ({}, "host:8080", "error in --endpoints-url: 'host:8080' is not a URL"),
        ({}, None, "no endpoints source; give --endpoints-url or --endpoints-file"),
    ]
    for cfg, url, reason in bad:
        with pytest.raises(SystemExit):
            sources_of(cfg, url, None, "proxy.json")
        assert reason in capsys.readouterr().err


def test_live_schedulers_are_listed_in_election_order_leader_first() -> None:
    nodes = {
        "b1__lock__0000000007": "10.0.0.2:8080",
        "a9__lock__0000000003": "10.0.0.1:8080",
        "c0__lock__0000000011": "",  # no identity: left out
        "junk": "10.0.0.9:8080",  # not an election node
    }
    assert ordered(nodes) == [A, B]
    assert ordered(nodes, first=B) == [B, A]  # the leader itself, when it is not the lowest node yet
    assert ordered({}, first=A) == [A]
    assert url_of("10.0.0.1:8080") == A and url_of("https://x:1/") == "https://x:1"


def test_the_proxy_config_lists_the_live_schedulers_and_the_operators_url() -> None:
    svc = config.load(EXAMPLE.read_text(), {}, {}).service
    secret = {name: make() for name, make in wordpress.SECRET_SPECS.items()}
    fp = {"proxy-0": {"instance": "proxy-0", "hostname": "h", "ports": {"http": 1, "mysql": 2}}}
    pod = svc.pod("proxy")
    assert pod is not None

    def rendered(**options: Any) -> dict[str, Any]:
        kind = proxy_kind.site_kinds(svc, A + "/v1/endpoints", **options)["proxy"]
        return json.loads(kind.task_files(pod, "proxy-0", {}, fp, secret)[proxy_kind.CONFIG_FILE].content)

    assert rendered()["schedulers"] == [A] and "api_url" not in rendered()
    cfg = rendered(schedulers=lambda: [A, B, C], api_url=VIP + "/")
    assert cfg["schedulers"] == [A, B, C] and cfg["api_url"] == VIP
    assert rendered(schedulers=lambda: [B])["schedulers"] == [B, A]  # the advertised URL too


def test_a_pod_named_schedulers_is_refused() -> None:
    svc = config.load(EXAMPLE.read_text(), {}, {}).service
    extra = dataclasses.replace(svc.pods[0], name="schedulers")
    errors = proxy_kind.check_service(dataclasses.replace(svc, pods=(*svc.pods, extra)))
    assert any(e.startswith("pods[schedulers]: the name is taken") for e in errors)
    assert not any("schedulers" in e for e in proxy_kind.check_service(svc))


class View:
    is_leader = True
    snapshot = {"endpoints": {"wordpress": []}}

    def status(self) -> dict[str, Any]:
        return {"leader": "10.0.0.1:8080", "role": "leader"}


def test_the_endpoints_route_lists_the_live_schedulers() -> None:
    view = View()
    assert routes.route(view, "GET", "/v1/endpoints").body == {"wordpress": []}  # type: ignore[arg-type]
    view.schedulers = lambda: [A, B]  # type: ignore[attr-defined]
    body = routes.route(view, "GET", "/v1/endpoints").body  # type: ignore[arg-type]
    assert body == {"wordpress": [], "schedulers": [A, B]} and view.snapshot["endpoints"] == {"wordpress": []}
