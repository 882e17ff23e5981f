"""The WordPress, media and proxy kinds: what each task gets at launch, the endpoints, bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from mesopress.kinds import media, proxy, wordpress
from mesopress.model import config
from mesopress.model.specs import ServiceSpec
from mesopress.wordpress import proxy as haproxy
from mesopress.wordpress import site

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "local-site.yaml"
PROXY_FP = {"instance": "proxy-0", "hostname": "127.0.0.1", "ports": {"http": 31080, "mysql": 31306}}


def service(text: str | None = None) -> ServiceSpec:
    return config.load(text or EXAMPLE.read_text(), {}, {}).service


def secrets() -> dict[str, str]:
    return {name: make() for name, make in wordpress.SECRET_SPECS.items()}


def endpoints(*extra: tuple[str, str, int]) -> dict[str, Any]:
    eps: dict[str, Any] = {"proxy-0": PROXY_FP}
    for name, host, port in extra:
        eps[name] = {"instance": name, "hostname": host, "ports": {"http": port, "sql": port}}
    return eps


def config_of(files: dict[str, Any]) -> dict[str, Any]:
    return json.loads(files[wordpress.CONFIG_FILE].content)


def test_a_plain_instance_reaches_the_database_through_the_proxy() -> None:
    svc, secret = service(), secrets()
    kinds = proxy.site_kinds(svc, "http://127.0.0.1:8080/v1/endpoints")
    files = kinds["wordpress"].task_files(
        svc.pod("wordpress"), "wordpress-1", {}, endpoints(("wordpress-1", "127.0.0.2", 32005)), secret
    )
    cfg = config_of(files)
    assert cfg["port"] == 32005 and cfg["host"] == "0.0.0.0" and cfg["name"] == "wordpress-1"
    assert cfg["database"] == {
        "host": "127.0.0.1",
        "port": 31306,
        "name": "wordpress",
        "user": "wordpress",
        "password_file": wordpress.DB_PASSWORD_FILE,
    }
    assert cfg["media_upstream"] == "http://127.0.0.1:31080" and "uploads_dir" not in cfg
    assert cfg["public_url"] == "http://127.0.0.1:31080" and cfg["local"] is True
    assert cfg["salts"] == json.loads(secret[wordpress.SALTS_SECRET])
    assert files[wordpress.DB_PASSWORD_FILE].content.decode() == secret[wordpress.DB_SECRET]
    assert files[wordpress.DB_PASSWORD_FILE].secret and files[wordpress.CONFIG_FILE].secret  # salts inside
    assert wordpress.ADMIN_PASSWORD_FILE not in files  # only the installing instance gets it
    assert kinds["wordpress"].task_environment(svc.pod("wordpress"), "wordpress-0", {}, {}) == {
        wordpress.INSTALL_ENV: "0"
    }


def test_every_instance_gets_the_same_salts() -> None:
    svc, secret = service(), secrets()
    kind = wordpress.WordPressKind()
    eps = endpoints(("wordpress-0", "127.0.0.1", 31001), ("wordpress-1", "127.0.0.2", 32001))
    pod = svc.pod("wordpress")
    assert pod is not None
    one, two = (config_of(kind.task_files(pod, n, {}, eps, secret)) for n in ("wordpress-0", "wordpress-1"))
    assert one["salts"] == two["salts"] and one["port"] != two["port"]


def test_the_media_pod_installs_the_site_and_keeps_uploads_on_its_volume() -> None:
    svc, secret = service(), secrets()
    kind = proxy.site_kinds(svc, "http://x:1/v1/endpoints")["media"]
    pod = svc.pod("media")
    assert pod is not None and isinstance(kind, media.MediaKind)
    assert kind.task_environment(pod, "media-0", {}, {})[wordpress.INSTALL_ENV] == "1"
    files = kind.task_files(pod, "media-0", {}, endpoints(("media-0", "127.0.0.3", 33002)), secret)
    cfg = config_of(files)
    assert cfg["uploads_dir"] == "uploads" and "media_upstream" not in cfg
    assert cfg["site"]["title"] == "mesopress local site"  # from the wordpress pod's environment
    assert cfg["site"]["admin_email"] == "admin@example.com"
    assert cfg["site"]["admin_password_file"] == wordpress.ADMIN_PASSWORD_FILE
    assert files[wordpress.ADMIN_PASSWORD_FILE].content.decode() == secret[wordpress.ADMIN_SECRET]
    assert "<secret>" in repr(files[wordpress.ADMIN_PASSWORD_FILE])


def test_without_a_media_pod_wordpress_0_installs() -> None:
    svc = service()
    no_media = dataclasses.replace(svc, pods=tuple(p for p in svc.pods if p.name != "media"))
    kinds = proxy.site_kinds(no_media, "http://x:1/v1/endpoints")
    assert "media" not in kinds
    env = kinds["wordpress"].task_environment(svc.pod("wordpress"), "wordpress-0", {}, {})
    assert env == {wordpress.INSTALL_ENV: "1"}


@pytest.mark.parametrize(
    ("secret", "eps", "reason"),
    [
        ({wordpress.SALTS_SECRET: "{}"}, endpoints(("wordpress-0", "h", 1)), "lacks AUTH_KEY"),
        (None, {"proxy-0": PROXY_FP}, "error rendering wordpress-0: it has no reserved ports"),
        (
            None,
            endpoints(("wordpress-0", "h", 1)) | {"proxy-0": {}},
            "error rendering proxy-0: it has no reserved ports",
        ),
    ],
    ids=["salts-missing", "no-own-footprint", "no-proxy-yet"],
)
def test_rendering_refuses_what_it_cannot_fill(secret: Any, eps: dict[str, Any], reason: str) -> None:
    svc = service()
    pod = svc.pod("wordpress")
    assert pod is not None
    with pytest.raises(ValueError, match=reason):
        wordpress.WordPressKind().task_files(pod, "wordpress-0", {}, eps, secrets() | (secret or {}))


def test_generated_secrets_are_complete() -> None:
    made = secrets()
    assert set(json.loads(made[wordpress.SALTS_SECRET])) == set(site.SALT_KEYS)
    assert (
        len(made[wordpress.ADMIN_SECRET]) >= 32 and made[wordpress.ADMIN_SECRET] != made[wordpress.DB_SECRET]
    )


def test_readiness_is_the_http_check() -> None:
    pod = service().pod("wordpress")
    assert pod is not None and pod.readiness_check is not None
    assert pod.readiness_check.path == "/mesopress-ready"
    kind = wordpress.WordPressKind()
    assert kind.is_ready(pod, {"state": "TASK_RUNNING", "check_status": {"http": {"status_code": 200}}})
    assert not kind.is_ready(pod, {"state": "TASK_RUNNING", "check_status": {"http": {"status_code": 503}}})
    assert not kind.is_ready(pod, {"state": "TASK_RUNNING"})
    assert not kind.is_ready(pod, {"state": "TASK_STAGING"})


def test_the_example_is_valid() -> None:
    assert proxy.check_service(service()) == []


def with_pod(text: str, pod: str, **changes: Any) -> ServiceSpec:
    svc = service(text)
    pods = tuple(dataclasses.replace(p, **changes) if p.name == pod else p for p in svc.pods)
    return dataclasses.replace(svc, pods=pods)


@pytest.mark.parametrize(
    ("pod", "changes", "reason"),
    [
        ("wordpress", {"count": 0}, "wordpress.instances: 0 is too few, run at least 1 instance"),
        ("media", {"count": 2}, "pods[media].count: 2 media pods would split the uploads; use 1"),
        ("media", {"volumes": ()}, "pods[media].volumes: needs exactly one volume"),
        ("wordpress", {"readiness_check": None}, "pods[wordpress].readiness_check: must be an http check"),
    ],
    ids=["zero-instances", "two-media", "media-without-volume", "no-readiness"],
)
def test_bad_pods_are_refused(pod: str, changes: dict[str, Any], reason: str) -> None:
    errors = proxy.check_service(with_pod(EXAMPLE.read_text(), pod, **changes))
    assert any(reason in e for e in errors), errors


def test_a_bad_email_and_a_port_conflict_are_refused_together() -> None:
    text = EXAMPLE.read_text().replace("admin@example.com", "not-an-email")
    text = text.replace("{name: http, port: 31080}", "{name: http, port: 31306}")
    text = text.replace("{name: mysql, port: 31306}", "{name: mysql, port: 31080}")
    text = text.replace("      - {name: http}\n    volumes", "      - {name: http, port: 31080}\n    volumes")
    errors = proxy.check_service(service(text))
    assert "wordpress.admin_email: 'not-an-email' is not an e-mail address, e.g. admin@example.com" in errors
    assert any(e.startswith("ports: 31080 is requested by media.http and proxy.mysql") for e in errors), (
        errors
    )


def test_a_proxy_without_its_ports_is_refused() -> None:
    svc = with_pod(EXAMPLE.read_text(), "proxy", ports=())
    assert "pods[proxy]: a proxy pod with ports named http and mysql is required" in proxy.check_service(svc)


def view_entry(name: str, ready: bool, port: int, host: str = "127.0.0.1") -> dict[str, Any]:
    return {"instance": name, "host": host, "ports": {"http": port, "sql": port}, "ready": ready}


def test_the_proxy_reads_the_schedulers_endpoints() -> None:
    view = {  # GET /v1/endpoints: every pod's instances that hold resources
        "wordpress": [view_entry("wordpress-0", True, 31000), view_entry("wordpress-1", False, 31001)],
        "media": [view_entry("media-0", True, 32000, "127.0.0.2")],
        "galera": [view_entry("galera-0", False, 33000), view_entry("galera-1", True, 33001)],
        "proxy": [view_entry("proxy-0", True, 31080)],
    }
    parsed = haproxy.parse_endpoints(view)
    assert parsed.wordpress == (haproxy.Server("wordpress-0", "127.0.0.1", 31000),)  # ready only
    assert parsed.media == (haproxy.Server("media-0", "127.0.0.2", 32000),)
    assert parsed.galera == (
        haproxy.Server("galera-0", "127.0.0.1", 33000, synced=False),  # listed: a backup
        haproxy.Server("galera-1", "127.0.0.1", 33001, synced=True),
    )
    assert [s.name for s, backup in haproxy.writer_order(parsed.galera) if not backup] == ["galera-1"]


def test_an_instance_not_ready_or_without_its_port_gets_no_request() -> None:
    view = {
        "wordpress": [
            view_entry("wordpress-0", False, 1),
            {"instance": "wordpress-1", "host": "h", "ports": {}, "ready": True},
        ]
    }
    assert haproxy.parse_endpoints(view) == haproxy.Endpoints()
    assert haproxy.parse_endpoints({"wordpress": [], "galera": []}) == haproxy.Endpoints()


def test_the_proxy_gets_its_ports_and_check_credentials() -> None:
    svc, secret = service(), secrets()
    kind = proxy.site_kinds(svc, "http://127.0.0.1:8080/v1/endpoints")["proxy"]
    pod = svc.pod("proxy")
    assert pod is not None
    files = kind.task_files(pod, "proxy-0", {}, {"proxy-0": PROXY_FP}, secret)
    cfg = json.loads(files[proxy.CONFIG_FILE].content)
    assert cfg["http_port"] == 31080 and cfg["mysql_port"] == 31306 and cfg["host"] == "0.0.0.0"
    assert cfg["check_credentials_file"] == proxy.CHECK_FILE
    check = files[proxy.CHECK_FILE]
    assert check.secret and json.loads(check.content) == {
        "user": "wordpress",
        "password": secret[wordpress.DB_SECRET],
    }
    env = kind.task_environment(pod, "proxy-0", {}, {})
    assert env == {proxy.URL_ENV: "http://127.0.0.1:8080/v1/endpoints"}
    assert kind.is_ready(pod, {"state": "TASK_RUNNING", "check_status": {"tcp": {"succeeded": True}}})
    assert set(kind.secret_specs(pod)) == {wordpress.DB_SECRET}
