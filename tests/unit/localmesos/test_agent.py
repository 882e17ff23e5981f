"""Agent: real command tasks in Mesos-like sandboxes, volumes, reliable updates, kills, health, restarts.

Every test drives a real ``Agent`` against a recording fake master and real processes under tmp_path; the
``agent`` fixture stops the agent (SIGKILL to every task) afterwards. Waiting is always on a condition
with a timeout, never a bare sleep.
"""

from __future__ import annotations

import base64
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localmesos import checkpoint, executor, healthcheck, volumes
from localmesos.agent import Agent

FW = "M-0000"
FW_INFO = {"id": {"value": FW}, "user": "root", "name": "test"}
TIMEOUT = 15.0


class AgentRefused(Exception):
    """Stands in for master.AgentRefused (the agent matches it by name)."""


class FakeMaster:
    """Records every MasterLink call; optionally acknowledges updates as a framework would."""

    def __init__(self, auto_ack: bool = True) -> None:
        self.cond = threading.Condition()
        self.auto_ack = auto_ack
        self.registrations: list[tuple[str | None, dict[str, Any], str]] = []
        self.updates: list[dict[str, Any]] = []
        self.disconnected: list[str] = []
        self.refused: set[str | None] = set()
        self.agent: Any = None
        self._n = 0

    def register_agent(self, agent: Any, agent_id: str | None, info: dict[str, Any]) -> str:
        with self.cond:
            if agent_id in self.refused:
                raise AgentRefused(f"agent {agent_id} is gone")
            if agent_id is None:
                self._n += 1
                new_id = f"M-S{self._n}"
            else:
                new_id = agent_id
            self.agent = agent
            self.registrations.append((agent_id, info, new_id))
            self.cond.notify_all()
            return new_id

    def status_update(self, agent_id: str, framework_id: str, status: dict[str, Any]) -> None:
        with self.cond:
            self.updates.append(dict(status, framework=framework_id, received=time.monotonic()))
            self.cond.notify_all()
        if self.auto_ack:
            self.agent.acknowledge(framework_id, status["task_id"]["value"], status["uuid"])

    def agent_disconnected(self, agent_id: str) -> None:
        with self.cond:
            self.disconnected.append(agent_id)
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
        with self.cond:
            result = self.cond.wait_for(predicate, timeout)
        assert result, "condition not met in time"
        return result

    def of(self, task_id: str) -> list[dict[str, Any]]:
        with self.cond:
            return [u for u in self.updates if u["task_id"]["value"] == task_id]

    def unique(self, task_id: str) -> list[dict[str, Any]]:
        """Updates in delivery order, each uuid counted once (retries removed)."""
        seen, unique = set(), []
        for update in self.of(task_id):
            if update["uuid"] not in seen:
                seen.add(update["uuid"])
                unique.append(update)
        return unique

    def states(self, task_id: str) -> list[str]:
        return [u["state"] for u in self.unique(task_id)]

    def wait_state(self, task_id: str, state: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            matches = [u for u in self.updates if u["task_id"]["value"] == task_id and u["state"] == state]
            return matches[-1] if matches else None

        return self.wait_for(found, timeout)


def wait_until(predicate: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    """Poll a condition that no master call signals (files, processes) until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def process_alive(pid: int) -> bool:
    return executor.start_ticks(pid) is not None


def make_task(
    task_id: str, command: str, resources: list[dict[str, Any]] | None = None, **extra: Any
) -> dict:
    return {
        "task_id": {"value": task_id},
        "name": task_id,
        "agent_id": {"value": "ignored"},
        "resources": resources or [],
        "command": {"value": command},
        **extra,
    }


def volume(persistence_id: str, container_path: str = "data", role: str = "db") -> dict[str, Any]:
    return {
        "name": "disk",
        "type": "SCALAR",
        "scalar": {"value": 64},
        "reservations": [{"type": "DYNAMIC", "role": role, "principal": "p"}],
        "disk": {
            "persistence": {"id": persistence_id, "principal": "p"},
            "volume": {"container_path": container_path, "mode": "RW"},
        },
    }


CPUS = {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}}


@pytest.fixture
def master() -> FakeMaster:
    return FakeMaster()


@pytest.fixture
def make_agent(tmp_path: Path) -> Iterator[Callable[..., Agent]]:
    agents: list[Agent] = []

    def build(master: FakeMaster, work_dir: Path | None = None, **kwargs: Any) -> Agent:
        kwargs.setdefault("status_update_retry", 0.05)
        kwargs.setdefault("executor_shutdown_grace", 1.0)
        agent = Agent("agent-0", work_dir or tmp_path / "agent", [CPUS], [], master, **kwargs)
        agents.append(agent)
        return agent

    yield build
    for agent in agents:
        agent.stop()


@pytest.fixture
def agent(master: FakeMaster, make_agent: Callable[..., Agent]) -> Agent:
    agent = make_agent(master)
    agent.start()
    return agent


def volume_dir(agent: Agent, persistence_id: str, role: str = "db") -> Path:
    return agent.work_dir / "volumes" / "roles" / role / persistence_id


# --- running tasks -------------------------------------------------------------------------------


def test_task_finishes_in_a_mesos_sandbox_and_writes_its_volume(agent: Agent, master: FakeMaster) -> None:
    agent.checkpoint_resources([CPUS, volume("v1")])
    wait_until(lambda: volume_dir(agent, "v1").is_dir())
    command = 'echo hello > data/f && echo "$MESOS_TASK_ID $MESOS_FRAMEWORK_ID $MESOS_SANDBOX $GREETING"'
    env = {"variables": [{"name": "GREETING", "value": "hi"}]}
    task = make_task("t1", command, [volume("v1")])
    task["command"]["environment"] = env
    agent.run_task(FW, FW_INFO, task)
    final = master.wait_state("t1", "TASK_FINISHED")
    assert master.states("t1") == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert final["message"] == "Command exited with status 0"
    assert final["source"] == "SOURCE_EXECUTOR"
    assert final["agent_id"] == {"value": "M-S1"}
    assert final["executor_id"] == {"value": "t1"}
    assert len(base64.b64decode(final["uuid"])) == 16
    assert isinstance(final["timestamp"], float)
    assert (volume_dir(agent, "v1") / "f").read_text() == "hello\n"
    runs = agent.work_dir / "slaves" / "M-S1" / "frameworks" / FW / "executors" / "t1" / "runs"
    sandbox = (runs / "latest").resolve()
    assert sandbox.parent == runs
    assert (sandbox / "stdout").read_text() == f"t1 {FW} {sandbox} hi\n"
    assert (sandbox / "data").resolve() == volume_dir(agent, "v1")
    assert (agent.work_dir / "slaves" / "latest").resolve() == agent.work_dir / "slaves" / "M-S1"


def test_task_forgotten_after_terminal_ack(agent: Agent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, make_task("t1", "true"))
    master.wait_state("t1", "TASK_FINISHED")
    wait_until(lambda: not agent.task_states())
    assert not list((agent.work_dir / "meta" / "tasks").glob("*/*.json"))


def test_non_zero_exit_fails_the_task(agent: Agent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, make_task("t1", "echo oops >&2; exit 3"))
    final = master.wait_state("t1", "TASK_FAILED")
    assert final["message"] == "Command exited with status 3"
    assert master.states("t1") == ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"]


def test_shell_false_runs_value_with_arguments(agent: Agent, master: FakeMaster) -> None:
    task = make_task("t1", "/bin/sh")
    task["command"].update(shell=False, arguments=["sh", "-c", "exit 7"])
    agent.run_task(FW, FW_INFO, task)
    assert master.wait_state("t1", "TASK_FAILED")["message"] == "Command exited with status 7"


def test_missing_executable_fails_the_launch(agent: Agent, master: FakeMaster) -> None:
    task = make_task("t1", "/no/such/binary")
    task["command"].update(shell=False, arguments=["x"])
    agent.run_task(FW, FW_INFO, task)
    final = master.wait_state("t1", "TASK_FAILED")
    assert final["message"].startswith("Failed to launch task subprocess")
    assert master.states("t1") == ["TASK_STARTING", "TASK_FAILED"]


# --- killing -------------------------------------------------------------------------------------


def running_pid(master: FakeMaster, task_id: str) -> int:
    return int(master.wait_state(task_id, "TASK_RUNNING")["container_status"]["executor_pid"])


def test_kill_task_sends_sigterm_and_reports_killed(agent: Agent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100"))
    pid = running_pid(master, "t1")
    agent.kill_task(FW, "t1", None)
    final = master.wait_state("t1", "TASK_KILLED")
    assert final["message"] == "Command terminated with signal Terminated"
    assert not process_alive(pid)


def test_kill_escalates_to_sigkill_after_the_grace_period(agent: Agent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, make_task("t1", "trap '' TERM; touch ready; sleep 100"))
    running_pid(master, "t1")
    sandbox = wait_until(lambda: agent.sandbox(FW, "t1"))
    wait_until(lambda: (sandbox / "ready").exists())
    started = time.monotonic()
    agent.kill_task(FW, "t1", {"grace_period": {"nanoseconds": 500_000_000}})
    final = master.wait_state("t1", "TASK_KILLED")
    assert time.monotonic() - started >= 0.5
    assert final["message"] == "Command terminated with signal Killed"


def test_task_kill_policy_is_the_default_grace(agent: Agent, master: FakeMaster) -> None:
    task = make_task(
        "t1", "trap '' TERM; touch ready; sleep 100", kill_policy={"grace_period": {"nanoseconds": 0}}
    )
    agent.run_task(FW, FW_INFO, task)
    running_pid(master, "t1")
    sandbox = wait_until(lambda: agent.sandbox(FW, "t1"))
    wait_until(lambda: (sandbox / "ready").exists())
    agent.kill_task(FW, "t1", None)
    assert master.wait_state("t1", "TASK_KILLED", timeout=2.5)["message"].endswith("Killed")


def test_killing_state_for_frameworks_that_ask_for_it(agent: Agent, master: FakeMaster) -> None:
    info = dict(FW_INFO, capabilities=[{"type": "TASK_KILLING_STATE"}])
    agent.run_task(FW, info, make_task("t1", "sleep 100"))
    running_pid(master, "t1")
    agent.kill_task(FW, "t1", None)
    master.wait_state("t1", "TASK_KILLED")
    assert master.states("t1") == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_KILLED"]


def test_kill_of_unknown_or_finished_task_is_a_no_op(agent: Agent, master: FakeMaster) -> None:
    agent.kill_task(FW, "nope", None)
    agent.run_task(FW, FW_INFO, make_task("t1", "true"))
    master.wait_state("t1", "TASK_FINISHED")
    agent.kill_task(FW, "t1", None)
    agent.run_task(FW, FW_INFO, make_task("t2", "true"))
    master.wait_state("t2", "TASK_FINISHED")
    assert master.states("t1") == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert not master.of("nope")


def test_kill_task_processes_fails_the_task(agent: Agent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100"))
    pid = running_pid(master, "t1")
    agent.kill_task_processes("t1")
    final = master.wait_state("t1", "TASK_FAILED")
    assert final["message"] == "Command terminated with signal Killed"
    assert not process_alive(pid)


def test_task_exit_kills_what_is_left_of_its_process_group(agent: Agent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100 & echo $! > child; exit 0"))
    master.wait_state("t1", "TASK_FINISHED")
    child = next(agent.work_dir.glob("slaves/*/frameworks/*/executors/t1/runs/latest/child"))
    wait_until(lambda: not process_alive(int(child.read_text())))


def test_stop_kills_task_processes_that_left_the_process_group(agent: Agent, master: FakeMaster) -> None:
    escape = "import os, time; os.setpgid(0, 0); open('child', 'w').write(str(os.getpid())); time.sleep(100)"
    agent.run_task(FW, FW_INFO, make_task("t1", f'{sys.executable} -c "{escape}" & wait'))
    running_pid(master, "t1")
    child = wait_until(
        lambda: next(agent.work_dir.glob("slaves/*/frameworks/*/executors/t1/runs/latest/child"), None)
    )
    pid = int(wait_until(child.read_text))
    assert os.getpgid(pid) == pid
    agent.stop()
    wait_until(lambda: not process_alive(pid))


def test_shutdown_framework_kills_its_tasks(agent: Agent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100"))
    agent.run_task(FW, FW_INFO, make_task("t2", "sleep 100"))
    agent.run_task("other", dict(FW_INFO, id={"value": "other"}), make_task("t3", "sleep 100"))
    pids = [running_pid(master, t) for t in ("t1", "t2")]
    running_pid(master, "t3")
    agent.shutdown_framework(FW)
    master.wait_state("t1", "TASK_KILLED")
    master.wait_state("t2", "TASK_KILLED")
    assert not any(process_alive(pid) for pid in pids)
    wait_until(lambda: list(agent.task_states()) == [("other", "t3")])


# --- reliable status updates ---------------------------------------------------------------------


def test_updates_are_retried_until_acknowledged_and_delivered_in_order(
    make_agent: Callable[..., Agent],
) -> None:
    master = FakeMaster(auto_ack=False)
    agent = make_agent(master, status_update_retry=0.02)
    agent.start()
    agent.run_task(FW, FW_INFO, make_task("t1", "true"))
    master.wait_for(lambda: len(master.of("t1")) >= 4)
    first = master.of("t1")[:4]
    assert {u["state"] for u in first} == {"TASK_STARTING"}
    assert len({u["uuid"] for u in first}) == 1
    for expected in ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"):
        head = master.wait_for(lambda e=expected: [u for u in master.of("t1") if u["state"] == e])[0]
        agent.acknowledge(FW, "t1", "bogus-uuid")
        agent.acknowledge(FW, "t1", head["uuid"])
    wait_until(lambda: not agent.task_states())
    assert master.states("t1") == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]


def test_retry_backoff_doubles(make_agent: Callable[..., Agent]) -> None:
    master = FakeMaster(auto_ack=False)
    agent = make_agent(master, status_update_retry=0.1)
    agent.start()
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100"))
    master.wait_for(lambda: len(master.of("t1")) >= 4, timeout=5)
    sends = [u["received"] for u in master.of("t1")[:4]]
    gaps = [b - a for a, b in zip(sends, sends[1:], strict=False)]
    assert gaps[1] > gaps[0] * 1.3 and gaps[2] > gaps[1] * 1.3


def test_reregister_resends_the_pending_update(make_agent: Callable[..., Agent]) -> None:
    master = FakeMaster(auto_ack=False)
    agent = make_agent(master, status_update_retry=60)
    agent.start()
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100"))
    starting = master.wait_state("t1", "TASK_STARTING")
    new_master = FakeMaster(auto_ack=False)
    agent.reregister(new_master)
    resent = new_master.wait_state("t1", "TASK_STARTING")
    assert resent["uuid"] == starting["uuid"]
    agent_id, info, _ = new_master.registrations[0]
    assert agent_id == "M-S1"
    assert [(t["framework_id"], t["task"]["task_id"]["value"]) for t in info["tasks"]] == [(FW, "t1")]
    assert info["tasks"][0]["state"] == "TASK_RUNNING"
    assert info["frameworks"][0]["id"] == {"value": FW}


# --- stop / start / reboot -----------------------------------------------------------------------


def test_stop_kills_everything_and_start_reports_executor_terminated(
    agent: Agent, master: FakeMaster
) -> None:
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100"))
    pid = running_pid(master, "t1")
    agent.stop()
    assert not process_alive(pid)
    assert master.disconnected == ["M-S1"]
    agent.start()
    final = master.wait_state("t1", "TASK_FAILED")
    assert final["reason"] == "REASON_EXECUTOR_TERMINATED"
    assert final["source"] == "SOURCE_AGENT"
    requested, info, new_id = master.registrations[-1]
    assert requested == new_id == "M-S1"
    assert [(t["task"]["task_id"]["value"], t["state"]) for t in info["tasks"]] == [("t1", "TASK_FAILED")]
    wait_until(lambda: not agent.task_states())


def test_unacknowledged_updates_survive_a_restart(make_agent: Callable[..., Agent]) -> None:
    master = FakeMaster(auto_ack=False)
    agent = make_agent(master, status_update_retry=30)
    agent.start()
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100"))
    starting = master.wait_state("t1", "TASK_STARTING")
    wait_until(lambda: agent.task_states().get((FW, "t1")) == "TASK_RUNNING")
    agent.stop()
    agent.start()
    resent = master.wait_for(lambda: master.of("t1")[1:])[0]
    assert resent["uuid"] == starting["uuid"]
    master.auto_ack = True
    agent.acknowledge(FW, "t1", starting["uuid"])
    master.wait_state("t1", "TASK_FAILED")
    assert master.states("t1") == ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"]


def test_reboot_registers_anew_and_keeps_volume_data(agent: Agent, master: FakeMaster) -> None:
    agent.checkpoint_resources([CPUS, volume("v1")])
    agent.run_task(FW, FW_INFO, make_task("t1", "echo kept > data/f; sleep 100", [volume("v1")]))
    running_pid(master, "t1")
    wait_until(lambda: (volume_dir(agent, "v1") / "f").exists())
    agent.reboot()
    requested, info, new_id = master.registrations[-1]
    assert requested is None and new_id == "M-S2"
    assert volume("v1") in info["resources"]
    assert info["tasks"] == []
    assert (volume_dir(agent, "v1") / "f").read_text() == "kept\n"
    assert master.disconnected == ["M-S1"]
    assert not [u for u in master.of("t1") if u["state"] == "TASK_FAILED"]


def test_destroy_deletes_the_volume_directory(agent: Agent) -> None:
    agent.checkpoint_resources([CPUS, volume("v1"), volume("v2", role="a/b")])
    wait_until(lambda: volume_dir(agent, "v1").is_dir() and volume_dir(agent, "v2", role="a b").is_dir())
    (volume_dir(agent, "v1") / "data").write_text("x")
    agent.checkpoint_resources([CPUS, volume("v2", role="a/b")])
    wait_until(lambda: not volume_dir(agent, "v1").exists())
    assert volume_dir(agent, "v2", role="a b").is_dir()
    agent.stop()
    agent.start()
    assert agent.total == [CPUS, volume("v2", role="a/b")]


def test_refused_agent_stays_stopped(make_agent: Callable[..., Agent]) -> None:
    master = FakeMaster()
    agent = make_agent(master)
    agent.start()
    agent.stop()
    master.refused.add("M-S1")
    agent.start()
    assert not agent.running and agent.refused


def test_refused_reregistration_stops_the_agent(agent: Agent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100"))
    pid = running_pid(master, "t1")
    master.refused.add("M-S1")
    agent.reregister(master)
    wait_until(lambda: not agent.running)
    assert agent.refused and not process_alive(pid)


# --- users ---------------------------------------------------------------------------------------


@pytest.fixture
def open_work_dir() -> Iterator[Path]:
    """A work dir that other users can traverse (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="localmesos-agent-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to switch users")
def test_task_runs_as_nobody_and_owns_its_volume(
    master: FakeMaster, make_agent: Callable[..., Agent], open_work_dir: Path
) -> None:
    agent = make_agent(master, work_dir=open_work_dir / "agent")
    agent.start()
    agent.checkpoint_resources([CPUS, volume("v1")])
    info = dict(FW_INFO, user="nobody")
    agent.run_task(FW, info, make_task("t1", "id -u > data/uid; touch data/x", [volume("v1")]))
    master.wait_state("t1", "TASK_FINISHED")
    nobody = executor.resolve_user("nobody")
    assert nobody is not None
    assert (volume_dir(agent, "v1") / "uid").read_text() == f"{nobody.uid}\n"
    assert volume_dir(agent, "v1").stat().st_uid == nobody.uid
    assert (volume_dir(agent, "v1") / "x").stat().st_uid == nobody.uid
    sandbox = next(agent.work_dir.glob("slaves/*/frameworks/*/executors/t1/runs/latest"))
    assert sandbox.resolve().stat().st_uid == nobody.uid


def test_command_user_overrides_framework_user() -> None:
    task = make_task("t1", "true")
    task["command"]["user"] = "nobody"
    assert executor.task_user(task, FW_INFO) == "nobody"
    assert executor.task_user(make_task("t1", "true"), FW_INFO) == "root"


@pytest.mark.parametrize(
    ("capabilities", "state"), [([], "TASK_LOST"), ([{"type": "PARTITION_AWARE"}], "TASK_DROPPED")]
)
def test_unknown_user_is_dropped_like_mesos(
    agent: Agent, master: FakeMaster, capabilities: list[dict[str, str]], state: str
) -> None:
    info = dict(FW_INFO, user="no-such-user-xyz", capabilities=capabilities)
    agent.run_task(FW, info, make_task("t1", "true"))
    final = master.wait_state("t1", state)
    assert "No such user 'no-such-user-xyz'" in final["message"]
    assert final["source"] == "SOURCE_AGENT"
    assert final["reason"] == "REASON_EXECUTOR_TERMINATED"
    assert master.states("t1") == [state]


def test_volume_with_nested_container_path_is_skipped(agent: Agent, master: FakeMaster) -> None:
    agent.checkpoint_resources([CPUS, volume("v1", container_path="a/b")])
    agent.run_task(FW, FW_INFO, make_task("t1", "test ! -e a", [volume("v1", container_path="a/b")]))
    master.wait_state("t1", "TASK_FINISHED")


# --- health checks -------------------------------------------------------------------------------


def fast_check(**fields: Any) -> dict[str, Any]:
    check = {"delay_seconds": 0, "interval_seconds": 0.05, "grace_period_seconds": 0, "timeout_seconds": 5}
    check.update(fields)
    return check


def test_failing_command_health_check_kills_the_task(agent: Agent, master: FakeMaster) -> None:
    check = fast_check(type="COMMAND", command={"value": "test -e healthy"}, consecutive_failures=2)
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100", health_check=check))
    final = master.wait_state("t1", "TASK_KILLED")
    assert final["healthy"] is False
    health = [u for u in master.unique("t1") if u.get("reason") == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"]
    assert [u["healthy"] for u in health] == [False, False]
    assert master.states("t1") == [
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_RUNNING",
        "TASK_RUNNING",
        "TASK_KILLED",
    ]


def test_passing_command_health_check_reports_healthy_once(agent: Agent, master: FakeMaster) -> None:
    check = fast_check(type="COMMAND", command={"value": 'test "$MESOS_TASK_ID" = t1 && test -e stdout'})
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100", health_check=check))
    master.wait_for(lambda: [u for u in master.of("t1") if u.get("healthy") is True])
    agent.kill_task(FW, "t1", None)
    master.wait_state("t1", "TASK_KILLED")
    assert [u.get("healthy") for u in master.unique("t1") if "healthy" in u] == [True]


@pytest.fixture
def http_port() -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200 if self.path == "/ok" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


def test_http_and_tcp_probes(http_port: int) -> None:
    ok = healthcheck.HealthPolicy.from_json({"type": "HTTP", "http": {"port": http_port, "path": "/ok"}})
    bad = healthcheck.HealthPolicy.from_json({"type": "HTTP", "http": {"port": http_port, "path": "/bad"}})
    tcp = healthcheck.HealthPolicy.from_json({"type": "TCP", "tcp": {"port": http_port}})
    assert healthcheck.run_check(ok, None)[0] is True
    assert healthcheck.run_check(bad, None) == (False, "Unexpected HTTP response code: 503")
    assert healthcheck.run_check(tcp, None)[0] is True
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    refused = healthcheck.HealthPolicy.from_json({"type": "TCP", "tcp": {"port": closed}})
    assert healthcheck.run_check(refused, None)[0] is False


def test_http_health_check_marks_task_healthy(agent: Agent, master: FakeMaster, http_port: int) -> None:
    check = fast_check(type="HTTP", http={"port": http_port, "path": "/ok"})
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100", health_check=check))
    update = master.wait_for(lambda: [u for u in master.of("t1") if u.get("healthy") is True])[0]
    assert update["state"] == "TASK_RUNNING"
    assert update["reason"] == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"


def test_command_health_check_timeout_kills_the_probe() -> None:
    policy = healthcheck.HealthPolicy.from_json(
        {"type": "COMMAND", "command": {"value": "sleep 100"}, "timeout_seconds": 0.2}
    )
    procs: list[Any] = []
    ok, message = healthcheck.run_check(policy, None, procs.append)
    assert not ok and "has not returned" in message
    assert procs[0].returncode == -signal.SIGKILL


# --- pure pieces ---------------------------------------------------------------------------------


def policy(**fields: Any) -> healthcheck.HealthPolicy:
    return healthcheck.HealthPolicy.from_json({"type": "TCP", "tcp": {"port": 1}, **fields})


def test_health_policy_defaults_are_mesos_defaults() -> None:
    p = policy()
    assert (p.delay, p.interval, p.timeout, p.consecutive_failures, p.grace_period) == (15, 10, 20, 3, 10)
    assert policy(timeout_seconds=0).timeout is None
    assert healthcheck.HealthPolicy.from_json({"command": {"value": "true"}}).kind == "COMMAND"
    with pytest.raises(ValueError):
        healthcheck.HealthPolicy.from_json({"type": "HTTP", "http": {}})


def test_tracker_ignores_failures_in_grace_until_first_success() -> None:
    tracker = healthcheck.HealthTracker(policy(grace_period_seconds=10, consecutive_failures=2), started=0)
    assert tracker.record(False, now=5) is None
    assert tracker.record(True, now=6) == healthcheck.HealthEvent(healthy=True)
    assert tracker.record(True, now=7) is None
    assert tracker.record(False, now=8) == healthcheck.HealthEvent(healthy=False, kill=False, failures=1)
    assert tracker.record(False, now=9) == healthcheck.HealthEvent(healthy=False, kill=True, failures=2)


def test_tracker_counts_failures_after_grace_and_resets_on_success() -> None:
    tracker = healthcheck.HealthTracker(policy(grace_period_seconds=1, consecutive_failures=3), started=0)
    assert tracker.record(False, now=2) == healthcheck.HealthEvent(healthy=False, kill=False, failures=1)
    assert tracker.record(True, now=3) == healthcheck.HealthEvent(healthy=True)
    assert tracker.record(False, now=4) == healthcheck.HealthEvent(healthy=False, kill=False, failures=1)


@pytest.mark.parametrize(
    ("returncode", "message"),
    [
        (0, "Command exited with status 0"),
        (2, "Command exited with status 2"),
        (-9, "Command terminated with signal Killed"),
        (-15, "Command terminated with signal Terminated"),
    ],
)
def test_exit_messages(returncode: int, message: str) -> None:
    assert executor.exit_message(returncode) == message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (None, "/W/volumes/roles/db/v1"),
        ({"type": "PATH", "path": {"root": "/mnt/d1"}}, "/mnt/d1/volumes/roles/db/v1"),
        ({"type": "PATH", "path": {"root": "disks/d1"}}, "/W/disks/d1/volumes/roles/db/v1"),
        ({"type": "MOUNT", "mount": {"root": "/mnt/m1"}}, "/mnt/m1"),
    ],
)
def test_volume_paths(source: dict[str, Any] | None, expected: str) -> None:
    resource = volume("v1")
    if source:
        resource["disk"]["source"] = source
    found = volumes.volume_of(Path("/W"), resource)
    assert found is not None
    assert str(found.path) == expected


def test_second_kill_with_a_shorter_grace_escalates_sooner(agent: Agent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, make_task("t1", "trap '' TERM; touch ready; sleep 100"))
    running_pid(master, "t1")
    sandbox = wait_until(lambda: agent.sandbox(FW, "t1"))
    wait_until(lambda: (sandbox / "ready").exists())
    agent.kill_task(FW, "t1", {"grace_period": {"nanoseconds": 60 * 10**9}})
    agent.kill_task(FW, "t1", {"grace_period": {"nanoseconds": 0}})
    assert master.wait_state("t1", "TASK_KILLED", timeout=5)["message"].endswith("Killed")


def test_start_kills_task_processes_that_outlived_their_agent(tmp_path: Path) -> None:
    """An agent whose Python process died leaves tasks behind: the next start kills them, reports them."""
    work_dir = tmp_path / "agent"
    survivor = subprocess.Popen(["sleep", "100"], start_new_session=True)
    try:
        task = make_task("t1", "sleep 100")
        record = {
            "framework_id": FW,
            "task": task,
            "framework_info": FW_INFO,
            "container_id": "c1",
            "user": None,
            "state": "TASK_RUNNING",
            "pid": survivor.pid,
            "start_ticks": executor.start_ticks(survivor.pid),
            "updates": [],
        }
        checkpoint.write_json(work_dir / "meta" / "agent.json", {"id": "M-S7"})
        checkpoint.write_json(work_dir / "meta" / "tasks" / FW / "t1.json", record)
        master = FakeMaster()
        agent = Agent("agent-0", work_dir, [CPUS], [], master, status_update_retry=0.05)
        agent.start()
        try:
            assert survivor.wait(timeout=TIMEOUT) == -signal.SIGKILL
            final = master.wait_state("t1", "TASK_FAILED")
            assert final["reason"] == "REASON_EXECUTOR_TERMINATED"
            assert master.registrations[0][0] == "M-S7"
        finally:
            agent.stop()
    finally:
        survivor.kill()
        survivor.wait()


def test_destroying_a_mount_volume_keeps_the_mount_point(tmp_path: Path) -> None:
    root = tmp_path / "mnt"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f").write_text("x")
    (root / "g").write_text("y")
    volumes.delete_volume(volumes.Volume(root, mount=True))
    assert root.is_dir() and not any(root.iterdir())
