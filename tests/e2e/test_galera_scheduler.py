"""Galera through the scheduler: real MariaDB Galera on localmesos, the scheduler as a subprocess.

One story: a 3-node cluster is deployed to Primary+Synced through the framework (bundle fetched and run
with the system python3 as `mysql`, config and secrets fetched once as artifacts); a writer commits rows
through the cluster while one node's task is killed (restart in place on its volume, IST, Synced again)
and every acknowledged row is then on every node; in rounds (MESOPRESS_CRASH_ROUNDS, 3 by default) all
agents holding nodes crash under writes and come back (the full-crash recovery flow brings one Primary
of size 3 back with every acknowledged row, from the node with the highest seqno; in some rounds one
node's agent crashes first, so that the others are ahead and the choice varies); a node whose
agent is marked gone is replaced on the 4th agent by SST; no secret is in the master's /state. Every wait is a
condition with a timeout; `Stack.stop` and the cluster fixture stop everything started here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from localmesos.cluster import Cluster
from localmesos.zkserver import ZooKeeperServer
from support.ports import agent_ports
from support.scheduler_stack import REPO, Stack, get
from support.waiting import eventually

pytestmark = pytest.mark.skipif(
    shutil.which("mariadbd", path="/usr/sbin:/usr/bin") is None or os.geteuid() != 0,
    reason="needs the Debian mariadb-server package and root (tasks run as mysql)",
)
ROLE = "galera-e2e"
SERVICE = f"""
name: gal
pods:
  - name: galera
    kind: galera
    cpus: 0.5
    mem: 256
    volumes: [{{container_path: mysql-data, size: 200}}]
    galera:
      min_volume_mb: 100
      options: {{innodb_buffer_pool_size: 32M, innodb_log_file_size: 16M}}
scheduler:
  role: {ROLE}
  principal: {ROLE}
  failover_timeout: 300
  unreachable_timeout: 120
  reservation_timeout: 10
  reconcile_interval: 10
  decline_short_seconds: 1
  decline_long_seconds: 2
