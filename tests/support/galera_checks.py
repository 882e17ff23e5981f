"""Checks on a real Galera cluster run by the scheduler: a writer, row and wsrep checks, a state sampler.

Why it exists: the Galera e2e stories (scaling, rolling restarts, crashes) all need the same things: a
writer that commits rows through the nodes clients are sent to (`/v1/endpoints`, ready and not drained)
and remembers every acknowledged id, a check that every acknowledged row is on every node, each node's
wsrep status read with SQL, and a background sampler of `/v1/pods` + `/v1/galera` so that a test can
assert what held at every moment of a change (one node away at a time, join and leave order), not only
at its end. Everything here talks to 127.0.0.1 servers with timeouts; threads stop on `__exit__`.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pymysql

from support.scheduler_stack import get

APP_USER = "wordpress"
APP_DB = "wordpress"
TABLE = "rows_e2e"


@dataclass(frozen=True)
class Target:
    """A node as a client reaches it."""

    name: str
    host: str
    port: int


def galera_pod(api: int, pod: str = "galera") -> dict[str, Any]:
    """The pod's entry of `/v1/galera` ({} while unknown or the leader does not answer)."""
    answer = get(api, "/v1/galera")
    return (answer.get(pod) or {}) if isinstance(answer, dict) else {}


def pods(api: int) -> dict[str, dict[str, Any]]:
    """`/v1/pods` by instance name ({} on an error)."""
    answer = get(api, "/v1/pods")
    return {p["instance"]: p for p in answer} if isinstance(answer, list) else {}


def targets(api: int, pod: str = "galera") -> list[Target]:
    """The nodes a client may use now: ready in `/v1/endpoints` (drained ones are left out there)."""
    answer = get(api, "/v1/endpoints")
    entries = answer.get(pod, []) if isinstance(answer, dict) else []
    return [Target(e["instance"], e["host"], e["ports"]["sql"]) for e in entries if e.get("ready")]


def node_target(name: str, node: dict[str, Any]) -> Target:
    return Target(name, node["hostname"], node["ports"]["sql"])


def secret(api: int, name: str) -> str:
    answer = get(api, f"/v1/secrets/{name}")
    if not isinstance(answer, dict) or "value" not in answer:
        raise AssertionError(f"secret {name} not readable: {answer}")
    return str(answer["value"])


def post_text(api: int, path: str, body: str, content_type: str = "application/yaml") -> tuple[int, Any]:
    """POST `body` to the scheduler at 127.0.0.1:api; (status, JSON answer or {"raw": text})."""
    url = f"http://127.0.0.1:{api}{path}"
    headers = {"Content-Type": content_type}
    req = urllib.request.Request(url, data=body.encode(), method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, {"raw": raw.decode(errors="replace")}


def connect(target: Target, password: str, timeout: float = 5) -> Any:
    return pymysql.connect(
        host=target.host,
        port=target.port,
        user=APP_USER,
        password=password,
        database=APP_DB,
        connect_timeout=timeout,
        read_timeout=10,
        write_timeout=10,
        autocommit=True,
    )


def query(target: Target, password: str, sql: str) -> list[tuple[Any, ...]]:
    conn = connect(target, password)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def wsrep(target: Target, password: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in query(target, password, "SHOW GLOBAL STATUS LIKE 'wsrep_%'")}


def variable(target: Target, password: str, name: str) -> str:
    found = query(target, password, f"SHOW VARIABLES LIKE '{name}'")
    return str(found[0][1]) if found else ""


def rows(target: Target, password: str) -> set[int]:
    return {int(r[0]) for r in query(target, password, f"SELECT id FROM {TABLE}")}


def missing_rows(nodes: list[Target], password: str, wanted: set[int]) -> dict[str, int] | None:
    """Per node, how many of `wanted` it lacks (None when a node does not answer)."""
    try:
        return {t.name: len(wanted - rows(t, password)) for t in nodes}
    except pymysql.MySQLError:
        return None


def primary_of_size(nodes: list[Target], password: str, size: int) -> dict[str, dict[str, str]] | None:
    """Each node's wsrep status when all are Synced in one Primary component of `size`, else None."""
    try:
        status = {t.name: wsrep(t, password) for t in nodes}
    except pymysql.MySQLError:
        return None
    uuids = {s.get("wsrep_cluster_state_uuid") for s in status.values()}
    ok = len(uuids) == 1 and all(
        s.get("wsrep_local_state_comment") == "Synced"
        and s.get("wsrep_cluster_status") == "Primary"
        and s.get("wsrep_cluster_size") == str(size)
        for s in status.values()
    )
    return status if ok else None


class Writer:
    """Commits rows (20 per connection) through the ready endpoints in turn (or the nodes `nodes()` gives),
    asked again before each batch; remembers every acknowledged id and the failures (a connection or
    insert that failed)."""

    def __init__(
        self, api: int, password: str, first: int, nodes: Callable[[], list[Target]] | None = None
    ) -> None:
        self.api = api
        self.password = password
        self.nodes = nodes or (lambda: targets(api))  # where to write (a crash test pins its own list)
        self.next_id = first  # ids from here on: a new writer never meets an earlier writer's rows
        self.acked: set[int] = set()
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="galera-writer")

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        self.thread.join(30)

    def count(self) -> int:
        return len(self.acked)

    def _run(self) -> None:
        turn = 0
        while not self.stop.is_set():
            nodes = self.nodes()
            if not nodes:
                self.stop.wait(0.1)
                continue
            node = nodes[turn % len(nodes)]
            turn += 1
            try:
                conn = connect(node, self.password)
                try:
                    with conn.cursor() as cur:
                        for _ in range(20):
                            cur.execute(f"INSERT INTO {TABLE} (id) VALUES (%s)", (self.next_id,))
                            self.acked.add(self.next_id)
                            self.next_id += 1
                finally:
                    conn.close()
            except pymysql.MySQLError as err:
                self.failures.append(f"{node.name}: {err!r}")
                self.next_id += 1000  # an unacknowledged insert may have landed: never reuse its id
                self.stop.wait(0.1)


