"""Galera scaling 3 -> 5 -> 3 and a rolling restart through the scheduler, with real MariaDB Galera.

One story on its own stack (5 agents on distinct hosts, one scheduler subprocess): 3 nodes are deployed;
the service file is POSTed to `/v1/config` with `galera.size: 5` and galera-3 then galera-4 join one at a
time (galera-4 is launched only after galera-3 is READY; the component grows 3 -> 4 -> 5); sizes 4 and 1
are refused with 409 and nothing changes; size 3 again makes galera-4 then galera-3 leave cleanly (the
component shrinks 5 -> 4 -> 3 and stays Primary throughout), their volumes are destroyed and reservations
unreserved in the master, their records gone; a changed `galera.options` restarts the nodes one at a time
(never two away at once), each Synced before the next, and the new setting is live on every node.
During every change a writer commits rows through the ready endpoints; afterwards every acknowledged row
is on every node and all nodes report one Synced Primary component of the expected size. A background
sampler of /v1/pods and /v1/galera lets the tests assert what held at every moment, not only at the end.
Every wait is a condition with a timeout; the fixture stops everything it started.
"""

from __future__ import annotations

import os
import shutil
import time
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
ROLE = "galera-scale-e2e"
SYNC = 150.0  # deploy, join or restart of one node, generously (2 shared cores)
MAX_FAILED_WRITES = 5  # batches caught by a node's shutdown or a donor's pause
# POST /v1/config: an even size or a size below 3 makes the file invalid (the same rule as at start-up),
# so the answer is 400 with the reason; 409 is for valid files the running service cannot take
REFUSED = (400,)
SERVING = ("Synced", "Donor/Desynced")  # a donor stays in the Primary component and serves clients
RESTARTING = ("KILLING", "FAILED", "STOPPED", "LAUNCHING", "STAGING", "STARTING")
STARTED = time.monotonic()


def service(size: int, max_connections: int = 151) -> str:
    """The service file: small MariaDB settings so that five nodes fit; quick drains and samples."""
    options = f"innodb_buffer_pool_size: 32M, innodb_log_file_size: 16M, max_connections: {max_connections}"
    return f"""
name: gal
pods:
  - name: galera
    kind: galera
    cpus: 0.5
    mem: 256
    volumes: [{{container_path: mysql-data, size: 200}}]
    galera:
      size: {size}
      min_volume_mb: 100
      options: {{{options}}}
scheduler:
  role: {ROLE}
  principal: {ROLE}
  failover_timeout: 300
  unreachable_timeout: 120
  reservation_timeout: 10
  reconcile_interval: 10
  decline_short_seconds: 1
  decline_long_seconds: 2
  galera_monitor_interval: 1
  drain_seconds: 3
"""


def names(size: int) -> list[str]:
    return [f"galera-{i}" for i in range(size)]


@pytest.fixture(scope="module")
def stack(zk_server: ZooKeeperServer) -> Iterator[Stack]:
    work = task_user_work_dir("mesopress-galera-scale-")
    try:
        with running_stack(zk_server, work, service(3), 5, "cpus:0.6;mem:400;disk:300", 10) as built:
            yield built
    finally:
        shutil.rmtree(work, ignore_errors=True)
        print(f"test_galera_scaling: {time.monotonic() - STARTED:.0f}s in all")


@pytest.fixture(autouse=True)
def timing(request: pytest.FixtureRequest) -> Iterator[None]:
    began = time.monotonic()
    yield
    print(f"{request.node.name}: {time.monotonic() - began:.1f}s")


def synced(api: int, size: int) -> list[gc.Target] | None:
    """The nodes when exactly galera-0..size-1 exist and all are READY (Synced) in /v1/galera."""
    nodes = gc.galera_pod(api).get("nodes", {})
    if sorted(nodes) != names(size) or any(n["status"] != "READY" for n in nodes.values()):
        return None
    return [gc.node_target(name, nodes[name]) for name in names(size)]


