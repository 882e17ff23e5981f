"""Benchmark: how fast mesopress relaunches a failed pod in place, and how fast a standby takes over.

Issue 3 item 7. Both run against localmesos and a real ZooKeeper, with scheduler processes started as
`python -m mesopress scheduler` exactly as users run them.

- Relaunch: a pod's task is SIGKILLed; the time from its TASK_FAILED to the new task's TASK_RUNNING on the
  same agent (both timestamps are the agent's, read from the master's /state). Baseline, same cluster and
  run: a minimal pymesos framework that relaunches the same command on the next offer from that agent.
- Takeover: the leader of two scheduler processes is killed with SIGKILL; the time until the standby
  answers as a subscribed leader. Baseline: a kazoo Lock held by a process killed the same way, taken
  over by a waiting contender (the election alone; both bounded below by the ZooKeeper session timeout).

    .venv/bin/python bench/scheduler_failover.py [--rounds 5] [--session 4]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.report import table, write_section  # noqa: E402
from localmesos.cluster import Cluster  # noqa: E402
from localmesos.zkserver import ZooKeeperServer, free_port  # noqa: E402
from support.waiting import eventually  # noqa: E402

SERVICE = """
name: bench
pods:
  - name: db
    count: 1
    cpus: 0.1
    mem: 32
    command: "echo $MESOS_TASK_ID >> data/log && exec sleep 600"
    volumes: [{container_path: data, size: 16}]
