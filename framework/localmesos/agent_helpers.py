"""Work the agent does on helper threads: waiting for a process, fetching, health checks, check probes.

Why this module exists: the agent is an actor (one worker thread); anything that blocks runs on a helper
thread and posts its result back to the worker's inbox as a message. These functions are those helper
bodies; they touch a task only through its check lock and the inbox, never the agent's state.
"""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localmesos import checks, executor, fetcher, healthcheck
from localmesos.agent_protocol import (
    Json,
    TaskKey,
)
from localmesos.agent_task import AgentTask

log = logging.getLogger(__name__)


def wait_process(
    proc: subprocess.Popen[bytes],
    inbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]],
    key: TaskKey,
    cid: str,
) -> None:
    """Waiter thread: reap the task process, kill what is left of its group, report the exit."""
    returncode = proc.wait()
    executor.signal_session(proc.pid, signal.SIGKILL)
    inbox.put(("exited", (key, cid, returncode)))


def run_health_check(
    t: AgentTask,
    policy: healthcheck.HealthPolicy,
    launch: executor.Launch | None,
    inbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]],
    token: int,
) -> None:
    """Health check thread: run one probe (its process is registered with the task so that a kill or a
    halt can SIGKILL it) and post the result to the worker."""
    register = _probe_registrar(t, token, lambda task: task.health_token)
    ok, message = healthcheck.run_check(policy, launch, register)
    _forget_finished_probes(t)
    inbox.put(("health", (t.key, token, ok, message)))


def run_fetch(
    uris: list[Json],
    sandbox: Path,
    user: executor.User | None,
    timeout: float,
    inbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]],
    key: TaskKey,
    cid: str,
) -> None:
    """Fetcher thread: fetch the URIs (its log goes to the sandbox's stderr, as mesos-fetcher's does) and
    post the outcome (None or the error naming the redacted URI) to the worker."""

    def note(line: str) -> None:
        with (sandbox / "stderr").open("a") as err:
            err.write(f"{line}\n")

    error: str | None = None
    try:
        fetcher.fetch_all(uris, sandbox, user, timeout, note)
    except fetcher.FetchError as exc:
        error = str(exc)
    except Exception as exc:  # an unexpected bug must still fail the launch, not hang the task
        log.exception("fetcher for task %s crashed", key[1])
        error = f"unexpected fetcher error: {type(exc).__name__}"
    inbox.put(("fetched", (key, cid, error)))


def run_probe(
    t: AgentTask,
    policy: checks.CheckPolicy,
    launch: executor.Launch | None,
    inbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]],
    token: int,
) -> None:
    """Check thread: run one check probe (registered with the task so a kill or halt can SIGKILL it) and
    post its CheckStatusInfo to the worker."""
    register = _probe_registrar(t, token, lambda task: task.check_token)
    result = checks.run_check(policy, launch, register)
    _forget_finished_probes(t)
    inbox.put(("check", (t.key, token, result)))


def _probe_registrar(
    t: AgentTask, token: int, current_token: Callable[[AgentTask], int]
) -> Callable[[subprocess.Popen[bytes]], None]:
    """A callback that registers a probe process with the task (so that a kill or a halt can SIGKILL it),
    and SIGKILLs it at once when the probe was cancelled meanwhile (``current_token`` moved on)."""

    def register(proc: subprocess.Popen[bytes]) -> None:
        with t.check_lock:
            t.check_procs.add(proc)
            stale = current_token(t) != token
        if stale:
            executor.signal_session(proc.pid, signal.SIGKILL)

    return register


def _forget_finished_probes(t: AgentTask) -> None:
    with t.check_lock:
        t.check_procs = {p for p in t.check_procs if p.returncode is None}
