"""The real pymesos 0.3.15 driver against localmesos: host:port and zk:// master URLs, a task run to
completion, master restart with re-subscription, and the ZooKeeper master znode (facts §4.1, §5).

pymesos installs a SIGINT handler when ``pymesos.process`` is imported, which Python allows only in the
main thread: the import is at module level (pytest imports test modules in the main thread). Drivers are
always stopped with ``failover=True`` so that stopping never tears the framework down.
"""

from __future__ import annotations

import getpass
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from pymesos import MesosSchedulerDriver, Scheduler

from localmesos.cluster import Cluster
from localmesos.zkserver import ZooKeeperServer
from support.waiting import wait_for

TIMEOUT = 30.0


class RecordingScheduler(Scheduler):
    """Records every callback; launches the given tasks on the first offer that fits, declines the rest."""

    def __init__(self, tasks: list[dict[str, Any]] | None = None) -> None:
        self.events: list[tuple[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.to_launch = list(tasks or [])
        self._lock = threading.Lock()

    def _record(self, name: str, payload: Any = None) -> None:
        with self._lock:
            self.events.append((name, payload))

    def names(self) -> list[str]:
        with self._lock:
            return [name for name, _ in self.events]

    def count(self, name: str) -> int:
        return self.names().count(name)

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        self._record("registered", framework_id)

    def reregistered(self, driver: Any, master_info: Any) -> None:
        self._record("reregistered", master_info)

    def disconnected(self, driver: Any) -> None:
        self._record("disconnected")

    def processHeartBeat(self, driver: Any) -> None:  # noqa: N802 - pymesos callback name
        self._record("heartbeat")

    def resourceOffers(self, driver: Any, offers: list[dict[str, Any]]) -> None:  # noqa: N802
        self._record("offers", offers)
        for offer in offers:
            if self.to_launch:
                tasks = [dict(t, agent_id=offer["agent_id"]) for t in self.to_launch]
                self.to_launch = []
                driver.launchTasks(offer["id"], tasks)
            else:
                driver.declineOffer(offer["id"], {"refuse_seconds": 0.5})

    def statusUpdate(self, driver: Any, status: dict[str, Any]) -> None:  # noqa: N802
        self._record("status", status)
        with self._lock:
            self.statuses.append(status)

    def states(self, task_id: str) -> list[str]:
        with self._lock:
            return [s["state"] for s in self.statuses if s["task_id"]["value"] == task_id]

    def error(self, driver: Any, message: str) -> None:
        self._record("error", message)


def command_task(task_id: str, command: str) -> dict[str, Any]:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32.0}},
        ],
        "command": {"shell": True, "value": command},
    }


FRAMEWORK = {"user": getpass.getuser(), "name": "pymesos-test", "failover_timeout": 300.0}


def make_cluster(work_dir: Path, **kwargs: Any) -> Cluster:
    options: dict[str, Any] = {"agents": 1, "port": 0, "allocation_interval": 0.2, "heartbeat_interval": 0.5}
    options.update(kwargs)
    return Cluster(work_dir, **options)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = make_cluster(tmp_path / "lm").start()
    try:
        yield c
    finally:
        c.stop()


class Driver:
    """Start a pymesos driver; always stopped with failover=True (never TEARDOWN)."""

    def __init__(self, sched: Scheduler, master: str, framework: dict[str, Any] | None = None) -> None:
        self.driver = MesosSchedulerDriver(sched, dict(framework or FRAMEWORK), master, failover=True)

    def __enter__(self) -> MesosSchedulerDriver:
        self.driver.start()
        return self.driver

    def __exit__(self, *exc: object) -> None:
        detector = self.driver.detector
        self.driver.stop(failover=True)
        self.driver.join()
        if detector is not None:
            # pymesos' MasterDetector.stop() never closes its kazoo client (leaks a socket pair)
            detector.zk.close()


def test_driver_registers_gets_heartbeats_and_runs_a_task(cluster: Cluster) -> None:
    sched = RecordingScheduler([command_task("hello-1", "echo hello")])
    with Driver(sched, cluster.master_url) as driver:
        wait_for(lambda: sched.count("registered") == 1, what="registered")
        assert driver.framework_id
        wait_for(lambda: sched.count("heartbeat") >= 2, what="heartbeats")
        wait_for(lambda: "TASK_FINISHED" in sched.states("hello-1"), what="TASK_FINISHED")
        states = sched.states("hello-1")
        assert "TASK_RUNNING" in states
        assert states.index("TASK_RUNNING") < states.index("TASK_FINISHED")
        finished = next(s for s in sched.statuses if s["state"] == "TASK_FINISHED")
        assert finished["agent_id"]["value"] == cluster.agent("agent-0").agent_id
        assert "uuid" in finished
    assert "error" not in sched.names()


