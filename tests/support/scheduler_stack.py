"""Shared helpers of the end-to-end tests that run the scheduler as subprocesses against localmesos.

Why it exists: each e2e module tells one story (issue 3's faults, Galera's) over the same machinery: a
localmesos cluster whose agents sit on distinct loopback hosts, a real ZooKeeper reached through a TCP
proxy that a test can cut (a partition), `python -m mesopress scheduler` processes with their logs, and
small JSON helpers over the API. Every process started here is stopped by `Stack.stop`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localmesos.cluster import Cluster
from localmesos.zkserver import ZooKeeperServer, free_port
from support.blackhole import Blackhole
from support.ports import agent_ports
from support.waiting import eventually

REPO = Path(__file__).resolve().parents[2]


@dataclass
class SchedulerProc:
    port: int
    proxy: Blackhole
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def identity(self) -> str:
        return f"127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Stack:
    cluster: Cluster
    zk: ZooKeeperServer
    work: Path
    zk_path: str
    service: str
    schedulers: list[SchedulerProc] = field(default_factory=list)
    wait: float = 40.0

    def start_scheduler(self) -> SchedulerProc:
        proxy = Blackhole(self.zk.hosts)
        port = free_port()
        log = self.work / f"scheduler-{port}.log"
        service = self.work / "service.yaml"
        service.write_text(self.service)
        cmd = [sys.executable, "-m", "mesopress", "scheduler", "--config", str(service)]
        cmd += ["--master", self.cluster.master_url, "--http-port", str(port), "--hostname", "127.0.0.1"]
        cmd += ["--zk", f"zk://127.0.0.1:{proxy.port}{self.zk_path}"]
        env = {**os.environ, "MESOPRESS_ZK_SESSION_TIMEOUT": "4"}
        with log.open("wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        self.schedulers.append(SchedulerProc(port, proxy, proc, log))
        return self.schedulers[-1]

    def alive(self) -> list[SchedulerProc]:
        return [s for s in self.schedulers if s.proc.poll() is None]

    def leader(self) -> SchedulerProc:
        def find() -> SchedulerProc | None:
            for s in self.alive():
                state = get(s.port, "/v1/state")
                if isinstance(state, dict) and state.get("role") == "leader" and state.get("subscribed"):
                    return s
            return None

        return eventually(find, timeout=self.wait, message="no subscribed leader")

    def stop(self) -> None:
        for s in self.schedulers:
            if s.proc.poll() is None:
                s.proc.send_signal(signal.SIGTERM)
        for s in self.schedulers:
            try:
                s.proc.wait(15)
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait(5)
            s.proxy.close()


def get(port: int, path: str) -> Any:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError) as err:
        return {"error": repr(err)}


def post(port: int, path: str) -> tuple[int, Any]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def task_user_work_dir(prefix: str) -> Path:
    """A fresh directory in /tmp that a task user (mysql, www-data) can traverse down to its sandbox and
    volume (mode 0755); the caller removes it."""
    work = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    work.chmod(0o755)
    return work


@contextlib.contextmanager
def running_stack(
    zk: ZooKeeperServer,
    work: Path,
    service: str,
    agents: int,
    resources: str,
    ports_per_agent: int,
    wait: float = 60.0,
    prefix: str = "e2e",
) -> Iterator[Stack]:
    """A started localmesos cluster (agents on distinct loopback hosts, quick allocation and failure
    detection; each agent has `resources` plus its own free block of `ports_per_agent` ports) and a
    `Stack` over it in a fresh ZooKeeper path; schedulers are started by the caller. Everything is stopped
    on exit."""
    cluster = Cluster(
        work / "cluster",
        distinct_hosts=True,
        agents=agents,
        port=0,
        allocation_interval=0.2,
        agent_unreachable_timeout=3.0,
        status_update_retry=1.0,
        agent_resources=f"{resources};ports:{agent_ports(agents, ports_per_agent)[1]}",
    )
    cluster.start()
    stack = Stack(cluster, zk, work, f"/{prefix}-{uuid.uuid4().hex[:8]}/mesopress", service, wait=wait)
    try:
        yield stack
    finally:
        stack.stop()
        cluster.stop()
