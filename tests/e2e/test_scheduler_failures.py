"""The scheduler as a user runs it, through the faults of issue 3: real processes, real ZooKeeper, localmesos.

One story per module (deploying is the slow part): scheduler processes are started as
`python -m mesopress scheduler --config ...` subprocesses against a localmesos cluster of 5 small agents
(each fits one pod) and a real ZooKeeper; every scheduler reaches ZooKeeper through its own TCP proxy so a
test can partition it. The service has 3 pods of one kind, each with a volume; the command appends its
task id to a log on the volume and sleeps, so "data intact" means the old lines are still there.

The tests run in order, each leaving 3 pods running: deploy; kill a task; restart an agent; reboot an
agent (new id); mark an agent gone; restart the master; kill -9 the leader among three; replace a pod
with the operator CLI through a standby; expire the leader's ZooKeeper session; stop a leader with
SIGTERM; uninstall. Every wait is a condition with a timeout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localmesos.zkserver import ZooKeeperServer
from support.scheduler_stack import SchedulerProc, Stack, get, post, running_stack
from support.waiting import eventually

ROLE = "e2e"
SERVICE = f"""
name: e2e
pods:
  - name: db
    count: 3
    cpus: 0.1
    mem: 32
    command: "echo $MESOS_TASK_ID >> data/log && exec sleep 600"
    volumes: [{{container_path: data, size: 16}}]
scheduler:
  role: {ROLE}
  principal: {ROLE}
  failover_timeout: 300
  unreachable_timeout: 5
  reservation_timeout: 10
  reconcile_interval: 10
  decline_short_seconds: 1
  decline_long_seconds: 2
