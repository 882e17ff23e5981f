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
from collections.abc import Iterator
from typing import Any

import pytest

from localmesos.zkserver import ZooKeeperServer
from support import galera_checks as gc
from support.scheduler_stack import Stack, get, running_stack, task_user_work_dir
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
    work = task_user_work_dir("mesopress-galera-e2e-")
    try:
        with running_stack(zk_server, work, SERVICE, 4, "cpus:0.6;mem:400;disk:300", 10) as built:
            yield built
    finally:
        shutil.rmtree(work, ignore_errors=True)


def galera(stack: Stack) -> dict[str, Any]:
    answer = get(stack.leader().port, "/v1/galera")
    return answer.get("galera", {}) if isinstance(answer, dict) else {}


def synced_nodes(stack: Stack) -> dict[str, dict[str, Any]] | None:
    nodes = galera(stack).get("nodes", {})
    ok = len(nodes) == 3 and all(n["status"] == "READY" for n in nodes.values())
    return nodes if ok else None


def secret(stack: Stack, name: str) -> str:
    return gc.secret(stack.leader().port, name)


def target(nodes: dict[str, dict[str, Any]], name: str) -> gc.Target:
    return gc.node_target(name, nodes[name])


def wsrep_of(nodes: dict[str, dict[str, Any]], password: str) -> dict[str, dict[str, str]]:
    return {name: gc.wsrep(target(nodes, name), password) for name in nodes}


def pinned_writer(stack: Stack, password: str, first: int, skip: set[str]) -> gc.Writer:
    """A writer over the nodes Synced now (not the endpoints, which empty during a full crash), leaving
    out the names the test puts in `skip` later."""
    nodes = eventually(lambda: synced_nodes(stack), timeout=SYNC, message=lambda: str(galera(stack)))
    pinned = [target(nodes, n) for n in NODES]
    api = stack.leader().port
    return gc.Writer(api, password, first, nodes=lambda: [t for t in pinned if t.name not in skip])


def all_have(stack: Stack, password: str, wanted: set[int]) -> bool:
    nodes = synced_nodes(stack)
    if nodes is None:
        return False
    missing = gc.missing_rows([target(nodes, n) for n in nodes], password, wanted)
    return missing is not None and not any(missing.values())


def test_deploy_three_nodes_to_synced(stack: Stack) -> None:
    stack.start_scheduler()
    nodes = eventually(lambda: synced_nodes(stack), timeout=SYNC, message=lambda: str(galera(stack)))
    assert len({n["agent_id"] for n in nodes.values()}) == 3, "at most one node per agent"
    password = secret(stack, "galera-app-password")
    for status in wsrep_of(nodes, password).values():
        assert status["wsrep_local_state_comment"] == "Synced", status
        assert status["wsrep_cluster_status"] == "Primary" and status["wsrep_cluster_size"] == "3"
    gc.query(target(nodes, "galera-0"), password, f"CREATE TABLE {gc.TABLE} (id INT PRIMARY KEY)")
    assert galera(stack)["bootstrapped"]["node"] == "galera-0"


def test_a_killed_node_restarts_in_place_and_catches_up(stack: Stack) -> None:
    password = secret(stack, "galera-app-password")
    before = synced_nodes(stack) or {}
    pods = {p["instance"]: p for p in get(stack.leader().port, "/v1/pods")}
    with pinned_writer(stack, password, 1, set()) as writer:
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
    skip: set[str] = set()
    with pinned_writer(stack, password, (round_ + 1) * 10_000_000, skip) as writer:
        eventually(lambda: len(writer.acked) > 100, timeout=30)
        if behind is not None:
            stack.cluster.stop_agent(agents[behind])
            skip.add(behind)
            acked_without = len(writer.acked)  # every row acknowledged from now on is not on `behind`
            eventually(lambda: len(writer.acked) > acked_without + 50, timeout=60, message="2 nodes write")
        failed_before = len(writer.failures)
        for name, agent in agents.items():
            if name != behind:
                stack.cluster.stop_agent(agent)  # SIGKILL to the agent's tasks, mariadbd included
        eventually(lambda: (galera(stack).get("recovery") or {}).get("phase") == "COLLECTING", timeout=60)
        eventually(lambda: len(writer.failures) > failed_before, timeout=30, message="no write met the crash")
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
    for status in wsrep_of(nodes, password).values():
        assert status["wsrep_cluster_status"] == "Primary" and status["wsrep_cluster_size"] == "3", status
    eventually(lambda: all_have(stack, password, writer.acked), timeout=60)
    logs = "".join(s.text() for s in stack.schedulers)
    assert logs.count("recovery decision") >= round_ + 1, "every round's decision is logged"


def test_a_node_on_an_agent_marked_gone_is_replaced_by_sst(stack: Stack) -> None:
    password = secret(stack, "galera-app-password")
    before = synced_nodes(stack) or {}
    with pinned_writer(stack, password, 5_000_000, set()) as writer:
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
    sizes = {n: s["wsrep_cluster_size"] for n, s in wsrep_of(after, password).items()}
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