@dataclass
class Sample:
    at: float
    pods: dict[str, dict[str, Any]]
    nodes: dict[str, dict[str, Any]]  # /v1/galera nodes (with `live`)

    def live(self, name: str) -> dict[str, Any]:
        return (self.nodes.get(name) or {}).get("live") or {}


@dataclass
class Sampler:
    """Polls /v1/pods and /v1/galera on a thread while in a `with` block; `samples` in time order."""

    api: int
    interval: float = 0.2
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="galera-sampler")

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            found_pods, found = pods(self.api), galera_pod(self.api)
            if found_pods and found.get("nodes"):
                self.samples.append(Sample(time.monotonic(), found_pods, found["nodes"]))
            self._stop.wait(self.interval)

    def first(self, predicate: Any) -> float | None:
        """The time of the first sample for which predicate(sample) holds."""
        return next((s.at for s in list(self.samples) if predicate(s)), None)

    def last(self, predicate: Any) -> float | None:
        return next((s.at for s in reversed(list(self.samples)) if predicate(s)), None)

    def timeline(self, names: list[str]) -> list[str]:
        """Each change of these instances' status/task/drain/live state, for assertion messages."""
        out, previous = [], None
        start = self.samples[0].at if self.samples else 0.0
        for sample in list(self.samples):
            now = []
            for name in names:
                p, live = sample.pods.get(name), sample.live(name)
                if p is None:
                    now.append(f"{name}:-")
                    continue
                task = (p.get("task_id") or "")[-6:]
                drain = "D" if p.get("draining_since") is not None else ""
                wsrep = f"{live.get('wsrep_local_state_comment')}/{live.get('wsrep_cluster_size')}"
                now.append(f"{name}:{p['status']}{drain}[{task}]{wsrep}")
            if now != previous:
                out.append(f"+{sample.at - start:.1f}s " + " ".join(now))
                previous = now
        return out


def reserved_leftovers(master_url: str, role: str, instances: set[str], pids: set[str]) -> list[Any]:
    """Resources reserved for `role` on any agent (the master's /master/state) that belong to `instances`
    (reservation label) or are the volumes `pids`: what a clean decommission leaves behind."""
    with urllib.request.urlopen(f"http://{master_url}/master/state", timeout=10) as resp:
        slaves = json.loads(resp.read())["slaves"]
    left = []
    for slave in slaves:
        for res in (slave.get("reserved_resources_full") or {}).get(role, []):
            labels = [
                (lb.get("key"), lb.get("value"))
                for r in res.get("reservations") or [res.get("reservation") or {}]
                for lb in ((r.get("labels") or {}).get("labels") or [])
            ]
            pid = ((res.get("disk") or {}).get("persistence") or {}).get("id")
            if pid in pids or any(k == "mesopress_instance" and v in instances for k, v in labels):
                left.append({"agent": slave.get("id"), "resource": res})
    return left
