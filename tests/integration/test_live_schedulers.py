"""The live schedulers' URLs on a real ZooKeeper: what the leader hands the proxy.

Every scheduler contends with its identity `host:port` (its election node's data); each keeps
`adapters.schedulers.LiveSchedulers` on its own client. A standby's URL is listed while its session
lives, leaves the list when its session ends (closed on the server by a twin client), comes back when
it contends again on its new session; a leader that stops leaves it and the new leader lists itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient

from localmesos.zkserver import ZooKeeperServer
from mesopress.adapters import zkstore
from mesopress.adapters.election import Leadership
from mesopress.adapters.schedulers import LiveSchedulers, url_of
from support.waiting import eventually

SESSION = 4.0


class Process:
    """The parts of a scheduler process this concerns: a client, a Leadership, a LiveSchedulers."""

    def __init__(self, hosts: str, root: str, identity: str) -> None:
        self.identity, self.url = identity, url_of(identity)
        self.client = zkstore.connect(hosts, timeout=SESSION)
        persister = zkstore.ZkPersister(self.client, root, timeout=5.0)
        self.leadership = Leadership(self.client, persister, identity, lambda _: None, lambda _: None)
        self.live = LiveSchedulers(self.client, persister.election_path).start()
        self.leadership.start()
        self.stopped = False

    def node(self, reader: KazooClient) -> str | None:
        """Our election node's path, if one exists now (read with another process' client)."""
        path = self.live.path
        for name in reader.get_children(path):
            if reader.get(f"{path}/{name}")[0].decode() == self.identity:
                return f"{path}/{name}"
        return None

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.live.stop()
            self.leadership.stop()
            self.client.stop()
            self.client.close()


def listed(process: Process) -> str:
    return f"{process.identity} lists {process.live.urls()}"


@pytest.fixture
def processes(zk_server: ZooKeeperServer, zk_chroot: str) -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()


def test_a_standbys_url_is_listed_while_its_session_lives(
    zk_server: ZooKeeperServer, zk_chroot: str, processes: list[Process]
) -> None:
    root = f"{zk_chroot}/mesopress/site"

    def start(identity: str) -> Process:
        processes.append(Process(zk_server.hosts, root, identity))
        return processes[-1]

    a = start("127.0.0.1:18001")
    eventually(lambda: a.leadership.is_leader, timeout=15, message="a leads")
    b = start("127.0.0.1:18002")
    for process in (a, b):
        eventually(lambda p=process: p.live.urls() == [a.url, b.url], timeout=15, message=lambda: listed(a))
    assert b.live.urls(first=b.url) == [b.url, a.url] and a.live.urls(first=a.url) == [a.url, b.url]

    old = b.node(a.client)
    assert old is not None
    twin = KazooClient(hosts=zk_server.hosts, client_id=b.client.client_id, timeout=SESSION)
    twin.start(timeout=10)
    twin.stop()  # closeSession: the server deletes b's election node
    twin.close()
    eventually(lambda: a.client.exists(old) is None, timeout=10, message="b's node gone with its session")
    eventually(lambda: b.node(a.client) not in (None, old), timeout=20, message="b contending again")
    eventually(lambda: a.live.urls() == [a.url, b.url], timeout=15, message=lambda: listed(a))

    c = start("127.0.0.1:18003")
    eventually(lambda: a.live.urls() == [a.url, b.url, c.url], timeout=15, message=lambda: listed(a))
    c.stop()  # a standby process that exits: its session is closed
    eventually(lambda: a.live.urls() == [a.url, b.url], timeout=15, message=lambda: listed(a))

    a.stop()  # the leader exits: b leads and lists itself alone
    eventually(lambda: b.leadership.is_leader, timeout=20, message="b leads")
    eventually(lambda: b.live.urls() == [b.url], timeout=15, message=lambda: listed(b))
