"""Shared fixtures: one real ZooKeeper server per test run, a private chroot per test.

Tests that start servers use free loopback ports and temporary directories and stop what they start.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from localmesos.zkserver import ZooKeeperServer


@pytest.fixture(scope="session")
def zk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeperServer]:
    """The Debian ZooKeeper, started once for the whole test run on a free 127.0.0.1 port."""
    server = ZooKeeperServer(tmp_path_factory.mktemp("zookeeper"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def zk_chroot(zk_server: ZooKeeperServer) -> Iterator[str]:
    """A fresh, existing znode path like '/test-3f2a...' private to one test; deleted afterwards."""
    from kazoo.client import KazooClient

    path = f"/test-{uuid.uuid4().hex[:12]}"
    client = KazooClient(hosts=zk_server.hosts, timeout=10)
    client.start(timeout=15)
    try:
        client.ensure_path(path)
        yield path
        client.delete(path, recursive=True)
    finally:
        client.stop()
        client.close()


@pytest.fixture
def zk_hosts_chroot(zk_server: ZooKeeperServer, zk_chroot: str) -> str:
    """A kazoo hosts string with the test's chroot, e.g. '127.0.0.1:PORT/test-3f2a...'."""
    return f"{zk_server.hosts}{zk_chroot}"
