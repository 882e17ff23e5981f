"""The Galera kind's pure parts, the artifact/bundle routes, and the settings/config they need."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import pytest

from mesopress.galera import recovery
from mesopress.http import bundle, routes
from mesopress.kinds import common, galera_recovery
from mesopress.kinds import galera as kind
from mesopress.model import config
from mesopress.settings import Settings, build


class View:
    """A leader whose commands answer from a table."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.snapshot: dict[str, Any] = {"endpoints": {"galera": []}, "galera": {"galera": {"size": 3}}}
        self.submitted: list[tuple[str, dict[str, Any]]] = []

    @property
    def is_leader(self) -> bool:
        return True

    def status(self) -> dict[str, Any]:
        return {"leader": "127.0.0.1:1", "role": "leader"}

    def config(self) -> dict[str, Any]:
        return {}

    def submit(self, kind: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
        self.submitted.append((kind, args))
        return self.answers.get(kind)


def service(text: str) -> config.Loaded:
    return config.load(text, {}, {})


def test_a_galera_pod_gets_its_defaults() -> None:
    [pod] = service("name: s\npods: [{name: db, kind: galera}]").service.pods
    assert pod.count == 3 and pod.user == "mysql" and [p.name for p in pod.ports] == list(kind.PORTS)
    assert pod.volumes[0].container_path == kind.VOLUME and pod.placement.unique_agent
    assert pod.readiness_check is not None and "galera_node check" in pod.readiness_check.command
    assert pod.health_check is None and "mesopress-bundle/run.py galera_node run" in pod.command


@pytest.mark.parametrize(
    ("section", "reason"),
    [
        ("{size: 4}", "is even"),
        ("{size: 1}", "below 3"),
        ("{size: 5, colour: red}", "unknown setting"),
    ],
)
def test_bad_galera_settings_are_refused_at_load(section: str, reason: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        service(f"name: s\npods: [{{name: db, kind: galera, galera: {section}}}]")
    assert reason in str(err.value)


def test_even_size_with_the_override_and_small_volumes() -> None:
    assert service("name: s\npods: [{name: db, kind: galera, galera: {size: 4, allow_even: true}}]")
    with pytest.raises(config.ConfigError, match="below the minimum"):
        service(
            "name: s\npods: [{name: db, kind: galera, volumes: [{container_path: mysql-data, size: 10}]}]"
        )


def test_node_config_names_every_peer_and_its_own_ports() -> None:
    [pod] = service("name: s\npods: [{name: db, kind: galera}]").service.pods
    ports = {"sql": 1, "galera": 2, "ist": 3, "sst": 4}
    endpoints = {
        "db-0": {"hostname": "h0", "ports": ports},
        "db-1": {"hostname": "h1", "ports": {k: v + 10 for k, v in ports.items()}},
        "web-0": {"hostname": "h9", "ports": {"http": 80}},
    }
    secrets = {n: n + "-value" for n in kind.SECRET_FILES.values()}
    files = kind.GaleraKind().with_launch(True).task_files(pod, "db-1", {}, endpoints, secrets)
    cfg = json.loads(files[kind.CONFIG_FILE].content)
    assert cfg["peers"] == ["h0:2", "h1:12"] and cfg["host"] == "h1" and cfg["bootstrap"] is True
    assert cfg["ports"]["sql"] == 11 and cfg["restrict_secrets"] is True
    assert files["secrets/root"].secret and files["secrets/root"].content == b"galera-root-password-value"
    assert "value" not in repr(files)


def test_bootstrap_only_on_node_zero_of_a_new_cluster_or_the_recovery_choice() -> None:
    assert kind.should_bootstrap("db-0", "launch", False, None)
    assert not kind.should_bootstrap("db-1", "launch", False, None)
    assert not kind.should_bootstrap("db-0", "relaunch", True, None)
    assert kind.should_bootstrap("db-2", "relaunch", True, "db-2")
    assert not kind.should_bootstrap("db-0", "relaunch", True, "db-2")


def test_the_gate_holds_a_restart_without_a_donor_and_starts_a_recovery() -> None:
    statuses = {"db-0": "FAILED", "db-1": "READY", "db-2": "READY"}
    assert galera_recovery.mode("db-0", statuses, None, True) == galera_recovery.RUN
    down = dict.fromkeys(statuses, "FAILED")
    assert galera_recovery.mode("db-0", down, None, True) == galera_recovery.HOLD
    assert galera_recovery.should_start(down, set(down), True)
    assert not galera_recovery.should_start(down, set(down), False)
    assert not galera_recovery.should_start(statuses, set(statuses), True)
    state = recovery.start(set(down), 0.0)
    assert galera_recovery.mode("db-0", down, state, True) == galera_recovery.RECOVER


def test_artifact_route_serves_bytes_once_and_hides_failures() -> None:
    view = View({"artifact": {"ok": True, "content": b"x"}})
    answer = routes.route(view, "GET", "/v1/artifacts/" + "a" * 43)
    assert answer.status == 200 and answer.body == b"x"
    view.answers["artifact"] = {"ok": False, "error": "no such artifact"}
    assert routes.route(view, "GET", "/v1/artifacts/" + "a" * 43).status == 404


def test_galera_routes_and_force_body() -> None:
    view = View({"galera_force": {"ok": True, "node": "db-1"}})
    assert routes.route(view, "GET", "/v1/galera").body == {"galera": {"size": 3}}
    assert routes.route(view, "GET", "/v1/endpoints").body == {"galera": []}
    answer = routes.route(view, "POST", "/v1/galera/force", {"node": "db-1"})
    assert answer.status == 202 and view.submitted[-1] == ("galera_force", {"node": "db-1"})


def test_the_bundle_holds_the_task_programs_and_pymysql() -> None:
    with tarfile.open(fileobj=io.BytesIO(bundle.bundle()), mode="r:gz") as tar:
        names = set(tar.getnames())
    assert {"mesopress-bundle/run.py", "mesopress-bundle/mesopress/tasks/galera_node.py"} <= names
    assert "mesopress-bundle/pymysql/__init__.py" in names
    assert not any("__pycache__" in n for n in names)
    assert bundle.bundle() is bundle.bundle()  # built once


def test_uris_commands_and_the_advertised_url() -> None:
    assert Settings(http_port=9000).advertised == "http://127.0.0.1:9000"
    assert Settings(hostname="n1", http_port=9000).advertised == "http://n1:9000"
    settings, errors = build({"advertise_url": "http://sched:80/"}, {})
    assert not errors and settings.advertised == "http://sched:80"
    assert build({"advertise_url": "sched"}, {})[1]
    uri = common.artifact_uri("http://s:1", "tok", "secrets/root")
    assert uri == {"value": "http://s:1/v1/artifacts/tok", "output_file": "secrets/root", "extract": False}
    assert common.bundle_uri("http://s:1/")["extract"] is True
    assert common.bundle_command("galera_node", ["run", "--config", "a b"]).endswith("run --config 'a b'")