"""
LIVE = ("RUNNING", "READY")
WAIT = 40.0
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack(zk_server: ZooKeeperServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("scheduler-e2e")
    with running_stack(zk_server, work, SERVICE, 5, "cpus:0.15;mem:64;disk:64", 5, wait=WAIT) as built:
        yield built


# --- helpers over the API and the master ---------------------------------------------------------


def pods(stack: Stack) -> dict[str, dict[str, Any]]:
    answer = get(stack.leader().port, "/v1/pods")
    return {p["instance"]: p for p in answer} if isinstance(answer, list) else {}


def master_state(stack: Stack) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{stack.cluster.master_url}/state", timeout=10) as resp:
        return json.loads(resp.read())


def master_tasks(stack: Stack) -> dict[str, str]:
    """task id -> state, for every task the master knows of our framework (live and completed)."""
    tasks: dict[str, str] = {}
    for fw in master_state(stack)["frameworks"]:
        if ROLE in fw.get("roles", []):
            for task in fw["tasks"] + fw["completed_tasks"] + fw["unreachable_tasks"]:
                tasks[task["id"]] = task["state"]
    return tasks


def all_running(stack: Stack) -> dict[str, dict[str, Any]] | None:
    """The 3 pods when each is live and its task is TASK_RUNNING in the master, else None."""
    current = pods(stack)
    tasks = master_tasks(stack)
    ok = len(current) == 3 and all(
        p["status"] in LIVE and tasks.get(p["task_id"]) == "TASK_RUNNING" for p in current.values()
    )
    return current if ok else None


def wait_all_running(stack: Stack, timeout: float = WAIT) -> dict[str, dict[str, Any]]:
    return eventually(lambda: all_running(stack), timeout=timeout, message=lambda: json.dumps(pods(stack)))


def volume_log(stack: Stack, pod: dict[str, Any]) -> list[str]:
    agent = stack.cluster.agent(pod["agent_id"])
    (persistence_id,) = pod["persistence_ids"].values()
    path = agent.work_dir / "volumes" / "roles" / ROLE / persistence_id / "log"
    return path.read_text().split() if path.exists() else []


def relaunched_in_place(stack: Stack, name: str, before: dict[str, Any]) -> dict[str, Any] | None:
    """The pod `name` runs a new task on the same volume, with the old data still first in its log."""
    now = (all_running(stack) or {}).get(name)
    if now is None or now["task_id"] == before["task_id"]:
        return None
    assert now["persistence_ids"] == before["persistence_ids"], "the pod lost its volume"
    lines = volume_log(stack, now)
    intact = lines[: len(before["log"])] == before["log"]
    return now if intact and now["task_id"] in lines else None


def with_log(stack: Stack, pod: dict[str, Any]) -> dict[str, Any]:
    return {**pod, "log": volume_log(stack, pod)}


# --- the story -----------------------------------------------------------------------------------


def test_deploy_three_pods_with_volumes(stack: Stack) -> None:
    stack.start_scheduler()
    running = wait_all_running(stack, timeout=60)
    for pod in running.values():
        eventually(lambda pod=pod: volume_log(stack, pod) == [pod["task_id"]], timeout=10)
    assert len({p["agent_id"] for p in running.values()}) == 3, "one pod per agent (each fits one)"
    leader = stack.leader()
    eventually(lambda: get(leader.port, "/v1/plans/deploy").get("status") == "COMPLETE", timeout=10)
    config = get(leader.port, "/v1/config")
    assert config["service"]["name"] == "e2e" and config["settings"]["secret"] == "<hidden>", config


def test_a_killed_task_is_relaunched_on_the_same_agent_with_its_data(stack: Stack) -> None:
    before = with_log(stack, wait_all_running(stack)["db-0"])
    stack.cluster.kill_task(before["task_id"])
    after = eventually(lambda: relaunched_in_place(stack, "db-0", before), timeout=WAIT)
    assert after["agent_id"] == before["agent_id"]


def test_a_restarted_agent_gets_its_pod_back_with_its_data(stack: Stack) -> None:
    before = with_log(stack, wait_all_running(stack)["db-1"])
    agent = stack.cluster.agent(before["agent_id"])
    stack.cluster.stop_agent(agent)
    stack.cluster.start_agent(agent)
    after = eventually(lambda: relaunched_in_place(stack, "db-1", before), timeout=WAIT)
    assert after["agent_id"] == before["agent_id"] == agent.agent_id


def test_a_rebooted_agent_with_a_new_id_gets_its_pod_back_on_its_volume(stack: Stack) -> None:
    before = with_log(stack, wait_all_running(stack)["db-2"])
    agent = stack.cluster.agent(before["agent_id"])
    stack.cluster.reboot_agent(agent)
    assert agent.agent_id != before["agent_id"]
    after = eventually(lambda: relaunched_in_place(stack, "db-2", before), timeout=60)
    assert after["agent_id"] == agent.agent_id


def test_a_pod_on_an_agent_marked_gone_is_replaced_elsewhere(stack: Stack) -> None:
    before = wait_all_running(stack)["db-0"]
    stack.cluster.mark_gone(before["agent_id"])

    def replaced() -> dict[str, Any] | None:
        now = (all_running(stack) or {}).get("db-0")
        return now if now and now["agent_id"] != before["agent_id"] else None

    after = eventually(replaced, timeout=60, message=lambda: json.dumps(pods(stack)))
    assert after["persistence_ids"] != before["persistence_ids"], "a replacement gets a new volume"
    eventually(lambda: volume_log(stack, after) == [after["task_id"]], timeout=10)


def test_the_scheduler_subscribes_again_after_a_master_restart(stack: Stack) -> None:
    before = {n: p["task_id"] for n, p in wait_all_running(stack).items()}
    leader = stack.leader()
    framework_id = get(leader.port, "/v1/state")["framework_id"]
    subscriptions = leader.text().count(f"subscribed as framework {framework_id}")
    stack.cluster.restart_master()

    def connected_again() -> bool:
        frameworks = master_state(stack)["frameworks"]
        again = leader.text().count(f"subscribed as framework {framework_id}") > subscriptions
        return again and any(f["id"] == framework_id and f["connected"] for f in frameworks)

    eventually(connected_again, timeout=WAIT, message="the framework never re-subscribed")
    assert {n: p["task_id"] for n, p in wait_all_running(stack).items()} == before


def test_a_standby_takes_over_from_a_killed_leader_without_launching_twice(stack: Stack) -> None:
    old = stack.leader()
    stack.start_scheduler()
    stack.start_scheduler()
    eventually(lambda: all(get(s.port, "/v1/health").get("role") == "standby" for s in stack.alive()[1:]))
    before = {n: p["task_id"] for n, p in wait_all_running(stack).items()}
    tasks_before = set(master_tasks(stack))
    assert not any("leads: subscribing" in s.text() for s in stack.alive()[1:]), "a standby subscribed"
    os.kill(old.proc.pid, signal.SIGKILL)
    old.proc.wait(10)
    new = stack.leader()
    assert new is not old
    eventually(
        lambda: "reconcil" in new.text().lower(), timeout=10, message="the new leader never reconciled"
    )
    assert {n: p["task_id"] for n, p in wait_all_running(stack).items()} == before
    assert set(master_tasks(stack)) == tasks_before, "a task was launched again"


def test_operator_cli_replaces_a_pod_through_a_standby(stack: Stack) -> None:
    leader = stack.leader()
    identity = f"127.0.0.1:{leader.port}"

    def standby_knowing_the_leader() -> SchedulerProc | None:
        # A standby that is reconnecting to ZooKeeper (4 s sessions here) answers 503 "no leader elected
        # yet" until it is back: correct, but not the path this test is about.
        others = (s for s in stack.alive() if s is not leader)
        return next((s for s in others if get(s.port, "/v1/state").get("leader") == identity), None)

    standby = eventually(standby_knowing_the_leader, timeout=WAIT, message="no standby knows the leader")
    before = wait_all_running(stack)["db-1"]
    url = f"http://127.0.0.1:{standby.port}"
    listed = run_cli("pods", "--url", url)
    assert listed.returncode == 0 and before["task_id"] in listed.stdout, listed.stderr
    replaced = run_cli("replace", "db-1", "--url", url)
    assert replaced.returncode == 0 and json.loads(replaced.stdout)["ok"] is True, replaced.stderr

    def moved() -> dict[str, Any] | None:
        now = (all_running(stack) or {}).get("db-1")
        return now if now and now["agent_id"] != before["agent_id"] else None

    after = eventually(moved, timeout=WAIT, message=lambda: json.dumps(pods(stack)))
    assert after["persistence_ids"] != before["persistence_ids"]
    missing = run_cli("replace", "db-9", "--url", url)
    assert missing.returncode == 1 and "no such pod instance" in missing.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "mesopress", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=REPO)


def _stamp(text: str, pattern: str) -> str:
    match = re.search(rf"^(\S+ \S+) .*{pattern}", text, re.M)
    assert match, f"no log line matching {pattern!r}"
    return match.group(1)


def test_a_leader_whose_session_expires_stops_acting_before_another_leader_acts(stack: Stack) -> None:
    old = stack.leader()
    before = {n: p["task_id"] for n, p in wait_all_running(stack).items()}
    old.proxy.cut.set()  # partition the leader from ZooKeeper; its session expires on the server
    try:
        new = eventually(lambda: (s := stack.leader()) is not old and s, timeout=WAIT)
        stopped = _stamp(old.text(), r"deposed \(suspended\): stopped acting")
        started = _stamp(new.text(), r"leads: subscribing")
        assert stopped < started, (stopped, started)
        assert get(old.port, "/v1/state")["role"] == "standby"
    finally:
        old.proxy.cut.clear()
    assert {n: p["task_id"] for n, p in wait_all_running(stack).items()} == before
    eventually(lambda: "deposed (lost)" in old.text() or "deposed: lost" in old.text(), timeout=WAIT)


def test_sigterm_stops_a_leader_cleanly_and_a_standby_takes_over(stack: Stack) -> None:
    old = stack.leader()
    framework_id = get(old.port, "/v1/state")["framework_id"]
    before = {n: p["task_id"] for n, p in wait_all_running(stack).items()}
    old.proc.send_signal(signal.SIGTERM)
    assert old.proc.wait(20) == 0, old.text()[-2000:]
    assert "deposed (stopped)" in old.text()
    frameworks = {f["id"]: f for f in master_state(stack)["frameworks"]}
    assert framework_id in frameworks, "SIGTERM tore the framework down"
    new = stack.leader()
    assert get(new.port, "/v1/state")["framework_id"] == framework_id
    assert {n: p["task_id"] for n, p in wait_all_running(stack).items()} == before


def test_uninstall_leaves_nothing_reserved_and_no_volume(stack: Stack) -> None:
    leader = stack.leader()
    framework_id = get(leader.port, "/v1/state")["framework_id"]
    status, body = post(leader.port, "/v1/uninstall")
    assert status == 202, body

    def clean() -> bool:
        slaves = master_state(stack)["slaves"]
        return all(not s.get("reserved_resources_full", {}).get(ROLE) for s in slaves)

    eventually(clean, timeout=60, message=lambda: json.dumps(master_state(stack)["slaves"])[:2000])
    for agent in [a for a in stack.cluster.agents if not a.refused]:  # a gone agent keeps its disk
        volumes = agent.work_dir / "volumes" / "roles" / ROLE
        eventually(lambda v=volumes: not v.exists() or not any(v.iterdir()), timeout=10)
    assert not [t for t, s in master_tasks(stack).items() if s == "TASK_RUNNING"]

    def torn_down() -> bool:
        state = master_state(stack)
        return framework_id in {f["id"] for f in state["completed_frameworks"]} and framework_id not in {
            f["id"] for f in state["frameworks"]
        }

    eventually(torn_down, timeout=WAIT, message="the framework was not torn down")
    eventually(lambda: get(leader.port, "/v1/plans/uninstall").get("status") == "COMPLETE", timeout=10)
