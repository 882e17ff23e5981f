"""The monitor's pure parts: wsrep rows -> sample, which nodes are asked, the /v1/galera merge, the table.

No database and no mocks of pymysql: `GaleraMonitor` is driven with an injected sampler, and the route
with a plain view object.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mesopress.adapters import galera_monitor
from mesopress.adapters.galera_monitor import GaleraMonitor, Target
from mesopress.galera import health
from mesopress.http import galera_view, routes
from mesopress.model import config

UUID = "8a6d5a3c-ad2f-11ee-9b1c-2f6b3c1e0f01"
ROWS = [
    ("wsrep_local_state_comment", "Synced"),
    ("wsrep_cluster_status", "Primary"),
    ("wsrep_cluster_size", "3"),
    ("wsrep_last_committed", "1042"),
    ("wsrep_cluster_state_uuid", UUID),
    ("wsrep_ready", "ON"),
    ("wsrep_local_state", "4"),
    ("wsrep_provider_name", "Galera"),
]


def core_view() -> dict[str, Any]:
    """scheduler_galera.view's shape: db-0/db-1 hold resources, db-2 has no footprint yet."""

    def node(i: int, status: str, host: str = "10.0.0.1") -> dict[str, Any]:
        return {
            "agent_id": f"agent-{i}" if host else None,
            "hostname": host,
            "ports": {"sql": 31000 + 100 * i, "galera": 31001 + 100 * i} if host else {},
            "volume": {"mysql-data": f"vol-{i}"} if host else {},
            "status": status,
            "wsrep": "Synced" if status == "READY" else "not ready",
        }

    return {
        "db": {
            "size": 3,
            "nodes": {
                "db-0": node(0, "READY"),
                "db-1": node(1, "RUNNING", "10.0.0.2"),
                "db-2": node(2, "PENDING", ""),
            },
            "bootstrapped": {"at": 1.0, "node": "db-0"},
            "recovery": None,
        }
    }


def test_sample_keeps_the_wsrep_values_by_name_with_numbers_as_ints() -> None:
    sample = health.sample([(k.encode(), v.encode()) for k, v in ROWS], at=100.0)
    assert sample == {
        "reachable": True,
        "error": None,
        "sampled_at": 100.0,
        "wsrep_local_state_comment": "Synced",
        "wsrep_cluster_status": "Primary",
        "wsrep_cluster_size": 3,
        "wsrep_last_committed": 1042,
        "wsrep_cluster_state_uuid": UUID,
        "wsrep_ready": "ON",
        "ready": True,
    }


def test_a_donor_or_a_server_without_wsrep_is_sampled_but_not_ready() -> None:
    donor = health.sample(
        dict(ROWS) | {"wsrep_local_state_comment": "Donor/Desynced", "wsrep_local_state": "2"}, 1.0
    )
    assert donor["wsrep_local_state_comment"] == "Donor/Desynced" and donor["ready"] is False
    bare = health.sample([], 1.0)
    assert bare["reachable"] is True and bare["ready"] is False
    assert bare["wsrep_last_committed"] is None and bare["wsrep_cluster_status"] is None


def test_unreachable_sample_has_the_error_and_no_values_and_scrub_hides_the_password() -> None:
    text = health.scrub("OperationalError: (1045, \"denied for 'app' using s3cr3t\")", "s3cr3t", "")
    assert "s3cr3t" not in text and "<hidden>" in text
    sample = health.unreachable(text, 5.0)
    assert sample["reachable"] is False and sample["error"] == text and sample["ready"] is False
    assert all(sample[name] is None for name in health.SAMPLED)


def test_targets_are_the_nodes_holding_resources_of_pods_with_a_login() -> None:
    view = core_view() | {"other": {"size": 3, "nodes": {"other-0": core_view()["db"]["nodes"]["db-0"]}}}
    found = galera_monitor.targets(view, {"db": ("wordpress", "galera-app-password")})
    assert found == [
        Target("db", "db-0", "10.0.0.1", 31000, "wordpress", "galera-app-password"),
        Target("db", "db-1", "10.0.0.2", 31100, "wordpress", "galera-app-password"),
    ]
    assert galera_monitor.targets({"db": {"size": 3}}, {"db": ("u", "s")}) == []