scheduler: {role: bench, principal: bench, decline_short_seconds: 1, reconcile_interval: 30}
"""
LOCK_HOLDER = """
import sys, time
from kazoo.client import KazooClient
client = KazooClient(sys.argv[1], timeout=float(sys.argv[2])); client.start()
client.Lock(sys.argv[3], "holder").acquire(); print("held", flush=True); time.sleep(3600)
"""


def get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


class Schedulers:
    """Scheduler processes of one service; stopped at the end."""

    def __init__(self, work: Path, master: str, zk: str, session: float) -> None:
        self.work, self.master, self.zk, self.session = work, master, zk, session
        (work / "service.yaml").write_text(SERVICE)
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def start(self) -> int:
        port = free_port()
        cmd = [sys.executable, "-m", "mesopress", "scheduler", "--config", str(self.work / "service.yaml")]
        cmd += ["--master", self.master, "--zk", self.zk, "--http-port", str(port), "--hostname", "127.0.0.1"]
        env = {**os.environ, "MESOPRESS_ZK_SESSION_TIMEOUT": str(self.session)}
        with (self.work / f"scheduler-{port}.log").open("wb") as log:
            self.procs[port] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        return port

    def role(self, port: int) -> str:
        state = get(f"http://127.0.0.1:{port}/v1/state") or {}
        subscribed = state.get("role") == "leader" and state.get("subscribed")
        return "leader" if subscribed else str(state.get("role", ""))

    def kill(self, port: int) -> None:
        proc = self.procs.pop(port)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.wait(30)  # SIGTERM: the scheduler stops its driver with failover and exits


def task_times(cluster: Cluster) -> dict[str, tuple[str, float]]:
    """task id -> (state, timestamp of its latest status) for every task the master knows."""
    state = get(f"http://{cluster.master_url}/state") or {"frameworks": []}
    out = {}
    for fw in state["frameworks"]:
        for task in fw["tasks"] + fw["completed_tasks"]:
            stamps = [s["timestamp"] for s in task["statuses"] if s.get("timestamp")]
            out[task["id"]] = (task["state"], stamps[-1] if stamps else 0.0)
    return out


def relaunch_latencies(cluster: Cluster, port: int, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        pod = eventually(lambda: _running_pod(cluster, port))
        cluster.kill_task(pod["task_id"])
        old = pod["task_id"]
        new = eventually(lambda old=old: (p := _running_pod(cluster, port)) and p["task_id"] != old and p)
        assert new["agent_id"] == pod["agent_id"], "relaunched elsewhere"
        times = eventually(lambda old=old: (t := task_times(cluster)) and t[old][0] == "TASK_FAILED" and t)
        out.append(times[new["task_id"]][1] - times[old][1])
    return out


def _running_pod(cluster: Cluster, port: int) -> dict[str, Any] | None:
    pods = get(f"http://127.0.0.1:{port}/v1/pods") or []
    times = task_times(cluster)
    live = [p for p in pods if times.get(p.get("task_id") or "", ("",))[0] == "TASK_RUNNING"]
    return live[0] if live else None


def takeover_times(schedulers: Schedulers, leader: int, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        standby = schedulers.start()
        eventually(lambda standby=standby: schedulers.role(standby) == "standby", timeout=30)
        started = time.monotonic()
        schedulers.kill(leader)
        eventually(lambda standby=standby: schedulers.role(standby) == "leader", timeout=60)
        out.append(time.monotonic() - started)
        leader = standby
    return out


def lock_takeovers(zk: ZooKeeperServer, session: float, rounds: int) -> list[float]:
    from kazoo.client import KazooClient

    out = []
    for i in range(rounds):
        path = f"/bench-lock-{os.getpid()}-{i}"
        holder = subprocess.Popen(
            [sys.executable, "-c", LOCK_HOLDER, zk.hosts, str(session), path], stdout=subprocess.PIPE
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        client = KazooClient(zk.hosts, timeout=session)
        client.start()
        lock = client.Lock(path, "contender")
        started = time.monotonic()
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        lock.acquire(timeout=60)
        out.append(time.monotonic() - started)
        client.stop()  # releases the lock with the session
        client.close()
    return out


class _Recorder:
    """The baseline's pymesos callbacks record; the bench's main thread decides."""

    def __init__(self) -> None:
        self.offers: queue.Queue[dict[str, Any]] = queue.Queue()
        self.updates: queue.Queue[dict[str, Any]] = queue.Queue()
        self.subscribed = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return lambda *args: None  # pymesos calls every callback by name

    def registered(self, *args: Any) -> None:
        self.subscribed.set()

    def resourceOffers(self, driver: Any, offers: list[dict[str, Any]]) -> None:  # noqa: N802
        for offer in offers:
            self.offers.put(offer)

    def statusUpdate(self, driver: Any, status: dict[str, Any]) -> None:  # noqa: N802
        self.updates.put(status)


def _launch(sched: _Recorder, driver: Any, agent: str | None) -> tuple[str, str, float]:
    """Launch `sleep` on the next offer (from `agent` if given); (task id, agent id, RUNNING timestamp)."""
    while True:
        offer = sched.offers.get(timeout=30)
        if agent is None or offer["agent_id"]["value"] == agent:
            break
        driver.declineOffer([offer["id"]], {"refuse_seconds": 3600})
    wanted = {"cpus": 0.1, "mem": 32.0}
    resources = [
        dict(r, scalar={"value": wanted[r["name"]]}) for r in offer["resources"] if r["name"] in wanted
    ]
    task_id = f"baseline-{time.monotonic_ns()}"
    task = {"name": "baseline", "task_id": {"value": task_id}, "agent_id": offer["agent_id"]}
    task |= {"resources": resources, "command": {"shell": True, "value": "exec sleep 600"}}
    launch = {"type": "LAUNCH", "launch": {"task_infos": [task]}}
    driver.acceptOffers([offer["id"]], [launch], {"refuse_seconds": 3600})
    status = _status(sched, task_id, "TASK_RUNNING")
    return task_id, offer["agent_id"]["value"], float(status["timestamp"])


def _status(sched: _Recorder, task_id: str, state: str) -> dict[str, Any]:
    while True:
        status = sched.updates.get(timeout=30)
        if status["task_id"]["value"] == task_id and status["state"] == state:
            return status


def baseline_relaunches(cluster: Cluster, rounds: int) -> list[float]:
    """A minimal pymesos framework: on TASK_FAILED, revive and launch again on the same agent."""
    from pymesos import MesosSchedulerDriver

    sched = _Recorder()
    info = {"user": "root", "name": "baseline", "role": "baseline", "failover_timeout": 60.0}
    driver = MesosSchedulerDriver(sched, info, cluster.master_url, use_addict=False)
    driver.start()
    out = []
    try:
        assert sched.subscribed.wait(30), "the baseline framework never subscribed"
        task_id, agent, _ = _launch(sched, driver, None)
        for _ in range(rounds):
            cluster.kill_task(task_id)
            failed = float(_status(sched, task_id, "TASK_FAILED")["timestamp"])
            driver.reviveOffers()
            task_id, _, running = _launch(sched, driver, agent)
            out.append(running - failed)
    finally:
        driver.stop()  # TEARDOWN: the baseline leaves nothing behind
        driver.join()
    return out


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms (max {max(values) * 1000:.0f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--session", type=float, default=4.0, help="ZooKeeper session timeout, seconds")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        zk = ZooKeeperServer(work / "zk")
        zk.start()
        cluster = Cluster(work / "cluster", agents=2, port=0, allocation_interval=0.1)
        cluster.start()
        schedulers = Schedulers(work, cluster.master_url, f"zk://{zk.hosts}/bench", args.session)
        try:
            baseline = baseline_relaunches(cluster, args.rounds)
            leader = schedulers.start()
            eventually(lambda: schedulers.role(leader) == "leader", timeout=30)
            relaunch = relaunch_latencies(cluster, leader, args.rounds)
            takeover = takeover_times(schedulers, leader, max(1, args.rounds // 2))
            election = lock_takeovers(zk, args.session, max(1, args.rounds // 2))
        finally:
            schedulers.stop()
            cluster.stop()
            zk.stop()
    runs = {"relaunch": relaunch, "baseline": baseline, "takeover": takeover, "election": election}
    body = report(runs, args.session)
    print(body)
    if not args.no_write:
        write_section("scheduler-failover", body)
    return 0


def report(runs: dict[str, list[float]], session: float) -> str:
    def row(name: str, ours: str, base: str) -> list[str]:
        ratio = statistics.median(runs[ours]) / statistics.median(runs[base])
        return [name, ms(runs[ours]), ms(runs[base]), f"{ratio:.1f}x"]

    rows = [
        row("relaunch in place: TASK_FAILED -> TASK_RUNNING, same agent", "relaunch", "baseline"),
        row("leader takeover after SIGKILL (standby subscribed)", "takeover", "election"),
    ]
    return (
        "## scheduler: relaunch and leader takeover (issue 3)\n\n"
        f"localmesos (2 agents, allocation every 0.1 s), a real ZooKeeper (session {session:.0f} s) and\n"
        "`python -m mesopress scheduler` processes. Median (max) of "
        f"{len(runs['relaunch'])} relaunches and {len(runs['takeover'])} takeovers.\n"
        "*Relaunch baseline*: a minimal pymesos framework relaunching the same command on the next offer\n"
        "from the same agent (no ZooKeeper, no reservation). *Takeover baseline*: a kazoo Lock held by a\n"
        "process killed with SIGKILL, taken by a waiting contender (the election alone; both wait for the\n"
        "session to expire).\n\n" + table(["measurement", "mesopress", "baseline", "ratio"], rows)
    )


if __name__ == "__main__":
    sys.exit(main())
