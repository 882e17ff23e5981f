"""Master contender: announce the localmesos master in ZooKeeper exactly as a Mesos master does.

Why this module exists: frameworks configured with ``zk://host:port/mesos`` (pymesos' MasterDetector,
mesopress in production) find the leading master by listing ``<path>`` and reading the child with the
smallest sequence number (facts §4.1, §5.6). A Mesos master creates an **ephemeral sequential** znode
``<path>/json.info_NNNNNNNNNN`` holding its JSON ``MasterInfo``; we do the same, re-create it when the
ZooKeeper session is lost and comes back (ephemeral nodes die with the session), and delete it on stop so
detectors see "no master" at once instead of after the session timeout.

Only this module (and the cluster wiring) touches kazoo.
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Any

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import NoNodeError

log = logging.getLogger("localmesos.zk")

NODE_PREFIX = "json.info_"


class ZkUrlError(ValueError):
    """A --zk URL we cannot use; the message says how to write it."""


@dataclass(frozen=True)
class ZkUrl:
    hosts: str  # "127.0.0.1:2181,127.0.0.1:2182"
    path: str  # "/mesos"

    def __str__(self) -> str:
        return f"zk://{self.hosts}{self.path}"


def parse_zk_url(url: str) -> ZkUrl:
    """Parse ``zk://host:port[,host:port...]/path``."""
    if not url.startswith("zk://"):
        raise ZkUrlError(
            f"{url!r}: expected zk://HOST:PORT[,HOST:PORT...]/PATH, e.g. zk://127.0.0.1:2181/mesos"
        )
    rest = url[len("zk://") :]
    hosts, slash, path = rest.partition("/")
    if "@" in hosts:
        raise ZkUrlError(f"{url!r}: credentials in zk:// URLs are not supported by localmesos")
    if not hosts or not slash or not path.strip("/"):
        raise ZkUrlError(f"{url!r}: expected zk://HOST:PORT[,HOST:PORT...]/PATH with a non-root PATH")
    for host in hosts.split(","):
        name, colon, port = host.rpartition(":")
        if not colon or not name or not port.isdigit():
            raise ZkUrlError(f"{url!r}: {host!r} is not HOST:PORT")
    return ZkUrl(hosts=hosts, path="/" + path.strip("/"))


def ip_as_uint32(ip: str) -> int:
    """MasterInfo.ip: IPv4 in network byte order read as a native uint32 (127.0.0.1 -> 16777343)."""
    return int(struct.unpack("=I", socket.inet_aton(ip))[0])


def master_info(master_id: str, ip: str, port: int, hostname: str, version: str = "1.11.0") -> dict[str, Any]:
    """A Mesos-style MasterInfo JSON dict (what Mesos writes into json.info_ znodes)."""
    return {
        "id": master_id,
        "ip": ip_as_uint32(ip),
        "port": port,
        "pid": f"master@{ip}:{port}",
        "hostname": hostname,
        "version": version,
        "address": {"hostname": hostname, "ip": ip, "port": port},
        "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}, {"type": "QUOTA_V2"}],
    }


class MasterContender:
    """Keeps one ephemeral sequential ``json.info_`` znode with ``info`` alive while started."""

    def __init__(self, url: str | ZkUrl, info: dict[str, Any], timeout: float = 10.0) -> None:
        self.url = url if isinstance(url, ZkUrl) else parse_zk_url(url)
        self._info = dict(info)
        self._timeout = timeout
        self._client: KazooClient | None = None
        self._node: str | None = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._session_lost = False
        self._reregistrations = 0

    @property
    def node(self) -> str | None:
        """Full path of our znode, e.g. '/mesos/json.info_0000000003' (None when not registered)."""
        with self._lock:
            return self._node

    @property
    def client_id(self) -> tuple[int, bytes] | None:
        """(session id, password) of our ZooKeeper session (tests use it to expire the session)."""
        client = self._client
        return None if client is None else client.client_id

    @property
    def reregistrations(self) -> int:
        """How many times the znode was re-created after a session loss."""
        return self._reregistrations

    def start(self) -> None:
        client = KazooClient(hosts=self.url.hosts, timeout=self._timeout)
        client.add_listener(self._on_state)
        client.start(timeout=self._timeout)
        self._client = client
        self._register()

    def _register(self) -> None:
        client = self._client
        if client is None or self._stopped.is_set():
            return
        client.ensure_path(self.url.path)
        data = json.dumps(self._info).encode("utf-8")
        node = client.create(f"{self.url.path}/{NODE_PREFIX}", data, ephemeral=True, sequence=True)
        with self._lock:
            self._node = node
        log.info("master %s announced in ZooKeeper as %s", self._info.get("id"), node)

    def update(self, info: dict[str, Any]) -> None:
        """Replace the announced MasterInfo (e.g. after a master restart with a new id)."""
        self._info = dict(info)
        node, client = self.node, self._client
        if node is None or client is None:
            return
        try:
            client.set(node, json.dumps(self._info).encode("utf-8"))
        except NoNodeError:
            self._register()

    def _on_state(self, state: str) -> None:
        # Runs on kazoo's event thread: never block here.
        if self._stopped.is_set():
            return
        if state == KazooState.LOST:
            with self._lock:
                self._session_lost = True
                self._node = None
            log.warning("ZooKeeper session lost; the master's znode is gone until the session comes back")
        elif state == KazooState.CONNECTED:
            with self._lock:
                lost, self._session_lost = self._session_lost, False
            if lost and not self._stopped.is_set():
                threading.Thread(
                    target=self._reregister, name="localmesos-zk-reregister", daemon=True
                ).start()

    def _reregister(self) -> None:
        try:
            self._register()
            self._reregistrations += 1
        except Exception:
            log.exception("could not re-create the master's znode after a ZooKeeper session loss")

    def stop(self) -> None:
        """Delete our znode and close the ZooKeeper session."""
        self._stopped.set()
        client, self._client = self._client, None
        if client is None:
            return
        node = self.node
        with self._lock:
            self._node = None
        try:
            if node is not None and client.connected:
                client.delete(node)
        except Exception:
            log.debug("could not delete %s (the session end removes it anyway)", node, exc_info=True)
        try:
            client.stop()
        finally:
            client.close()
