"""Leader election on a real ZooKeeper: one leader among three, takeover, fencing, SUSPENDED and LOST.

Faults are real: a scheduler process killed with SIGKILL, a session closed on the server by a twin client
(kazoo's old harness trick), a network partition made by a blackholing TCP proxy between one scheduler and
ZooKeeper, and a private ZooKeeper server stopped and restarted. Every wait is a condition with a timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient

from localmesos.zkserver import ZooKeeperServer
from mesopress.adapters import zkstore
from mesopress.adapters.election import Leadership
from mesopress.adapters.zkstore import ZkPersister
from mesopress.state.persister import Fence, Fenced, Put
from mesopress.state.store import StateStore
from support.blackhole import Blackhole
from support.waiting import eventually

ROOT = "/mesopress/test"
CREDENTIALS = ("mesopress", "s3cret")
SESSION = 4.0  # seconds: the test servers tick every 500 ms, so sessions of 1-10 s are allowed


class Journal:
    """What every scheduler reported, in the order the reports happened."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, Any]] = []
        self._lock = threading.Lock()

    def add(self, who: str, what: str, detail: Any) -> None:
        with self._lock:
            self.entries.append((who, what, detail))

    def index(self, who: str, what: str, detail: Any = None) -> int:
        with self._lock:
            for i, (w, k, d) in enumerate(self.entries):
                if w == who and k == what and detail in (None, d):
                    return i
        return -1

    def kinds(self, who: str) -> list[Any]:
        with self._lock:
            return [(k, d if k == "deposed" else "fence") for w, k, d in self.entries if w == who]


class Scheduler:
    """The part of a scheduler process that elections concern: a client, a store, a Leadership."""

    def __init__(self, hosts: str, identity: str, journal: Journal, session: float = SESSION) -> None:
        self.identity = identity
        self.journal = journal
        self.client = zkstore.connect(hosts, timeout=session, credentials=CREDENTIALS)
        self.persister = ZkPersister(self.client, ROOT, credentials=CREDENTIALS, timeout=5.0)
        self.store = StateStore(self.persister)
        self.fences: list[Fence] = []
        self.closed = False
        self.leadership = Leadership(self.client, self.persister, identity, self._elected, self._deposed)

    def _elected(self, fence: Fence) -> None:
        self.store.bind(fence)
        self.fences.append(fence)
        self.journal.add(self.identity, "elected", fence)

    def _deposed(self, reason: str) -> None:
        self.store.unbind()
        self.journal.add(self.identity, "deposed", reason)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.leadership.stop()
            self.client.stop()
            self.client.close()


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def schedulers(journal: Journal) -> Iterator[Callable[..., Scheduler]]:
    """Start schedulers on given hosts; stop them all and delete the service root afterwards."""
    started: list[Scheduler] = []

    def start(hosts: str, identity: str, session: float = SESSION) -> Scheduler:
        started.append(Scheduler(hosts, identity, journal, session))
        started[-1].leadership.start()
        return started[-1]

    yield start
    for scheduler in started:  # no secrets are written here, so the chroot fixture can delete the rest
        scheduler.close()


def expire_session(client: KazooClient, hosts: str) -> None:
    """End `client`'s session on the server: a twin joins the session, then closes it."""
    twin = KazooClient(hosts=hosts, client_id=client.client_id, timeout=SESSION)
    twin.start(timeout=10)
    twin.stop()  # closeSession: the server deletes the session's ephemeral nodes
    twin.close()


def leaders(*nodes: Scheduler) -> list[Scheduler]:
    return [node for node in nodes if leading(node)]


def leading(node: Scheduler) -> bool:
    """The node leads and has reported it (is_leader turns true just before the callback runs)."""
    reports = node.journal.kinds(node.identity)
    return node.leadership.is_leader and bool(reports) and reports[-1] == ("elected", "fence")


def sole_leader(*nodes: Scheduler) -> Scheduler | None:
    found = leaders(*nodes)
    return found[0] if len(found) == 1 else None


