"""The leader's live view of every Galera node: wsrep state, cluster status and size, seqno, state uuid.

Why this module exists: the core only knows a node's Mesos status (READY = its readiness check passed)
and, during a full-crash recovery, the positions the nodes reported. An operator also needs the live
Galera state of every node (Synced, Donor, Joining; Primary or not; the seqno each one has committed) to
see a node falling behind, a split, or a stuck state transfer. This adapter asks each node every
`interval` seconds (`SHOW GLOBAL STATUS LIKE 'wsrep_%'`, which needs no privilege) and keeps the last
sample per node for `/v1/galera` (merged by `http.galera_view`).

- It runs on its own thread and reads the core only through the runner's published snapshot (a new
  dict after every event, never mutated) and `Runner.secret` (a dict read): it never enters the loop
  thread, so a dead or slow node never delays the scheduler. Nodes are asked in parallel, each with a
  short timeout (`TIMEOUT`), so one dead node does not delay the others' samples either.
- Only the leader polls (a standby redirects /v1/galera to the leader); a standby keeps no samples.
- Which nodes: those holding resources (a footprint with a hostname and a `sql` port), at their
  current address.
- Which MySQL user: the pod's application user (`galera.app_user`, default `wordpress`) with the
  `galera-app-password` secret. It is the only account the node program creates that may log in over
  TCP from another host (root and the state-transfer user are `@localhost`), it exists on every cluster
  ever deployed, and the scheduler already holds its password. A dedicated no-privilege `monitor` user
  would be narrower but would only appear on a running cluster once a Primary node creates it at some
  later start; see docs/galera.md "Trade-offs". The password is never logged and is scrubbed from
  error texts (`health.scrub`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pymysql

from mesopress.galera import health

log = logging.getLogger(__name__)
DEFAULT_INTERVAL = 5.0  # seconds between two rounds; the `galera_monitor_interval` setting overrides it
TIMEOUT = 2.0  # seconds to connect, and to read or write, per node
WORKERS = 8
QUERY = "SHOW GLOBAL STATUS LIKE 'wsrep_%'"


@dataclasses.dataclass(frozen=True)
class Target:
    """One node to ask: where it listens for SQL and which secret holds its login's password."""

    pod: str
    node: str
    host: str
    port: int
    user: str
    secret: str  # the secret's name (e.g. galera-app-password), never its value

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


Sampler = Callable[[Target, str, float], dict[str, Any]]


def targets(galera_view: Mapping[str, Any], logins: Mapping[str, tuple[str, str]]) -> list[Target]:
    """Every node of `galera_view` (the snapshot's /v1/galera) that holds resources, with the login of
    its pod from `logins` (pod -> (user, secret name)); pods without a login are skipped."""
    out = []
    for pod, entry in sorted(galera_view.items()):
        nodes = entry.get("nodes") if isinstance(entry, Mapping) else None
        if pod not in logins or not isinstance(nodes, Mapping):
            continue
        user, secret = logins[pod]
        for name, node in sorted(nodes.items()):
            host, port = node.get("hostname"), (node.get("ports") or {}).get("sql")
            if host and isinstance(port, int):
                out.append(Target(pod, name, str(host), port, user, secret))
    return out


def logins(service: Any) -> dict[str, tuple[str, str]]:
    """pod name -> (application user, its secret's name) for every `kind: galera` pod of `service`."""
    from mesopress.kinds import galera

    out = {}
    for pod in service.pods:
        if pod.kind == "galera":
            settings = dict(galera.SETTINGS) | dict(json.loads(pod.kind_settings or "{}"))
            out[pod.name] = (str(settings["app_user"]), galera.APP_SECRET)
    return out


