"""Mesos checks (TaskInfo.check): TASK_RUNNING updates with check_status when the result changes, empty
check_status everywhere else, and never a kill.

Real agents (the fake master and fixtures of test_agent) run real processes; the HTTP check probes a real
server on 127.0.0.1. Waiting is on conditions with timeouts.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from test_agent import FW, FW_INFO, FakeMaster, agent, make_agent, make_task, master

from localmesos import checks
from localmesos.agent import Agent
from support.waiting import eventually

FIXTURES = (agent, make_agent, master)  # test_agent's fixtures, used here by name
CHECK_REASON = "REASON_TASK_CHECK_STATUS_UPDATED"


def fast(kind: str, **probe: Any) -> dict[str, Any]:
    check: dict[str, Any] = {"type": kind, "delay_seconds": 0, "interval_seconds": 0.05, "timeout_seconds": 5}
    check[kind.lower()] = probe
    return check


def check_updates(master: FakeMaster, task_id: str) -> list[dict[str, Any]]:
    return [u for u in master.unique(task_id) if u.get("reason") == CHECK_REASON]


def wait_check(master: FakeMaster, task_id: str, status: dict[str, Any]) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        matches = [u for u in check_updates(master, task_id) if u["check_status"] == status]
        return matches[-1] if matches else None

    return master.wait_for(found)


@pytest.fixture
def flipping_server() -> Iterator[tuple[int, threading.Event]]:
    """Answers 503 until the event is set, then 200."""
    healthy = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200 if healthy.is_set() and self.path == "/ready" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], healthy
    server.shutdown()
    server.server_close()
    thread.join(10)


# --- through the agent -----------------------------------------------------------------------------


def test_command_check_reports_each_change_and_never_kills(agent: Agent, master: FakeMaster) -> None:
    check = fast("COMMAND", command={"value": "test -e ready"})
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100", check=check))
    failing = wait_check(master, "t1", {"type": "COMMAND", "command": {"exit_code": 1}})
    assert failing["state"] == "TASK_RUNNING"
    sandbox = agent.sandbox(FW, "t1")
    assert sandbox is not None
    (sandbox / "ready").touch()
    wait_check(master, "t1", {"type": "COMMAND", "command": {"exit_code": 0}})
    assert agent.task_states() == {(FW, "t1"): "TASK_RUNNING"}
    agent.kill_task(FW, "t1", None)
    master.wait_state("t1", "TASK_KILLED")
    updates = master.unique("t1")
    empty = {"type": "COMMAND", "command": {}}
    assert [(u["state"], u.get("reason"), u["check_status"]) for u in updates] == [
        ("TASK_STARTING", None, empty),
        ("TASK_RUNNING", None, empty),
        ("TASK_RUNNING", CHECK_REASON, {"type": "COMMAND", "command": {"exit_code": 1}}),
        ("TASK_RUNNING", CHECK_REASON, {"type": "COMMAND", "command": {"exit_code": 0}}),
        ("TASK_KILLED", None, empty),
    ]
    assert all(u["source"] == "SOURCE_EXECUTOR" and "healthy" not in u for u in updates)


def test_http_check_reports_status_codes(
    agent: Agent, master: FakeMaster, flipping_server: tuple[int, threading.Event]
) -> None:
    port, healthy = flipping_server
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100", check=fast("HTTP", port=port, path="/ready")))
    wait_check(master, "t1", {"type": "HTTP", "http": {"status_code": 503}})
    healthy.set()
    wait_check(master, "t1", {"type": "HTTP", "http": {"status_code": 200}})
    agent.kill_task(FW, "t1", None)
    master.wait_state("t1", "TASK_KILLED")
    codes = [u["check_status"]["http"]["status_code"] for u in check_updates(master, "t1")]
    assert codes == [503, 200]
    assert master.states("t1") == ["TASK_STARTING"] + ["TASK_RUNNING"] * 3 + ["TASK_KILLED"]


def test_check_updates_are_reliable_and_retried_until_acknowledged(
    make_agent: Any, master: FakeMaster
) -> None:
    master.auto_ack = False
    agent = make_agent(master)
    agent.start()
    agent.run_task(
        FW, FW_INFO, make_task("t1", "sleep 100", check=fast("COMMAND", command={"value": "exit 7"}))
    )
    starting = master.wait_state("t1", "TASK_STARTING")
    master.wait_for(lambda: len(master.of("t1")) >= 3)  # the head is re-sent while unacknowledged
    assert master.states("t1") == ["TASK_STARTING"]
    for _ in range(2):
        agent.acknowledge(FW, "t1", master.unique("t1")[-1]["uuid"])
        master.wait_for(lambda n=len(master.unique("t1")): len(master.unique("t1")) > n)
    check = master.unique("t1")[-1]
    assert check["reason"] == CHECK_REASON and check["uuid"] != starting["uuid"]
    assert check["check_status"] == {"type": "COMMAND", "command": {"exit_code": 7}}


def test_checks_and_health_checks_coexist(agent: Agent, master: FakeMaster) -> None:
    health = {"type": "COMMAND", "command": {"value": "true"}, "delay_seconds": 0, "interval_seconds": 0.05}
    health["grace_period_seconds"] = 0
    check = fast("COMMAND", command={"value": "exit 3"})
    agent.run_task(FW, FW_INFO, make_task("t1", "sleep 100", check=check, health_check=health))
    wait_check(master, "t1", {"type": "COMMAND", "command": {"exit_code": 3}})
    master.wait_for(lambda: [u for u in master.of("t1") if u.get("healthy") is True])
    eventually(lambda: len(master.unique("t1")) == 4, timeout=10)
    last = master.unique("t1")[-1]  # the later of the two updates carries both results
    assert last["healthy"] is True
    assert last["check_status"] == {"type": "COMMAND", "command": {"exit_code": 3}}
    agent.kill_task(FW, "t1", None)
    master.wait_state("t1", "TASK_KILLED")


def test_invalid_check_is_ignored_and_the_task_runs(agent: Agent, master: FakeMaster) -> None:
    agent.run_task(FW, FW_INFO, make_task("t1", "exit 0", check={"type": "HTTP", "delay_seconds": 0}))
    master.wait_state("t1", "TASK_FINISHED")
    assert master.states("t1") == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]


# --- policy and probes -----------------------------------------------------------------------------


def test_check_policy_defaults_are_mesos_defaults() -> None:
    policy = checks.CheckPolicy.from_json({"type": "TCP", "tcp": {"port": 80}})
    assert (policy.delay, policy.interval, policy.timeout) == (15.0, 10.0, 20.0)
    assert (
        checks.CheckPolicy.from_json({"type": "TCP", "tcp": {"port": 80}, "timeout_seconds": 0}).timeout
        is None
    )
    for bad in ({"tcp": {"port": 1}}, {"type": "COMMAND"}, {"type": "HTTP", "http": {}}):
        with pytest.raises(ValueError):
            checks.CheckPolicy.from_json(bad)


def test_tcp_probe_reports_whether_it_connected() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        policy = checks.CheckPolicy.from_json({"type": "TCP", "tcp": {"port": port}})
        assert checks.run_check(policy, None) == {"type": "TCP", "tcp": {"succeeded": True}}
    assert checks.run_check(policy, None) == {"type": "TCP", "tcp": {"succeeded": False}}


def test_probes_that_cannot_complete_give_the_empty_result() -> None:
    slow = checks.CheckPolicy.from_json(
        fast("COMMAND", command={"value": "sleep 30"}) | {"timeout_seconds": 0.2}
    )
    assert checks.run_check(slow, None) == {"type": "COMMAND", "command": {}}
    signalled = checks.CheckPolicy.from_json(fast("COMMAND", command={"value": "kill -9 $$"}))
    assert checks.run_check(signalled, None) == {"type": "COMMAND", "command": {}}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    refused = checks.CheckPolicy.from_json(fast("HTTP", port=closed))
    assert checks.run_check(refused, None) == {"type": "HTTP", "http": {}}
