"""The scheduler's Galera monitor against a REAL mariadbd started by the node program (no Mesos).

One node bootstrapped by `galera_node run` (the harness of test_galera_node.py: sandbox, secrets,
users created by the program itself, run as `mysql`), so the monitor logs in exactly as it will in the
scheduler: over TCP as the application user the program created. Shown: the monitor's thread reports the
node Synced/Primary with a seqno that grows after a write; a refused port, a port that accepts but never
speaks (a hung server) and a wrong password each give an `unreachable` sample with the error text and no
password in it, without stopping the other samples; /v1/galera merges the samples per node.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import test_galera_node as harness

from mesopress.adapters.galera_monitor import GaleraMonitor, Target
from mesopress.http import routes
from support.waiting import eventually

pytestmark = harness.pytestmark
WRONG = "not-the-app-password-9f3c"
SECRETS = {"galera-app-password": harness.SECRETS["app"], "wrong": WRONG}


@pytest.fixture
def node() -> Iterator[harness.Node]:
    made = harness.Cluster(1)
    try:
        made.deploy()
        yield made.nodes[0]
    finally:
        made.destroy()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose server accepts connections (the kernel's backlog) and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def live(monitor: GaleraMonitor, name: str) -> dict[str, Any] | None:
    return monitor.samples().get("db", {}).get(name)


class View:
    """The routes' view of a leader whose snapshot holds the core's Galera view of `nodes`."""

    def __init__(self, nodes: dict[str, dict[str, Any]], monitor: GaleraMonitor) -> None:
        pod = {"size": 3, "nodes": nodes, "bootstrapped": None, "recovery": None}
        self.snapshot = {"galera": {"db": pod}}
        self.is_leader = True
        self.galera_samples = monitor.samples

    def status(self) -> dict[str, Any]:
        return {"leader": "me", "role": "leader"}


def test_monitor_reports_synced_primary_a_growing_seqno_and_unreachable_nodes(
    node: harness.Node, silent_port: int
) -> None:
    refused = harness.free_ports(1)[0]
    sql = node.ports.sql
    targets = [
        Target("db", "db-0", "127.0.0.1", sql, "app", "galera-app-password"),
        Target("db", "db-1", "127.0.0.1", refused, "app", "galera-app-password"),
        Target("db", "db-2", "127.0.0.1", silent_port, "app", "galera-app-password"),
        Target("db", "db-3", "127.0.0.1", sql, "app", "wrong"),
    ]
    monitor = GaleraMonitor(lambda: targets, SECRETS.get, interval=0.2, timeout=1.0).start()
    try:
        first = eventually(lambda: live(monitor, "db-0"), timeout=15, message="no sample of db-0")
        assert first["reachable"] is True and first["error"] is None, first
        assert first["wsrep_local_state_comment"] == "Synced" and first["wsrep_cluster_status"] == "Primary"
        assert first["wsrep_cluster_size"] == 1 and first["wsrep_ready"] == "ON" and first["ready"] is True
        assert first["wsrep_cluster_state_uuid"] and first["user"] == "app"
        before = first["wsrep_last_committed"]
        assert isinstance(before, int) and before >= 0

        conn = harness._app_connect(sql)
        try:
            with conn.cursor() as cursor:
                cursor.execute("CREATE TABLE IF NOT EXISTS app.monitored (id INT PRIMARY KEY)")
                cursor.execute("INSERT INTO app.monitored VALUES (1)")
        finally:
            conn.close()
        grown = eventually(
            lambda: (s := live(monitor, "db-0")) and s["wsrep_last_committed"] >= before + 2 and s,
            timeout=15,
            message=lambda: f"seqno did not grow from {before}: {live(monitor, 'db-0')}",
        )
        assert grown["wsrep_cluster_state_uuid"] == first["wsrep_cluster_state_uuid"]

        samples = monitor.samples()["db"]
        for name, why in (("db-1", "Can't connect"), ("db-2", "timed out"), ("db-3", "Access denied")):
            sample = samples[name]
            assert sample["reachable"] is False and sample["ready"] is False, sample
            assert why in sample["error"], sample
            assert sample["wsrep_last_committed"] is None and sample["wsrep_local_state_comment"] is None
        text = json.dumps(samples)
        assert harness.SECRETS["app"] not in text and WRONG not in text

        nodes = {
            name: {"agent_id": "a", "hostname": "127.0.0.1", "ports": {"sql": sql}, "status": "READY"}
            for name in ("db-0", "db-1", "db-4")
        }
        answer = routes.route(View(nodes, monitor), "GET", "/v1/galera")  # type: ignore[arg-type]
        merged = answer.body["db"]["nodes"]
        assert merged["db-0"]["live"]["wsrep_local_state_comment"] == "Synced"
        assert merged["db-0"]["live"]["age"] >= 0
        assert merged["db-1"]["live"]["reachable"] is False and merged["db-4"]["live"] is None
    finally:
        monitor.stop()
