"""``python -m localmesos`` as a user runs it: readiness line on stdout, fault subcommand, flag errors,
and a clean exit on SIGTERM that leaves no process behind (task processes included).
"""

from __future__ import annotations

import getpass
import http.client
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymesos import MesosSchedulerDriver, Scheduler

from support.waiting import wait_for

TIMEOUT = 30.0
READY_PREFIX = "localmesos master at "


def localmesos(*args: str) -> list[str]:
    return [sys.executable, "-m", "localmesos", *args]


def read_ready_line(proc: subprocess.Popen[str], timeout: float = TIMEOUT) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"localmesos exited early with {proc.returncode}")
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if line.startswith(READY_PREFIX):
                return line[len(READY_PREFIX) :].strip()
    raise AssertionError("localmesos did not print its address")


def descendants(root: int) -> set[int]:
    """Live (non-zombie) descendants of ``root``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is not None and stat[0] != "Z":
            children.setdefault(stat[1], []).append(int(entry))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def http_status(address: str, path: str) -> int:
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    stderr = open(tmp_path / "localmesos.stderr", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        localmesos(
            "--agents",
            "1",
            "--port",
            "0",
            "--work-dir",
            str(tmp_path / "lm"),
            "--allocation-interval",
            "0.2",
            "--heartbeat-interval",
            "0.5",
        ),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    try:
        yield proc, read_ready_line(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT)
        if proc.stdout is not None:
            proc.stdout.close()
        stderr.close()


class Launcher(Scheduler):
    """Launches the given tasks on the first offer and records task states."""

    def __init__(self, tasks: list[dict[str, Any]]) -> None:
        self.tasks = tasks
        self.states: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def resourceOffers(self, driver: Any, offers: list[dict[str, Any]]) -> None:  # noqa: N802
        for offer in offers:
            if self.tasks:
                tasks = [dict(t, agent_id=offer["agent_id"]) for t in self.tasks]
                self.tasks = []
                driver.launchTasks(offer["id"], tasks)
            else:
                driver.declineOffer(offer["id"])

    def statusUpdate(self, driver: Any, status: dict[str, Any]) -> None:  # noqa: N802
        with self._lock:
            self.states.setdefault(status["task_id"]["value"], []).append(status["state"])

    def seen(self, task_id: str, state: str) -> bool:
        with self._lock:
            return state in self.states.get(task_id, [])


def sleep_task(task_id: str) -> dict[str, Any]:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32.0}},
        ],
        "command": {"shell": True, "value": "exec sleep 300"},
    }


def fault(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        localmesos("fault", "--master", address, *args), capture_output=True, text=True, timeout=TIMEOUT
    )


def test_run_fault_and_sigterm_leave_nothing_behind(running: tuple[subprocess.Popen[str], str]) -> None:
    proc, address = running
    assert address.startswith("127.0.0.1:")
    assert http_status(address, "/health") == 200

    sched = Launcher([sleep_task("sleeper-1"), sleep_task("sleeper-2")])
    framework = {"user": getpass.getuser(), "name": "cli-test", "failover_timeout": 300.0}
    driver = MesosSchedulerDriver(sched, framework, address, failover=True)
    driver.start()
    try:
        wait_for(
            lambda: sched.seen("sleeper-1", "TASK_RUNNING") and sched.seen("sleeper-2", "TASK_RUNNING"),
            what="both tasks running",
        )
        tasks = wait_for(
            lambda: len(descendants(proc.pid)) >= 2 and descendants(proc.pid), what="task processes"
        )

        killed = fault(address, "kill-task", "sleeper-1")
        assert killed.returncode == 0, killed.stderr
        assert '"ok": true' in killed.stdout
        wait_for(lambda: sched.seen("sleeper-1", "TASK_FAILED"), what="TASK_FAILED after kill-task")

        unknown = fault(address, "stop-agent", "agent-42")
        assert unknown.returncode != 0
        assert "404" in unknown.stderr
    finally:
        driver.stop(failover=True)
        driver.join()

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(TIMEOUT) == 0
    wait_for(lambda: not any(alive(pid) for pid in tasks), what="task processes to be gone")


def test_fault_needs_a_reachable_master(tmp_path: Path) -> None:
    result = fault("127.0.0.1:1", "restart-master")
    assert result.returncode == 1
    assert "cannot reach" in result.stderr


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--agents", "-1"], "--agents"),
        (["--port", "70000"], "--port"),
        (["--principal", "fw"], "--principal"),
        (["--agent-resources", "cpus:lots"], "--agent-resources"),
        (["--agent-attributes", "rack"], "--agent-attributes"),
        (["--zk", "http://127.0.0.1:2181/mesos"], "--zk"),
        (["--allocation-interval", "0"], "--allocation-interval"),
        (["--agents", "two"], "--agents"),
        (["--agents", "40"], "--agents"),
    ],
    ids=[
        "negative-agents",
        "port-out-of-range",
        "principal-without-secret",
        "bad-resources",
        "bad-attributes",
        "zk-not-zk-url",
        "zero-interval",
        "agents-not-a-number",
        "port-ranges-beyond-65535",
    ],
)
def test_bad_flags_exit_2_naming_the_flag(tmp_path: Path, args: list[str], flag: str) -> None:
    result = subprocess.run(
        localmesos("--work-dir", str(tmp_path), *args), capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == 2
    assert flag in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["fault", "--master", "127.0.0.1:5050", "stop-agent"],
        ["fault", "--master", "nowhere", "restart-master"],
        ["fault", "--master", "127.0.0.1:5050", "explode"],
    ],
    ids=["missing-agent", "master-not-host-port", "unknown-action"],
)
def test_bad_fault_usage_exits_2(args: list[str]) -> None:
    result = subprocess.run(localmesos(*args), capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2
    assert "error" in result.stderr


def test_missing_work_dir_exits_2() -> None:
    result = subprocess.run(localmesos("--agents", "1"), capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 2
    assert "--work-dir" in result.stderr


def test_run_with_zk_announces_the_master(tmp_path: Path, zk_hosts_chroot: str) -> None:
    from kazoo.client import KazooClient

    proc = subprocess.Popen(
        localmesos(
            "--agents",
            "0",
            "--port",
            "0",
            "--work-dir",
            str(tmp_path / "lm"),
            "--zk",
            f"zk://{zk_hosts_chroot}/mesos",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    client = KazooClient(hosts=zk_hosts_chroot, timeout=10)
    client.start(timeout=15)
    try:
        address = read_ready_line(proc)
        children = wait_for(lambda: client.get_children("/mesos"), what="the master znode")
        assert len(children) == 1 and children[0].startswith("json.info_")
        assert f'"port": {address.rsplit(":", 1)[1]}' in client.get(f"/mesos/{children[0]}")[0].decode()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(TIMEOUT) == 0
        assert client.get_children("/mesos") == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
        if proc.stdout is not None:
            proc.stdout.close()
        client.stop()
        client.close()
