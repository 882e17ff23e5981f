"""The real ZooKeeper helper: it serves, keeps data across a restart on the same directory, stops."""

from __future__ import annotations

from pathlib import Path

from kazoo.client import KazooClient

from localmesos.zkserver import ZooKeeperServer, four_letter_word


def _client(hosts: str) -> KazooClient:
    client = KazooClient(hosts=hosts, timeout=10)
    client.start(timeout=15)
    return client


def test_shared_server_serves_reads_and_writes(zk_hosts_chroot: str) -> None:
    client = _client(zk_hosts_chroot)
    try:
        client.create("/hello", b"world")
        assert client.get("/hello")[0] == b"world"
    finally:
        client.stop()
        client.close()


def test_private_server_keeps_data_across_restart_and_stops_cleanly(tmp_path: Path) -> None:
    server = ZooKeeperServer(tmp_path / "zk")
    with server:
        assert four_letter_word(server.host, server.port, "ruok") == "imok"
        client = _client(server.hosts)
        client.create("/kept", b"1")
        client.stop()
        client.close()
        pid_alive = server.running
    assert pid_alive
    assert not server.running
    assert four_letter_word(server.host, server.port, "ruok") == ""
    with server:
        client = _client(server.hosts)
        assert client.get("/kept")[0] == b"1"
        client.stop()
        client.close()