def settle(api: int, password: str, size: int, acked: set[int]) -> list[gc.Target]:
    """Wait for: size nodes READY, one Synced Primary component of that size, every acked row on each."""
    nodes = eventually(lambda: synced(api, size), timeout=SYNC, message=lambda: str(gc.galera_pod(api)))
    eventually(
        lambda: gc.primary_of_size(nodes, password, size),
        timeout=60,
        message=lambda: str({t.name: gc.wsrep(t, password) for t in nodes}),
    )
    eventually(
        lambda: gc.missing_rows(nodes, password, acked) == {t.name: 0 for t in nodes},
        timeout=60,
        message=lambda: f"acknowledged rows missing per node: {gc.missing_rows(nodes, password, acked)}",
    )
    return nodes


def report(what: str, writer: gc.Writer, sampler: gc.Sampler) -> None:
    print(
        f"{what}: {writer.count()} rows acknowledged, {len(writer.failures)} failed batches, "
        f"{len(sampler.samples)} samples"
    )


def more_rows(writer: gc.Writer, count: int = 50) -> None:
    seen = writer.count()
    eventually(lambda: writer.count() >= seen + count, timeout=60, message=lambda: str(writer.failures[-5:]))


def post_config(stack: Stack, text: str) -> tuple[int, Any]:
    return gc.post_text(stack.leader().port, "/v1/config", text)


def plan_steps(api: int, name: str) -> list[tuple[str, str, str]]:
    plan = get(api, f"/v1/plans/{name}")
    assert isinstance(plan, dict) and "phases" in plan, plan
    return [(s["name"], s["status"], s.get("target", "")) for ph in plan["phases"] for s in ph["steps"]]


def live_sizes(sampler: gc.Sampler, nodes: list[str]) -> list[tuple[float, int]]:
    """(time, wsrep_cluster_size) of every reachable live sample of these nodes, in time order."""
    out = []
    for sample in sampler.samples:
        for name in nodes:
            live = sample.live(name)
            if live.get("reachable") and live.get("wsrep_cluster_size") is not None:
                out.append((sample.at, int(live["wsrep_cluster_size"])))
    return out


def task_log(stack: Stack, task_id: str) -> str:
    """The stderr of a task's sandbox (the agent keeps it after the task ended)."""
    pattern = f"agents/*/slaves/*/frameworks/*/executors/{task_id}/runs/*/stderr"
    found = sorted((stack.work / "cluster").glob(pattern))
    assert found, f"no sandbox for task {task_id}"
    return "".join(path.read_text(errors="replace") for path in found)


def test_deploy_three_nodes_to_synced(stack: Stack) -> None:
    stack.start_scheduler()
    api = stack.leader().port
    nodes = eventually(lambda: synced(api, 3), timeout=SYNC, message=lambda: str(gc.galera_pod(api)))
    password = gc.secret(api, "galera-app-password")
    conn = gc.connect(nodes[0], password)
    with conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {gc.TABLE} (id INT PRIMARY KEY)")
    conn.close()
    settle(api, password, 3, set())
    pods = gc.pods(api)
    assert len({pods[n]["agent_id"] for n in names(3)}) == 3, "at most one node per agent"


def test_scale_up_to_five_joins_one_node_at_a_time(stack: Stack) -> None:
    api = stack.leader().port
    password = gc.secret(api, "galera-app-password")
    with gc.Sampler(api) as sampler, gc.Writer(api, password, first=1_000_000) as writer:
        more_rows(writer)
        status, body = post_config(stack, service(5))
        assert (status, body.get("ok")) == (200, True), (status, body)
        eventually(lambda: synced(api, 5), timeout=2 * SYNC, message=lambda: str(gc.pods(api)))
        more_rows(writer)
    report("scale up", writer, sampler)
    nodes = settle(api, password, 5, writer.acked)
    assert len(writer.failures) <= MAX_FAILED_WRITES, writer.failures

    ready_3 = sampler.first(lambda s: s.pods.get("galera-3", {}).get("status") == "READY")
    launched_4 = sampler.first(lambda s: bool(s.pods.get("galera-4", {}).get("task_id")))
    history = "\n".join(sampler.timeline(names(5)))
    assert ready_3 is not None and launched_4 is not None, f"the sampler saw both joins:\n{history}"
    assert launched_4 >= ready_3, f"galera-4 was launched before galera-3 was READY:\n{history}"
    sizes = live_sizes(sampler, names(5))
    first_4 = next((t for t, size in sizes if size == 4), None)
    first_5 = next((t for t, size in sizes if size == 5), None)
    assert first_4 is not None and first_5 is not None and first_4 < first_5, history
    assert min(size for _, size in sizes) >= 3, sizes
    pods = gc.pods(api)
    assert len({pods[n]["agent_id"] for n in names(5)}) == 5, "one node per agent"
    assert {n.name for n in nodes} == set(names(5))