def sample_node(target: Target, password: str, timeout: float = TIMEOUT) -> dict[str, Any]:
    """Ask one node for its wsrep status; any failure is an `unreachable` sample, never an exception."""
    try:
        conn = pymysql.connect(
            host=target.host, port=target.port, user=target.user, password=password, ssl_disabled=True,
            connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout, autocommit=True,
        )  # fmt: skip
        try:
            with conn.cursor() as cursor:
                cursor.execute(QUERY)
                rows = cursor.fetchall()
        finally:
            conn.close()
    except Exception as err:  # pymysql.Error, OSError, a protocol error: the node is not answering
        return health.unreachable(health.scrub(f"{type(err).__name__}: {err}", password), time.time())
    return health.sample(rows, time.time())


class GaleraMonitor:
    """Polls `targets_of()` every `interval` s on a daemon thread; `samples()` is the last round."""

    def __init__(
        self,
        targets_of: Callable[[], list[Target]],
        secret: Callable[[str], str | None],
        interval: float = DEFAULT_INTERVAL,
        timeout: float = TIMEOUT,
        sampler: Sampler = sample_node,
    ) -> None:
        self._targets_of = targets_of
        self._secret = secret
        self.interval = interval
        self.timeout = timeout
        self._sampler = sampler
        self._lock = threading.Lock()
        self._samples: dict[str, dict[str, dict[str, Any]]] = {}
        self._stopping = threading.Event()
        self._pool = concurrent.futures.ThreadPoolExecutor(WORKERS, thread_name_prefix="galera monitor")
        self._thread = threading.Thread(target=self._loop, name="galera monitor", daemon=True)
        self._unreachable: set[str] = set()

    @classmethod
    def for_runner(cls, runner: Any, service: Any, interval: float | None) -> GaleraMonitor:
        """The monitor of a scheduler process: the leader's snapshot, its secrets, the service's logins."""
        pods = logins(service)

        def targets_of() -> list[Target]:
            return targets(runner.snapshot.get("galera") or {}, pods) if runner.is_leader else []

        return cls(targets_of, runner.secret, DEFAULT_INTERVAL if interval is None else interval)

    def start(self) -> GaleraMonitor:
        if self.interval > 0:
            self._thread.start()
            log.info("galera monitor: every %gs, %gs timeout per node", self.interval, self.timeout)
        else:
            log.info("galera monitor off (galera_monitor_interval is 0)")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def samples(self) -> dict[str, dict[str, dict[str, Any]]]:
        """pod -> node -> its last sample (copies; a node no longer holding resources is dropped)."""
        with self._lock:
            return {pod: {n: dict(s) for n, s in nodes.items()} for pod, nodes in self._samples.items()}

    def poll_once(self) -> None:
        """One round: every target in parallel; the samples of nodes no longer targeted are dropped."""
        try:
            found = self._targets_of()
        except Exception:  # a half-built snapshot must not end the thread
            log.exception("galera monitor: error listing the nodes")
            found = []
        futures = {t: self._pool.submit(self._ask, t) for t in found}
        round_: dict[str, dict[str, dict[str, Any]]] = {}
        for target, future in futures.items():
            round_.setdefault(target.pod, {})[target.node] = future.result()
        with self._lock:
            self._samples = round_
        self._explain(round_)

    def _ask(self, target: Target) -> dict[str, Any]:
        password = self._secret(target.secret)
        if password is None:
            sample = health.unreachable(f"not asked: secret {target.secret} not loaded yet", time.time())
        else:
            sample = self._sampler(target, password, self.timeout)
        return sample | {"address": target.address, "user": target.user}

    def _explain(self, round_: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Log when a node becomes unreachable or answers again (not at every round)."""
        down = {f"{p}/{n}" for p, nodes in round_.items() for n, s in nodes.items() if not s["reachable"]}
        for key in sorted(down - self._unreachable):
            pod, node = key.split("/", 1)
            log.warning("galera monitor: %s unreachable: %s", node, round_[pod][node]["error"])
        for key in sorted(self._unreachable - down):
            log.info("galera monitor: %s answers again (or is no longer monitored)", key.split("/", 1)[1])
        self._unreachable = down

    def _loop(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            self.poll_once()
            if self._stopping.wait(max(0.0, self.interval - (time.monotonic() - started))):
                return
