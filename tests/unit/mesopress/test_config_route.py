"""POST /v1/config as a plain function of a view (routes.route), and secrets hidden by GET /v1/config."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from mesopress.http import routes
from mesopress.model import config

FILE = """
name: site
pods:
  - name: db
    count: 2
    cpus: 0.1
    mem: 32
    command: run-db
    env: {DB_PASSWORD: hunter2, DB_HOST: db}
    volumes: [{container_path: data, size: 100}]
"""
RUNNING = config.load(FILE, {}, {})


class View:
    """A leader (or standby) whose core answers update_config with `answer`."""

    def __init__(self, leader: bool = True, answer: Any = None, loaded: bool = True) -> None:
        self.is_leader = leader
        self.answer = answer if answer is not None else {"ok": True, "version": "v7"}
        target = dataclasses.asdict(RUNNING.service)
        self.snapshot: dict[str, Any] = {"config": {"target": target}} if loaded else {}
        self.submitted: list[tuple[str, dict[str, Any]]] = []

    def status(self) -> dict[str, Any]:
        return {"role": "leader" if self.is_leader else "standby", "leader": "10.0.0.7:8123"}

    def submit(self, kind: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
        self.submitted.append((kind, args))
        return self.answer

    def config(self) -> dict[str, Any]:
        return {"service": dataclasses.asdict(RUNNING.service), "doc": dict(RUNNING.doc)}


def post(view: View, text: str | bytes) -> routes.Answer:
    raw = text.encode() if isinstance(text, str) else text
    return routes.route(view, "POST", "/v1/config", None, raw)


def test_a_valid_file_is_submitted_as_spec_and_expanded_doc_and_answers_its_version() -> None:
    view = View()
    grown = FILE.replace("count: 2", "count: 3")
    assert post(view, grown) == routes.Answer(200, {"ok": True, "version": "v7"})
    [(kind, args)] = view.submitted
    assert kind == "update_config" and args["service"].pods[0].count == 3
    assert args["service"].role == RUNNING.service.role and args["doc"]["pods"][0]["count"] == 3
    as_json = post(View(), json.dumps(dict(RUNNING.doc)))
    assert as_json.status == 200  # JSON works like YAML


def test_an_invalid_file_is_400_with_every_field_and_fix_and_nothing_is_submitted() -> None:
    view = View()
    bad = FILE.replace("count: 2", "count: 0").replace("cpus: 0.1", "cpu: 0.1")
    answer = post(view, bad + "scheduler: {drain_seconds: -1}\n")
    assert answer.status == 400 and answer.body["ok"] is False
    reasons = answer.body["reasons"]
    assert "pods[0].count: must be an integer from 1 to 100, e.g. 3" in reasons
    assert "pods[0].cpu: unknown field; did you mean 'cpus'?" in reasons
    assert any(r.startswith("drain_seconds: must be seconds >= 0") for r in reasons)
    assert view.submitted == []
    for body, reason in (
        ("", "body: empty"),
        ("name: [unclosed", "body: invalid YAML"),
        (b"\xff\xfe", "body: must be UTF-8 text"),
    ):
        answer = post(view, body)
        assert answer.status == 400 and answer.body["reasons"][0].startswith(reason), answer
    galera = "name: site\npods:\n  - {name: galera, kind: galera, galera: {size: 4}}\n"
    assert "pods[0].galera.size: 4 is even" in post(view, galera).body["reasons"][0]
    assert view.submitted == []


def test_a_file_the_running_service_cannot_take_is_409_with_the_core_reasons() -> None:
    reason = "pods[db].volumes[data].size: cannot shrink from 100 to 50 MiB; set it back to 100"
    view = View(answer={"ok": False, "reasons": [reason]})
    assert post(view, FILE.replace("size: 100", "size: 50")) == routes.Answer(
        409, {"ok": False, "reasons": [reason]}
    )


def test_no_answer_or_no_state_yet_is_503_and_a_standby_redirects_like_every_post() -> None:
    busy = post(View(answer={"error": "error running update_config: no answer within 10s"}), FILE)
    assert busy.status == 503 and "no answer within 10s" in busy.body["reasons"][0]
    stored = post(View(answer={"ok": False, "reasons": ["error storing"], "retry": True}), FILE)
    assert stored.status == 503
    assert post(View(loaded=False), FILE).status == 503
    standby = View(leader=False)
    replace = routes.route(standby, "POST", "/v1/pods/db-0/replace")
    assert post(standby, FILE) == dataclasses.replace(replace, location="http://10.0.0.7:8123/v1/config")
    assert replace.status == 307 and standby.submitted == []
    alone = View(leader=False)
    alone.status = lambda: {"role": "standby", "leader": None}  # type: ignore[method-assign]
    assert post(alone, FILE).status == 503 == routes.route(alone, "POST", "/v1/uninstall").status


def test_a_body_over_the_limit_is_413() -> None:
    answer = post(View(), FILE + "#" * routes.MAX_BODY)
    assert answer.status == 413 and answer.body["ok"] is False


def test_get_config_hides_secret_values_in_env_pairs_tuples_and_mappings() -> None:
    answer = routes.route(View(), "GET", "/v1/config")
    text = json.dumps(answer.body)
    assert "hunter2" not in text
    assert answer.body["service"]["pods"][0]["env"] == [["DB_HOST", "db"], ["DB_PASSWORD", "<hidden>"]]
    assert answer.body["doc"]["pods"][0]["env"] == {"DB_PASSWORD": "<hidden>", "DB_HOST": "db"}
    plain = routes._without_secrets({"reasons": ["token expired", "retry"], "pair": ("TOKEN_URL", "x")})
    assert plain == {"reasons": ["token expired", "retry"], "pair": ["TOKEN_URL", "<hidden>"]}
