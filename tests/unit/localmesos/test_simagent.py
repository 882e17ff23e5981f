"""SimAgent: the Agent interface without processes, one shared worker thread for all agents."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from localmesos.simagent import SimAgent

FW = "M-0000"
FW_INFO = {"id": {"value": FW}, "user": "root", "name": "test"}
CPUS = {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}}


class AgentRefused(Exception):
    """Stands in for master.AgentRefused (matched by name)."""


class FakeMaster:
    """Records MasterLink calls from any number of agents."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.registrations: list[tuple[str | None, dict[str, Any], str]] = []
        self.updates: list[tuple[str, dict[str, Any]]] = []
        self.disconnected: list[str] = []
        self.refused: set[str] = set()
        self._n = 0

    def register_agent(self, agent: Any, agent_id: str | None, info: dict[str, Any]) -> str:
        with self.cond:
            if agent_id in self.refused:
                raise AgentRefused(agent_id)
            if agent_id is None:
                self._n += 1
            new_id = agent_id or f"M-S{self._n}"
            self.registrations.append((agent_id, info, new_id))
            self.cond.notify_all()
            return new_id

    def status_update(self, agent_id: str, framework_id: str, status: dict[str, Any]) -> None:
        with self.cond:
            self.updates.append((agent_id, status))
            self.cond.notify_all()

    def agent_disconnected(self, agent_id: str) -> None:
        with self.cond:
            self.disconnected.append(agent_id)
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        with self.cond:
            result = self.cond.wait_for(predicate, timeout)
        assert result, "condition not met in time"
        return result

    def states(self, task_id: str) -> list[str]:
        with self.cond:
            return [s["state"] for _, s in self.updates if s["task_id"]["value"] == task_id]

    def wait_states(self, task_id: str, expected: list[str]) -> None:
        self.wait_for(lambda: self.states(task_id) == expected)


def task(task_id: str) -> dict[str, Any]:
    return {"task_id": {"value": task_id}, "name": task_id, "resources": [CPUS], "command": {"value": "x"}}


@pytest.fixture
def master() -> FakeMaster:
    return FakeMaster()


@pytest.fixture
def agent(master: FakeMaster) -> SimAgent:
    agent = SimAgent("agent-0", None, [CPUS], [], master)
    agent.start()
    return agent


def test_start_registers_with_total_and_attributes(master: FakeMaster) -> None:
    attributes = [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}]
    agent = SimAgent("agent-0", None, [CPUS], attributes, master, port=5052)
    agent.start()
    assert agent.running and agent.agent_id == "M-S1"
    requested, info, _ = master.registrations[0]
    assert requested is None
    assert info["resources"] == [CPUS] and info["attributes"] == attributes and info["port"] == 5052
    assert info["tasks"] == [] and info["frameworks"] == []


def test_run_task_reports_starting_then_running(agent: SimAgent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, task("t1"))
    master.wait_states("t1", ["TASK_STARTING", "TASK_RUNNING"])
    agent_id, status = master.updates[-1]
    assert agent_id == "M-S1" and status["agent_id"] == {"value": "M-S1"}
    assert status["executor_id"] == {"value": "t1"} and status["source"] == "SOURCE_EXECUTOR"
    assert status["uuid"]
    agent.acknowledge(FW, "t1", status["uuid"])
    assert agent.task_states() == {(FW, "t1"): "TASK_RUNNING"}


def test_kill_and_shutdown_report_killed(agent: SimAgent, master: FakeMaster) -> None:
    for task_id in ("t1", "t2", "t3"):
        agent.run_task(FW, FW_INFO, task(task_id))
    agent.kill_task(FW, "t1", None)
    master.wait_states("t1", ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"])
    agent.kill_task(FW, "t1", None)
    agent.shutdown_framework(FW)
    master.wait_states("t3", ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"])
    assert master.states("t2")[-1] == "TASK_KILLED"
    assert master.states("t1") == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]
    assert agent.task_states() == {}


def test_kill_task_processes_fails_the_task(agent: SimAgent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, task("t1"))
    agent.kill_task_processes("t1")
    master.wait_states("t1", ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"])


def test_stop_start_fails_live_tasks_and_keeps_the_id(agent: SimAgent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, task("t1"))
    master.wait_states("t1", ["TASK_STARTING", "TASK_RUNNING"])
    agent.stop()
    assert master.disconnected == ["M-S1"] and not agent.running
    agent.start()
    master.wait_states("t1", ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"])
    _, status = master.updates[-1]
    assert status["reason"] == "REASON_EXECUTOR_TERMINATED" and status["source"] == "SOURCE_AGENT"
    requested, info, new_id = master.registrations[-1]
    assert requested == new_id == "M-S1"
    assert [t["state"] for t in info["tasks"]] == ["TASK_FAILED"]
    assert agent.task_states() == {}


def test_reboot_registers_a_new_agent_with_the_checkpointed_total(
    agent: SimAgent, master: FakeMaster
) -> None:
    volume = dict(CPUS, name="disk", disk={"persistence": {"id": "v1"}})
    agent.checkpoint_resources([CPUS, volume])
    agent.run_task(FW, FW_INFO, task("t1"))
    master.wait_states("t1", ["TASK_STARTING", "TASK_RUNNING"])
    agent.reboot()
    requested, info, new_id = master.registrations[-1]
    assert requested is None and new_id == "M-S2" == agent.agent_id
    assert info["resources"] == [CPUS, volume] and info["tasks"] == []
    assert master.states("t1") == ["TASK_STARTING", "TASK_RUNNING"]


def test_refused_agent_stays_stopped(agent: SimAgent, master: FakeMaster) -> None:
    agent.stop()
    master.refused.add("M-S1")
    agent.start()
    assert not agent.running and agent.refused


def test_reregister_reports_running_tasks(agent: SimAgent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, task("t1"))
    master.wait_states("t1", ["TASK_STARTING", "TASK_RUNNING"])
    other = FakeMaster()
    agent.reregister(other)
    other.wait_for(lambda: other.registrations)
    requested, info, _ = other.registrations[0]
    assert requested == "M-S1"
    assert [(t["framework_id"], t["state"]) for t in info["tasks"]] == [(FW, "TASK_RUNNING")]
    assert info["frameworks"] == [FW_INFO]


def test_ten_thousand_agents_share_one_worker_thread(master: FakeMaster) -> None:
    before = threading.active_count()
    agents = [SimAgent(f"agent-{n}", None, [CPUS], [], master) for n in range(10_000)]
    for agent in agents:
        agent.start()
    for n, agent in enumerate(agents[:100]):
        agent.run_task(FW, FW_INFO, task(f"t{n}"))
    master.wait_for(lambda: len(master.updates) == 200)
    assert threading.active_count() <= before + 1
    assert len({a.agent_id for a in agents}) == 10_000
    assert not hasattr(agents[0], "__dict__")