def test_logins_use_the_pods_app_user_and_the_app_password_secret() -> None:
    doc = {
        "name": "site",
        "pods": [
            {"name": "db", "kind": "galera", "galera": {"app_user": "blog"}},
            {"name": "db2", "kind": "galera"},
            {"name": "web", "count": 1, "cpus": 0.1, "mem": 32, "command": "sleep 1"},
        ],
    }
    service = config.load(json.dumps(doc), {}, {}).service
    assert galera_monitor.logins(service) == {
        "db": ("blog", "galera-app-password"),
        "db2": ("wordpress", "galera-app-password"),
    }


def test_merge_adds_each_sample_with_its_age_and_null_for_nodes_never_sampled() -> None:
    view = core_view()
    sample = health.sample(ROWS, 100.0) | {"address": "10.0.0.1:31000", "user": "wordpress"}
    down = health.unreachable("OperationalError: (2003, refused)", 101.0) | {"address": "10.0.0.2:31100"}
    merged = galera_view.merge(view, {"db": {"db-0": sample, "db-1": down}}, now=103.5)
    nodes = merged["db"]["nodes"]
    assert nodes["db-0"]["live"] == sample | {"age": 3.5}
    assert nodes["db-0"]["agent_id"] == "agent-0" and nodes["db-0"]["volume"] == {"mysql-data": "vol-0"}
    assert nodes["db-1"]["live"]["reachable"] is False and nodes["db-1"]["live"]["age"] == 2.5
    assert nodes["db-2"]["live"] is None
    assert merged["db"]["bootstrapped"] == {"at": 1.0, "node": "db-0"}
    assert "live" not in view["db"]["nodes"]["db-0"], "the published snapshot must not be changed"


def test_merge_leaves_other_shapes_alone() -> None:
    assert galera_view.merge({"galera": {"size": 3}}, {}, 1.0) == {"galera": {"size": 3}}
    assert galera_view.merge({}, {"db": {"db-0": {}}}, 1.0) == {}


def test_table_shows_one_row_per_node_then_errors_and_records() -> None:
    view = core_view()
    view["db"]["recovery"] = {
        "phase": "COLLECTING",
        "chosen": None,
        "reason": "",
        "positions": {
            "db-0": {"uuid": UUID, "seqno": 12, "safe_to_bootstrap": False},
            "db-1": {"unknown": "empty"},
        },
    }
    sample = health.sample(ROWS, 100.0) | {"address": "10.0.0.1:31000"}
    down = health.unreachable("OperationalError: (2003, refused)", 100.0) | {"address": "10.0.0.2:31100"}
    text = galera_view.table(galera_view.merge(view, {"db": {"db-0": sample, "db-1": down}}, 102.0))
    lines = text.splitlines()
    assert lines[0].split()[:6] == ["POD", "NODE", "STATUS", "AGENT", "ADDRESS", "VOLUME"]
    assert lines[1].split() == [
        "db", "db-0", "READY", "agent-0", "10.0.0.1:31000", "vol-0",
        "Synced", "Primary", "3", "1042", UUID, "2s",
    ]  # fmt: skip
    assert lines[2].split()[:7] == [
        "db",
        "db-1",
        "RUNNING",
        "agent-1",
        "10.0.0.2:31100",
        "vol-1",
        "unreachable",
    ]
    assert lines[3].split() == ["db", "db-2", "PENDING", "-", "-", "-", "-", "-", "-"]
    assert "db-1: unreachable: OperationalError: (2003, refused)" in lines
    assert "db: bootstrapped by db-0" in lines
    assert "db: full-crash recovery COLLECTING, chosen -" in lines
    assert f"db: db-0 reported {UUID}:12" in lines and "db: db-1 reported unknown (empty)" in lines