"""
NODES = ("galera-0", "galera-1", "galera-2")
SECRETS = ("galera-root-password", "galera-sst-password", "galera-app-password")
SYNC = 150.0
CRASH_ROUNDS = int(os.environ.get("MESOPRESS_CRASH_ROUNDS", "3"))  # full crashes in a row (CI: 3)
CHOSEN_SEQNOS: list[int] = []  # the earlier rounds' chosen seqnos: each round's must be higher


@pytest.fixture(scope="module")
def stack(zk_server: ZooKeeperServer) -> Iterator[Stack]:
    # the task user (mysql) must traverse every directory above its sandbox and volume
    work = Path(tempfile.mkdtemp(prefix="mesopress-galera-e2e-", dir="/tmp"))
    work.chmod(0o755)
    cluster = Cluster(
        work / "cluster",
        distinct_hosts=True,
        agents=4,
        port=0,
        allocation_interval=0.2,
        agent_unreachable_timeout=3.0,
        status_update_retry=1.0,
        agent_resources=f"cpus:0.6;mem:400;disk:300;ports:{agent_ports(4, 10)[1]}",
    )
    cluster.start()
    built = Stack(cluster, zk_server, work, f"/e2e-{uuid.uuid4().hex[:8]}/mesopress", SERVICE, wait=60)
    try:
        yield built
    finally:
        built.stop()
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def galera(stack: Stack) -> dict[str, Any]:
    answer = get(stack.leader().port, "/v1/galera")
    return answer.get("galera", {}) if isinstance(answer, dict) else {}


def synced_nodes(stack: Stack) -> dict[str, dict[str, Any]] | None:
    nodes = galera(stack).get("nodes", {})
    ok = len(nodes) == 3 and all(n["status"] == "READY" for n in nodes.values())
    return nodes if ok else None


def secret(stack: Stack, name: str) -> str:
    cmd = [
        sys.executable,
        "-m",
        "mesopress",
        "secret",
        name,
        "--url",
        f"http://127.0.0.1:{stack.leader().port}",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=REPO, check=True)
    return out.stdout.strip()


def connect(node: dict[str, Any], password: str) -> Any:
    return pymysql.connect(
        host=node["hostname"],
        port=node["ports"]["sql"],
        user="wordpress",
        password=password,
        database="wordpress",
        connect_timeout=5,
        read_timeout=10,
        write_timeout=10,
        autocommit=True,
    )


def wsrep(node: dict[str, Any], password: str) -> dict[str, str]:
    conn = connect(node, password)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_%'")
            return {str(k): str(v) for k, v in cur.fetchall()}
    finally:
        conn.close()


def rows(node: dict[str, Any], password: str) -> set[int]:
    conn = connect(node, password)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM rows_e2e")
            return {int(r[0]) for r in cur.fetchall()}
    finally:
        conn.close()


class Writer:
    """Commits one row at a time through any node that answers; remembers every acknowledged id."""

    def __init__(self, stack: Stack, password: str, first: int = 1) -> None:
        self.nodes = synced_nodes(stack) or {}
        self.password = password
        self.first = first  # ids from here on: a new writer never meets an earlier writer's rows
        self.acked: set[int] = set()
        self.failures = 0  # failed connections or inserts (a crash in flight)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        self.thread.join(30)

    def _run(self) -> None:
        next_id = self.first
        turn = 0
        while not self.stop.is_set():
            node = list(self.nodes.values())[turn % len(self.nodes)]
            turn += 1
            try:
                conn = connect(node, self.password)
                try:
                    with conn.cursor() as cur:
                        for _ in range(20):
                            cur.execute("INSERT INTO rows_e2e (id) VALUES (%s)", (next_id,))
                            self.acked.add(next_id)
                            next_id += 1
                finally:
                    conn.close()
            except pymysql.MySQLError:
                self.failures += 1
                time.sleep(0.1)
                next_id += 1000  # an unacknowledged insert may have landed: never reuse its id


def all_have(stack: Stack, password: str, wanted: set[int]) -> bool:
    nodes = synced_nodes(stack)
    if nodes is None:
        return False
    try:
        return all(wanted <= rows(n, password) for n in nodes.values())
    except pymysql.MySQLError:
        return False


def test_deploy_three_nodes_to_synced(stack: Stack) -> None:
    stack.start_scheduler()
    nodes = eventually(lambda: synced_nodes(stack), timeout=SYNC, message=lambda: str(galera(stack)))
    assert len({n["agent_id"] for n in nodes.values()}) == 3, "at most one node per agent"
    password = secret(stack, "galera-app-password")
    for node in nodes.values():
        status = wsrep(node, password)
        assert status["wsrep_local_state_comment"] == "Synced", status
        assert status["wsrep_cluster_status"] == "Primary" and status["wsrep_cluster_size"] == "3"
    conn = connect(nodes["galera-0"], password)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE rows_e2e (id INT PRIMARY KEY)")
    conn.close()
    assert galera(stack)["bootstrapped"]["node"] == "galera-0"


def test_a_killed_node_restarts_in_place_and_catches_up(stack: Stack) -> None:
    password = secret(stack, "galera-app-password")
    before = synced_nodes(stack) or {}
    pods = {p["instance"]: p for p in get(stack.leader().port, "/v1/pods")}
    with Writer(stack, password) as writer:
        eventually(lambda: len(writer.acked) > 50, timeout=30)
        stack.cluster.kill_task(pods["galera-1"]["task_id"])

        def back() -> bool:
            now = {p["instance"]: p for p in get(stack.leader().port, "/v1/pods")}
            node = now.get("galera-1", {})
            return node.get("task_id") != pods["galera-1"]["task_id"] and node.get("status") == "READY"

        eventually(back, timeout=SYNC)
        eventually(lambda: len(writer.acked) > 200, timeout=60)
    after = synced_nodes(stack) or {}
    assert after["galera-1"]["agent_id"] == before["galera-1"]["agent_id"]
    assert after["galera-1"]["volume"] == before["galera-1"]["volume"]
    eventually(lambda: all_have(stack, password, writer.acked), timeout=60)


def crash_plan(round_: int) -> str | None:
    """The node whose agent crashes first in this round (the others commit on without it, so it is
    behind and must not be chosen), or None: every agent crashes at once. Varies the choice."""
    return (None, "galera-0", "galera-1")[round_ % 3]


@pytest.mark.parametrize("round_", range(CRASH_ROUNDS))
def test_a_full_crash_is_recovered_by_the_flow(stack: Stack, round_: int) -> None:
    password = secret(stack, "galera-app-password")
    before = eventually(lambda: synced_nodes(stack), timeout=SYNC, message=lambda: str(galera(stack)))
    agents = {name: stack.cluster.agent(n["agent_id"]) for name, n in before.items()}
    behind = crash_plan(round_)
    with Writer(stack, password, first=(round_ + 1) * 10_000_000) as writer:
        eventually(lambda: len(writer.acked) > 100, timeout=30)
        if behind is not None:
            stack.cluster.stop_agent(agents[behind])
            writer.nodes = {n: v for n, v in writer.nodes.items() if n != behind}
            acked_without = len(writer.acked)  # every row acknowledged from now on is not on `behind`
            eventually(lambda: len(writer.acked) > acked_without + 50, timeout=60, message="2 nodes write")
        failed_before = writer.failures
        for name, agent in agents.items():
            if name != behind:
                stack.cluster.stop_agent(agent)  # SIGKILL to the agent's tasks, mariadbd included
        eventually(lambda: (galera(stack).get("recovery") or {}).get("phase") == "COLLECTING", timeout=60)
        eventually(lambda: writer.failures > failed_before, timeout=30, message="no write met the crash")
        for agent in agents.values():
            stack.cluster.start_agent(agent)

        def recovered() -> dict[str, Any] | None:
            state = galera(stack).get("recovery") or {}
            return state if state.get("phase") == "DONE" and synced_nodes(stack) else None

        state = eventually(recovered, timeout=SYNC, message=lambda: str(galera(stack)))
        acked_before = len(writer.acked)
        eventually(lambda: len(writer.acked) > acked_before + 50, timeout=60)
    assert set(state["positions"]) == set(NODES) and state["chosen"] in NODES, state
    seqnos = {n: p.get("seqno", -1) for n, p in state["positions"].items()}
    uuids = {p.get("uuid") for p in state["positions"].values()}
    assert len(uuids) == 1 and None not in uuids, state  # one history: the seqnos are comparable
    assert seqnos[state["chosen"]] == max(seqnos.values()), state
    assert seqnos[state["chosen"]] > max(CHOSEN_SEQNOS, default=-1), (state, "a stale recovery record")
    if behind is not None:
        assert seqnos[behind] < seqnos[state["chosen"]] and state["chosen"] != behind, state
    CHOSEN_SEQNOS.append(seqnos[state["chosen"]])
    print(f"round {round_}: {behind or 'no node'} crashed first; seqnos {seqnos}; chosen {state['chosen']}")
    nodes = synced_nodes(stack) or {}
    assert {n: v["volume"] for n, v in nodes.items()} == {n: v["volume"] for n, v in before.items()}
    for node in nodes.values():
        status = wsrep(node, password)
        assert status["wsrep_cluster_status"] == "Primary" and status["wsrep_cluster_size"] == "3", status
    eventually(lambda: all_have(stack, password, writer.acked), timeout=60)
    logs = "".join(s.text() for s in stack.schedulers)
    assert logs.count("recovery decision") >= round_ + 1, "every round's decision is logged"


def test_a_node_on_an_agent_marked_gone_is_replaced_by_sst(stack: Stack) -> None:
    password = secret(stack, "galera-app-password")
    before = synced_nodes(stack) or {}
    with Writer(stack, password, first=5_000_000) as writer:
        eventually(lambda: len(writer.acked) > 50, timeout=30)
        stack.cluster.mark_gone(before["galera-2"]["agent_id"])

        def replaced() -> dict[str, Any] | None:
            nodes = synced_nodes(stack)
            node = (nodes or {}).get("galera-2", {})
            return nodes if node and node["agent_id"] != before["galera-2"]["agent_id"] else None

        after = eventually(replaced, timeout=SYNC, message=lambda: str(galera(stack)))
        acked_before = len(writer.acked)
        eventually(lambda: len(writer.acked) > acked_before + 50, timeout=60)
    assert after["galera-2"]["volume"] != before["galera-2"]["volume"], "a replacement gets a fresh volume"
    assert galera(stack)["recovery"]["phase"] == "DONE"  # no new full-crash flow was started
    eventually(lambda: all_have(stack, password, writer.acked), timeout=60)
    sizes = {n: wsrep(node, password)["wsrep_cluster_size"] for n, node in after.items()}
    assert set(sizes.values()) == {"3"}, sizes


def test_no_secret_reaches_the_master_state(stack: Stack) -> None:
    import urllib.request

    values = [secret(stack, name) for name in SECRETS]
    assert all(len(v) >= 40 for v in values)
    with urllib.request.urlopen(f"http://{stack.cluster.master_url}/state", timeout=10) as resp:
        state = resp.read().decode()
    assert "galera-0" in state  # the tasks are there ...
    assert not any(v in state for v in values)  # ... but no password, in commands, environments or URIs
    logs = "".join(s.text() for s in stack.schedulers)
    assert not any(v in logs for v in values)