def test_driver_resubscribes_after_master_restart(cluster: Cluster) -> None:
    sched = RecordingScheduler()
    with Driver(sched, cluster.master_url) as driver:
        wait_for(lambda: sched.count("offers") >= 1, what="first offers")
        framework_id = driver.framework_id
        cluster.restart_master()
        wait_for(lambda: sched.count("reregistered") >= 1, what="re-subscription")
        assert driver.framework_id == framework_id
        assert "disconnected" in sched.names()
        offers_before = sched.count("offers")
        wait_for(lambda: sched.count("offers") > offers_before, what="offers from the new master")
        state = cluster.master.state()
        assert [f["id"] for f in state["frameworks"]] == [framework_id]
    assert "error" not in sched.names()


# --- ZooKeeper ------------------------------------------------------------------------------------


@pytest.fixture
def zk_cluster(tmp_path: Path, zk_hosts_chroot: str) -> Iterator[Cluster]:
    c = make_cluster(tmp_path / "lm", zk=f"zk://{zk_hosts_chroot}/mesos").start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def kazoo(zk_hosts_chroot: str) -> Iterator[KazooClient]:
    client = KazooClient(hosts=zk_hosts_chroot, timeout=10)
    client.start(timeout=15)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def test_master_znode_is_json_master_info(zk_cluster: Cluster, kazoo: KazooClient) -> None:
    children = kazoo.get_children("/mesos")
    assert len(children) == 1
    assert children[0].startswith("json.info_") and len(children[0]) == len("json.info_") + 10
    info = json.loads(kazoo.get(f"/mesos/{children[0]}")[0])
    port = int(zk_cluster.master_url.rsplit(":", 1)[1])
    assert info["address"] == {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": port}
    assert info["ip"] == 16777343
    assert info["port"] == port
    assert info["pid"] == f"master@127.0.0.1:{port}"
    assert info["version"] == "1.11.0"
    assert info["id"] == zk_cluster.master.info["id"]
    assert kazoo.exists(f"/mesos/{children[0]}").ephemeralOwner != 0
    zk_cluster.restart_master()
    restarted = json.loads(kazoo.get(f"/mesos/{children[0]}")[0])
    assert restarted["id"] == zk_cluster.master.info["id"] != info["id"]
    zk_cluster.stop()
    assert kazoo.get_children("/mesos") == []


def test_driver_finds_the_master_through_zookeeper(zk_cluster: Cluster, zk_hosts_chroot: str) -> None:
    sched = RecordingScheduler()
    with Driver(sched, f"zk://{zk_hosts_chroot}/mesos") as driver:
        wait_for(lambda: sched.count("registered") == 1, what="registered via zk://")
        wait_for(lambda: sched.count("offers") >= 1, what="offers")
        assert driver.master == zk_cluster.master_url
    assert "error" not in sched.names()


def test_znode_is_recreated_after_session_loss(
    zk_cluster: Cluster, zk_server: ZooKeeperServer, zk_hosts_chroot: str, kazoo: KazooClient
) -> None:
    contender = zk_cluster.contender
    assert contender is not None and contender.client_id is not None
    old_node = contender.node
    # Expire the contender's session the way kazoo's test harness does: a second client with the same
    # session id and password connects and closes.
    intruder = KazooClient(hosts=zk_server.hosts, client_id=contender.client_id, timeout=10)
    intruder.start(timeout=15)
    intruder.stop()
    intruder.close()
    wait_for(lambda: contender.reregistrations >= 1, what="znode re-created")
    new_node = contender.node
    assert new_node is not None and new_node != old_node
    children = wait_for(lambda: kazoo.get_children("/mesos"), what="a master znode")
    assert children == [new_node.rsplit("/", 1)[1]]


def test_driver_authenticates_with_http_basic(tmp_path: Path) -> None:
    c = make_cluster(tmp_path / "auth", agents=0, credentials={"fw": "s3cret"}).start()
    try:
        sched = RecordingScheduler()
        framework = dict(FRAMEWORK, principal="fw")
        driver = MesosSchedulerDriver(
            sched, framework, c.master_url, principal="fw", secret="s3cret", failover=True
        )
        driver.start()
        try:
            wait_for(lambda: sched.count("registered") == 1, what="authenticated registration")
        finally:
            driver.stop(failover=True)
            driver.join()
    finally:
        c.stop()