def test_even_size_and_size_one_are_refused_and_nothing_changes(stack: Stack) -> None:
    api = stack.leader().port
    before = {name: plan_steps(api, name) for name in ("deploy", "decommission", "rollout")}
    pods_before = gc.pods(api)
    for size in (4, 1):
        status, body = post_config(stack, service(size))
        assert status in REFUSED and body.get("ok") is False, (size, status, body)
        reasons = " ".join(str(r) for r in body.get("reasons", []))
        assert "galera" in reasons and "size" in reasons, (size, body)
    assert {name: plan_steps(api, name) for name in before} == before
    pods = gc.pods(api)
    assert sorted(pods) == names(5)
    assert all(p["status"] == "READY" and p["goal"] == "RUNNING" for p in pods.values()), pods
    assert all(p["draining_since"] is None for p in pods.values()), pods
    assert {n: p["task_id"] for n, p in pods.items()} == {n: p["task_id"] for n, p in pods_before.items()}
    assert synced(api, 5) is not None


def test_scale_down_to_three_leaves_cleanly_one_at_a_time(stack: Stack) -> None:
    api = stack.leader().port
    password = gc.secret(api, "galera-app-password")
    removed = {"galera-3", "galera-4"}
    pods_before = gc.pods(api)
    pids = {pid for n in removed for pid in pods_before[n]["persistence_ids"].values()}
    assert len(pids) == 2, pods_before
    with gc.Sampler(api) as sampler, gc.Writer(api, password, first=2_000_000) as writer:
        more_rows(writer)
        status, body = post_config(stack, service(3))
        assert (status, body.get("ok")) == (200, True), (status, body)
        eventually(
            lambda: sorted(gc.pods(api)) == names(3),
            timeout=2 * SYNC,
            message=lambda: str(get(api, "/v1/plans/decommission")),
        )
        more_rows(writer)
    report("scale down", writer, sampler)
    settle(api, password, 3, writer.acked)
    assert len(writer.failures) <= MAX_FAILED_WRITES, writer.failures
    assert get(api, "/v1/plans/decommission")["status"] == "COMPLETE"

    def leaving(name: str) -> Any:
        return lambda s: (
            (p := s.pods.get(name)) is not None
            and (p["draining_since"] is not None or p["goal"] == "DECOMMISSIONED")
        )

    drained_4, drained_3 = sampler.first(leaving("galera-4")), sampler.first(leaving("galera-3"))
    last_seen_4 = sampler.last(lambda s: "galera-4" in s.pods)
    history = "\n".join(sampler.timeline(names(5)))
    assert drained_4 is not None and drained_3 is not None and last_seen_4 is not None, history
    assert drained_4 < drained_3, f"galera-4 leaves first:\n{history}"
    assert last_seen_4 < drained_3, f"galera-3 is drained only after galera-4 is gone:\n{history}"
    # a clean leave: the nodes that stay are Primary at every sample and their component shrinks 5 -> 4 -> 3
    for sample in sampler.samples:
        for name in names(3):
            live = sample.live(name)
            if live.get("reachable"):
                assert live["wsrep_cluster_status"] == "Primary", f"{name}: {live}\n{history}"
    sizes = live_sizes(sampler, names(3))
    assert min(s for _, s in sizes) == 3 and max(s for _, s in sizes) == 5, sizes
    first_4 = next((t for t, s in sizes if s == 4), None)
    first_3 = next((t for t, s in sizes if s == 3), None)
    assert first_4 is not None and first_3 is not None and first_4 < first_3, history
    # mariadbd of each removed node shut down cleanly (SIGTERM, within the grace period: no SIGKILL)
    for name in removed:
        log = task_log(stack, pods_before[name]["task_id"])
        assert "Shutdown complete" in log, f"{name}: no clean shutdown in its task's log: {log[-2000:]}"
    # the volumes are destroyed and the reservations released in the master
    eventually(
        lambda: not gc.reserved_leftovers(stack.cluster.master_url, ROLE, removed, pids),
        timeout=60,
        message=lambda: str(gc.reserved_leftovers(stack.cluster.master_url, ROLE, removed, pids)),
    )
    left = gc.reserved_leftovers(stack.cluster.master_url, ROLE, set(names(3)), set())
    assert left, "the nodes that stay keep their reservations (the check sees reservations at all)"


