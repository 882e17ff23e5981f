"""Benchmark: time to Synced through the framework, beside the raw numbers of bench/galera_raw.py.

Issue 4 item 5. A localmesos cluster (3 agents on distinct loopback hosts), a real ZooKeeper and one
`python -m mesopress scheduler` process deploy a 3-node Galera pod. Measured from the outside, through the
scheduler's API (READY = the Mesos check `galera_node check` passed: Primary + Synced):

- deploy: scheduler start -> all 3 READY (offers, reservations, bundle + artifacts fetched, bootstrap,
  two serial SST joins); raw equivalent: bootstrap + 2 joins of galera-raw;
- restart in place: kill one node's task -> READY again (relaunch, recover, IST); raw: restart in place;
- full crash: all agents stopped and started -> recovery DONE and all READY (recover tasks, positions
  reported, choice, bootstrap, two joins); raw: full-crash recovery.

    .venv/bin/python bench/galera_framework.py [--restarts 3]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.report import DOC, table, write_section  # noqa: E402
from localmesos.zkserver import ZooKeeperServer  # noqa: E402
from support.scheduler_stack import Hosts, Stack, get  # noqa: E402
from support.waiting import eventually  # noqa: E402

SERVICE = """
name: benchgal
pods:
  - name: galera
    kind: galera
    cpus: 0.5
    mem: 256
    volumes: [{container_path: mysql-data, size: 200}]
    galera: {min_volume_mb: 100, options: {innodb_buffer_pool_size: 32M}}
scheduler: {role: benchgal, principal: benchgal, unreachable_timeout: 300, decline_short_seconds: 1,
            decline_long_seconds: 2, reconcile_interval: 10}
"""
LIMIT = 300.0


def galera(stack: Stack) -> dict[str, Any]:
    answer = get(stack.leader().port, "/v1/galera")
    return answer.get("galera", {}) if isinstance(answer, dict) else {}


def all_ready(stack: Stack, exclude_task: str = "") -> bool:
    pods = get(stack.leader().port, "/v1/pods")
    if not isinstance(pods, list) or len(pods) != 3:
        return False
    return all(p["status"] == "READY" and p["task_id"] != exclude_task for p in pods)


def deploy(stack: Stack) -> float:
    start = time.monotonic()
    stack.start_scheduler()
    eventually(lambda: all_ready(stack), timeout=LIMIT, interval=0.1)
    return time.monotonic() - start


def restart(stack: Stack, index: int) -> float:
    pods = {p["instance"]: p for p in get(stack.leader().port, "/v1/pods")}
    task = pods[f"galera-{index % 3}"]["task_id"]
    start = time.monotonic()
    stack.cluster.kill_task(task)
    eventually(lambda: all_ready(stack, exclude_task=task), timeout=LIMIT, interval=0.1)
    return time.monotonic() - start


def full_crash(stack: Stack) -> float:
    pods = get(stack.leader().port, "/v1/pods")
    agents = [stack.cluster.agent(p["agent_id"]) for p in pods]
    for agent in agents:
        stack.cluster.stop_agent(agent)
    eventually(lambda: (galera(stack).get("recovery") or {}).get("phase") == "COLLECTING", timeout=LIMIT)
    start = time.monotonic()
    for agent in agents:
        stack.cluster.start_agent(agent)

    def done() -> bool:
        return (galera(stack).get("recovery") or {}).get("phase") == "DONE" and all_ready(stack)

    eventually(done, timeout=LIMIT, interval=0.1)
    return time.monotonic() - start


def raw_numbers() -> dict[str, float]:
    """The raw medians of the galera-raw section (seconds), by step name."""
    out = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"^\| ([^|]+?) \| \d+ \| ([\d.]+) \|", line)
        if match:
            out[match.group(1).strip()] = float(match.group(2))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mesopress-bench-galera-", dir="/tmp"))
    work.chmod(0o755)  # the task user (mysql) must traverse it
    zk = ZooKeeperServer(work / "zk")
    zk.start()
    cluster = Hosts(
        work / "cluster",
        agents=3,
        port=0,
        allocation_interval=0.1,
        status_update_retry=1.0,
        agent_resources="cpus:0.6;mem:400;disk:300;ports:[43000-43009]",
    )
    cluster.start()
    stack = Stack(cluster, zk, work, f"/bench-{uuid.uuid4().hex[:8]}/mesopress", SERVICE, wait=60)
    try:
        results = {"deploy": [deploy(stack)]}
        results["restart"] = [restart(stack, i) for i in range(args.restarts)]
        results["crash"] = [full_crash(stack)]
    finally:
        stack.stop()
        cluster.stop()
        zk.stop()
        shutil.rmtree(work, ignore_errors=True)
    write(results)


def write(results: dict[str, list[float]]) -> None:
    """Print the medians and write the section, beside the raw baselines."""
    raw = raw_numbers()
    baselines = {
        "deploy": raw.get("bootstrap (new cluster)", 0) + 2 * raw.get("join (SST, rsync)", 0),
        "restart": raw.get("restart in place (IST)", 0),
        "crash": raw.get("full-crash recovery (3 nodes)", 0),
    }
    labels = {
        "deploy": "deploy 3 nodes to Synced (raw: bootstrap + 2 joins)",
        "restart": "kill one task -> READY again (raw: restart in place)",
        "crash": "full crash: agents back -> recovery DONE, all READY",
    }
    rows = []
    for key, values in results.items():
        median, base = statistics.median(values), baselines[key]
        ratio = f"{median / base:.1f}x" if base else "-"
        rows.append([labels[key], str(len(values)), f"{median:.1f}", f"{base:.1f}", ratio])
        print(f"{key}: {median:.1f} s (raw {base:.1f} s)", flush=True)
    body = (
        "## Galera through the framework (`bench/galera_framework.py`)\n\n"
        "Median seconds, measured through the scheduler's API (READY = the Mesos check `galera_node check`\n"
        "passed, polled every 0.1 s; the check itself runs every 3 s, which bounds the resolution). The\n"
        "raw column is taken from the galera-raw section above (same machine, run separately). The\n"
        "framework's restart is timed from the kill, so it also holds the survivors' detection of the\n"
        "killed member and the relaunch through an offer; the raw restart is timed from the start\n"
        "command of a node that was already down (see galera-raw). The full crash is timed from the\n"
        "agents' return.\n\n" + table(["step", "runs", "framework (s)", "raw (s)", "ratio"], rows)
    )
    write_section("galera-framework", body)


if __name__ == "__main__":
    main()