@pytest.fixture
def blackhole(zk_server: ZooKeeperServer) -> Iterator[Blackhole]:
    proxy = Blackhole(zk_server.hosts)
    yield proxy
    proxy.close()


def test_three_contenders_elect_exactly_one_leader_and_hand_over_cleanly(
    zk_hosts_chroot: str, schedulers: Callable[..., Scheduler], journal: Journal
) -> None:
    nodes = [schedulers(zk_hosts_chroot, f"10.0.0.{i}:8080") for i in (1, 2, 3)]
    leader = eventually(lambda: sole_leader(*nodes), message=lambda: str(journal.entries))
    eventually(lambda: sorted(nodes[0].leadership.contenders()) == sorted(n.identity for n in nodes))
    for node in nodes:
        eventually(lambda node=node: node.leadership.current_leader() == leader.identity)
    assert [who for who, what, _ in journal.entries if what == "elected"] == [leader.identity]
    leader.store.set_framework_id("M-0000")

    leader.leadership.stop()
    rest = [node for node in nodes if node is not leader]
    successor = eventually(lambda: sole_leader(*rest), message=lambda: str(journal.entries))
    assert journal.index(leader.identity, "deposed", "stopped") < journal.index(successor.identity, "elected")
    assert successor.fences[0].epoch > leader.fences[0].epoch
    assert successor.store.framework_id() == "M-0000"
    with pytest.raises(Fenced):
        leader.persister.apply([Put("framework-id", b'"stale"')], leader.fences[0])
    for node in rest:
        node.leadership.stop()
    assert successor.leadership.current_leader() is None  # nobody holds the epoch any more
    assert successor.store.leader_info()["leader"] == successor.identity  # the last one that did


def test_a_standby_takes_over_when_the_leader_session_expires(
    zk_hosts_chroot: str, schedulers: Callable[..., Scheduler], journal: Journal
) -> None:
    old = schedulers(zk_hosts_chroot, "old:1")
    eventually(lambda: leading(old))
    new = schedulers(zk_hosts_chroot, "new:1")
    eventually(lambda: len(old.leadership.contenders()) == 2)
    stale = old.fences[0]

    expire_session(old.client, zk_hosts_chroot)

    eventually(lambda: leading(new), message=lambda: str(journal.entries))
    with pytest.raises(Fenced):
        old.persister.apply([Put("framework-id", b'"stale"')], stale)
    new.store.set_framework_id("M-new")
    eventually(
        lambda: journal.index(old.identity, "deposed", "lost") >= 0, message=lambda: str(journal.entries)
    )
    eventually(lambda: old.leadership.contenders() == ["new:1", "old:1"])  # it contends again
    assert not old.leadership.is_leader and old.store.framework_id() == "M-new"


def test_a_lone_leader_whose_session_expired_contends_again_and_leads_at_a_new_epoch(
    zk_hosts_chroot: str, schedulers: Callable[..., Scheduler], journal: Journal
) -> None:
    lone = schedulers(zk_hosts_chroot, "lone:1")
    eventually(lambda: leading(lone))
    expire_session(lone.client, zk_hosts_chroot)
    eventually(lambda: len(lone.fences) == 2 and leading(lone), message=lambda: str(journal.entries))
    reports = [kind for kind in journal.kinds("lone:1") if kind != ("deposed", "suspended")]  # may come first
    assert reports == [("elected", "fence"), ("deposed", "lost"), ("elected", "fence")]
    assert lone.fences[1].epoch > lone.fences[0].epoch and lone.fences[1].holder != lone.fences[0].holder
    lone.store.set_framework_id("M-0000")
    with pytest.raises(Fenced):
        lone.persister.apply([Put("framework-id", b'"stale"')], lone.fences[0])


CRASHING_SCHEDULER = """
import sys, threading
from mesopress.adapters import zkstore
from mesopress.adapters.election import Leadership
client = zkstore.connect(sys.argv[1], timeout=float(sys.argv[2]), credentials=("mesopress", "s3cret"))
persister = zkstore.ZkPersister(client, sys.argv[3], credentials=("mesopress", "s3cret"))
Leadership(client, persister, "crashing:1", lambda fence: None, lambda reason: None).start()
threading.Event().wait()
"""