def test_changed_options_restart_the_nodes_one_at_a_time(stack: Stack) -> None:
    api = stack.leader().port
    password = gc.secret(api, "galera-app-password")
    before = gc.pods(api)
    assert sorted(before) == names(3)

    def restarted(name: str) -> Any:
        return lambda s: s.pods.get(name, {}).get("task_id") not in (None, before[name]["task_id"])

    def back(name: str) -> Any:
        return lambda s: restarted(name)(s) and s.pods[name]["status"] == "READY"

    def began(name: str) -> Any:
        return lambda s: s.pods.get(name, {}).get("status") in RESTARTING or restarted(name)(s)

    def rolled() -> bool:
        pods = gc.pods(api)
        plan = get(api, "/v1/plans/rollout")
        return (
            sorted(pods) == names(3)
            and all(p["task_id"] != before[n]["task_id"] and p["status"] == "READY" for n, p in pods.items())
            and len({p["config_hash"] for p in pods.values()}) == 1
            and plan.get("status") == "COMPLETE"
        )

    with gc.Sampler(api) as sampler, gc.Writer(api, password, first=3_000_000) as writer:
        more_rows(writer)
        status, body = post_config(stack, service(3, max_connections=170))
        assert (status, body.get("ok")) == (200, True), (status, body)
        eventually(rolled, timeout=3 * SYNC, message=lambda: str(get(api, "/v1/plans/rollout")))
        more_rows(writer)
    report("rollout", writer, sampler)
    nodes = settle(api, password, 3, writer.acked)
    assert len(writer.failures) <= MAX_FAILED_WRITES, writer.failures
    after = gc.pods(api)
    assert {p["config_hash"] for p in after.values()} != {p["config_hash"] for p in before.values()}
    assert {n: gc.variable(t, password, "max_connections") for n, t in ((t.name, t) for t in nodes)} == {
        n: "170" for n in names(3)
    }

    # never two nodes away at once: by the scheduler (one restart in progress at a time) ...
    history = "\n".join(sampler.timeline(names(3)))
    done: set[str] = set()
    for sample in sampler.samples:
        done |= {n for n in names(3) if back(n)(sample)}
        in_restart = [n for n in names(3) if n not in done and began(n)(sample)]
        assert len(in_restart) <= 1, f"{in_restart} restarting at once:\n{history}"
    # ... and by the nodes' own wsrep state: in each monitor round (all nodes sampled together) at most
    # one node is not serving (Synced, or a donor), and every serving node is in a Primary of 2+ nodes
    rounds = 0
    for sample in sampler.samples:
        lives = [sample.live(n) for n in names(3)]
        stamps = [live.get("sampled_at") or 0.0 for live in lives]
        if min(stamps) <= 0 or max(stamps) - min(stamps) > 0.5:
            continue  # not one round: a comparison across rounds could see a state that never was
        rounds += 1
        states = dict(zip(names(3), (live.get("wsrep_local_state_comment") for live in lives), strict=True))
        away = [n for n, state in states.items() if state not in SERVING]
        assert len(away) <= 1, f"{away} away at once ({[sample.live(n) for n in away]}):\n{history}"
        for name, live in zip(names(3), lives, strict=True):
            if name not in away:  # a node shutting down may still answer, out of the component
                primary = live["wsrep_cluster_status"] == "Primary" and int(live["wsrep_cluster_size"]) >= 2
                assert primary, f"{name} serving outside a Primary of 2+ nodes: {live}\n{history}"
    assert rounds >= 10, f"only {rounds} consistent monitor rounds sampled"

    # in index order, each READY with its new task before the next one's restart begins
    for first, second in (("galera-0", "galera-1"), ("galera-1", "galera-2")):
        ready_at, left_at = sampler.first(back(first)), sampler.first(began(second))
        assert ready_at is not None and left_at is not None, (first, second, history)
        # the core restarts the next node in the same step that sees the previous one READY: one sample
        assert ready_at <= left_at, f"{second} was restarted before {first} was READY again:\n{history}"