def test_table_of_something_else_is_json() -> None:
    assert json.loads(galera_view.table({"error": "x"})) == {"error": "x"}
    assert galera_view.table({}) == "no Galera nodes"


class View:
    def __init__(self, snapshot: dict[str, Any], samples: dict[str, Any]) -> None:
        self.snapshot, self.is_leader, self._samples = snapshot, True, samples

    def status(self) -> dict[str, Any]:
        return {"leader": "me", "role": "leader"}

    def galera_samples(self) -> dict[str, Any]:
        return self._samples


def test_the_route_merges_the_views_samples() -> None:
    sample = health.sample(ROWS, 0.0)
    answer = routes.route(View({"galera": core_view()}, {"db": {"db-0": sample}}), "GET", "/v1/galera")  # type: ignore[arg-type]
    assert answer.status == 200
    assert answer.body["db"]["nodes"]["db-0"]["live"]["wsrep_last_committed"] == 1042
    assert answer.body["db"]["nodes"]["db-1"]["live"] is None


class Runner:
    """What `GaleraMonitor.for_runner` reads: the snapshot, leadership, secrets."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] = {"galera": core_view()}
        self.is_leader = True
        self.secrets = {"galera-app-password": "pw"}

    def secret(self, name: str) -> str | None:
        return self.secrets.get(name) if self.is_leader else None


def test_a_round_asks_every_target_and_a_standby_keeps_no_samples() -> None:
    runner = Runner()
    asked: list[tuple[str, str, float]] = []

    def sampler(target: Target, password: str, timeout: float) -> dict[str, Any]:
        asked.append((target.node, password, timeout))
        if target.node == "db-1":
            return health.unreachable("OperationalError: refused", 1.0)
        return health.sample(ROWS, 1.0)

    service = config.load(
        json.dumps({"name": "s", "pods": [{"name": "db", "kind": "galera"}]}), {}, {}
    ).service
    monitor = GaleraMonitor.for_runner(runner, service, interval=None)
    monitor._sampler = sampler  # the I/O, replaced
    try:
        assert monitor.interval == galera_monitor.DEFAULT_INTERVAL
        monitor.poll_once()
        assert sorted(asked) == [
            ("db-0", "pw", galera_monitor.TIMEOUT),
            ("db-1", "pw", galera_monitor.TIMEOUT),
        ]
        samples = monitor.samples()
        assert samples["db"]["db-0"]["wsrep_local_state_comment"] == "Synced"
        assert (
            samples["db"]["db-0"]["address"] == "10.0.0.1:31000"
            and samples["db"]["db-0"]["user"] == "wordpress"
        )
        assert samples["db"]["db-1"]["reachable"] is False
        runner.secrets.clear()  # a core that has not loaded its secrets: nothing is sent
        monitor.poll_once()
        assert (
            len(asked) == 2
            and "secret galera-app-password not loaded" in monitor.samples()["db"]["db-0"]["error"]
        )
        runner.is_leader = False
        monitor.poll_once()
        assert monitor.samples() == {} and len(asked) == 2
    finally:
        monitor.stop()


def test_a_broken_snapshot_gives_an_empty_round_not_a_dead_thread() -> None:
    def boom() -> list[Target]:
        raise KeyError("nodes")

    monitor = GaleraMonitor(boom, lambda _: "pw", interval=1.0)
    try:
        monitor.poll_once()
        assert monitor.samples() == {}
    finally:
        monitor.stop()


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("0", 0.0), ("2.5", 2.5)])
def test_the_interval_setting(raw: str | None, expected: float | None) -> None:
    from mesopress import settings

    section = {} if raw is None else {"galera_monitor_interval": raw}
    built, errors = settings.build({}, {}, section)
    assert errors == [] and built.galera_monitor_interval == expected


def test_a_negative_interval_is_refused_with_the_fix() -> None:
    from mesopress import settings

    _, errors = settings.build({}, {"MESOPRESS_GALERA_MONITOR_INTERVAL": "-1"}, {})
    assert errors == ["galera_monitor_interval: must be seconds >= 0, e.g. 5 (0 turns the monitor off)"]