def test_a_standby_takes_over_after_the_leader_process_is_killed(
    zk_hosts_chroot: str, schedulers: Callable[..., Scheduler], journal: Journal
) -> None:
    framework = str(Path(zkstore.__file__).parents[2])
    args = [sys.executable, "-c", CRASHING_SCHEDULER, zk_hosts_chroot, str(SESSION), ROOT]
    crashing = subprocess.Popen(args, env={**os.environ, "PYTHONPATH": framework}, stdin=subprocess.DEVNULL)
    observer = Scheduler(zk_hosts_chroot, "observer:1", journal)  # reads, never contends
    try:
        eventually(lambda: observer.leadership.current_leader() == "crashing:1", timeout=30)
        standby = schedulers(zk_hosts_chroot, "standby:1")
        eventually(lambda: len(observer.leadership.contenders()) == 2)
        info = standby.store.leader_info() or {}
        stale = Fence(standby.persister.epoch(), info["holder"])
        crashing.kill()  # SIGKILL: no goodbye to ZooKeeper, the session ends by timeout
    finally:
        crashing.kill()
        crashing.wait()
        observer.close()
    eventually(lambda: leading(standby), timeout=4 * SESSION + 10, message=lambda: str(journal.entries))
    with pytest.raises(Fenced):
        standby.persister.apply([Put("framework-id", b'"stale"')], stale)
    standby.store.set_framework_id("M-0000")


def test_a_partitioned_leader_is_deposed_before_its_successor_acts(
    zk_server: ZooKeeperServer,
    zk_chroot: str,
    zk_hosts_chroot: str,
    blackhole: Blackhole,
    schedulers: Callable[..., Scheduler],
    journal: Journal,
) -> None:
    old = schedulers(f"127.0.0.1:{blackhole.port}{zk_chroot}", "old:1")
    eventually(lambda: leading(old))
    new = schedulers(zk_hosts_chroot, "new:1")
    eventually(lambda: len(new.leadership.contenders()) == 2)

    blackhole.cut.set()
    eventually(lambda: leading(new), timeout=4 * SESSION + 10, message=lambda: str(journal.entries))
    assert 0 <= journal.index(old.identity, "deposed", "suspended") < journal.index(new.identity, "elected")
    with pytest.raises(Fenced):
        new.persister.apply([Put("framework-id", b'"stale"')], old.fences[0])

    blackhole.cut.clear()
    eventually(lambda: journal.index(old.identity, "deposed", "lost") >= 0, timeout=4 * SESSION + 10)
    eventually(lambda: old.leadership.contenders() == ["new:1", "old:1"])
    assert old.leadership.current_leader() == "new:1"


def test_a_suspended_leader_stops_acting_and_resumes_when_zookeeper_returns(
    tmp_path: Path, schedulers: Callable[..., Scheduler], journal: Journal
) -> None:
    with ZooKeeperServer(tmp_path / "zk") as server:
        leader = schedulers(server.hosts, "a:1", session=10.0)
        eventually(lambda: leading(leader))
        standby = schedulers(server.hosts, "b:1", session=10.0)
        eventually(lambda: len(standby.leadership.contenders()) == 2)
        leader.store.set_framework_id("M-0000")

        server.stop()
        eventually(lambda: journal.kinds("a:1") == [("elected", "fence"), ("deposed", "suspended")])
        with pytest.raises(Fenced, match="not the leader"):
            leader.store.set_framework_id("M-while-suspended")
        server.start()

        eventually(lambda: leading(leader), timeout=30, message=lambda: str(journal.entries))
        assert leader.fences == [leader.fences[0]] * 2  # same session, same epoch: the lead resumed
        leader.store.set_framework_id("M-0001")
        assert journal.kinds("b:1") == [] and standby.store.framework_id() == "M-0001"
        for node in (standby, leader):  # while the server still runs
            node.close()
