"""Mesos checks (``TaskInfo.check``) with the semantics of the Mesos 1.11 command executor.

Why this module exists: unlike a health check, a check never judges or kills a task; it reports a raw
result (a command's exit code, an HTTP status code, whether a TCP connect succeeded) that mesopress reads
from the ``check_status`` of TASK_RUNNING updates. Mesos' ``Checker`` (src/checks/checker.cpp,
checker_process.cpp) runs the first check ``delay_seconds`` after launch and the next ``interval_seconds``
after the previous one finished; a check that cannot complete (timeout, command killed by a signal, HTTP
connection error) yields the *empty* result of its type; the executor (src/launcher/executor.cpp) sends a
TASK_RUNNING update with reason REASON_TASK_CHECK_STATUS_UPDATED only when the result differs from the
previous one, which starts as the empty result. Every other update of a checked task carries the empty
result. This module holds the parsed ``CheckInfo`` and the three probes; the agent schedules them.
"""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localmesos import executor

Json = dict[str, Any]
DEFAULT_DELAY = 15.0
DEFAULT_INTERVAL = 10.0
DEFAULT_TIMEOUT = 20.0
HOST = "127.0.0.1"  # the command executor checks its task on the loopback address
KINDS = ("COMMAND", "HTTP", "TCP")


@dataclass(frozen=True)
class CheckPolicy:
    """A parsed ``CheckInfo`` with the proto defaults filled in (timeout None = no timeout)."""

    kind: str
    delay: float = DEFAULT_DELAY
    interval: float = DEFAULT_INTERVAL
    timeout: float | None = DEFAULT_TIMEOUT
    command: Json | None = None
    port: int = 0
    path: str = ""

    @classmethod
    def from_json(cls, check: Json) -> CheckPolicy:
        """Parse CheckInfo JSON; raises ValueError where Mesos' ``validation::checkInfo`` would."""
        kind = check.get("type")
        if kind not in KINDS:
            raise ValueError(f"CheckInfo must specify a 'type' among {KINDS}, not {kind!r}")
        timeout = float(check.get("timeout_seconds", DEFAULT_TIMEOUT))
        delay = float(check.get("delay_seconds", DEFAULT_DELAY))
        interval = float(check.get("interval_seconds", DEFAULT_INTERVAL))
        if min(timeout, delay, interval) < 0:
            raise ValueError("CheckInfo durations must be non-negative")
        probe = check.get(kind.lower()) or {}
        if kind == "COMMAND" and not probe.get("command"):
            raise ValueError("Expecting 'command' to be set for COMMAND check")
        if kind != "COMMAND" and "port" not in probe:
            raise ValueError(f"Expecting '{kind.lower()}.port' to be set for {kind} check")
        return cls(
            kind=kind,
            delay=delay,
            interval=interval,
            timeout=timeout if timeout > 0 else None,
            command=probe.get("command"),
            port=int(probe.get("port", 0)),
            path=str(probe.get("path", "")),
        )


def empty_status(kind: str) -> Json:
    """The CheckStatusInfo JSON with no result yet (what ``createEmptyCheckStatusInfo`` makes)."""
    return {"type": kind, kind.lower(): {}}


def run_check(
    policy: CheckPolicy,
    launch: executor.Launch | None,
    on_spawn: Callable[[subprocess.Popen[bytes]], None] = lambda proc: None,
) -> Json:
    """Run one probe and return its CheckStatusInfo JSON (the empty one when it could not complete).

    ``launch`` gives a COMMAND check the task's cwd, environment and user; ``on_spawn`` receives the
    check process so that its owner can kill it early."""
    try:
        if policy.kind == "COMMAND":
            return _result("COMMAND", "exit_code", _command_check(policy, launch, on_spawn))
        if policy.kind == "HTTP":
            return _result("HTTP", "status_code", _http_check(policy))
        return _result("TCP", "succeeded", _tcp_check(policy))
    except (OSError, ValueError, subprocess.SubprocessError, http.client.HTTPException):
        return empty_status(policy.kind)


def _result(kind: str, name: str, value: int | bool | None) -> Json:
    """CheckStatusInfo JSON holding ``value``, or the empty one when the check gave no value."""
    return empty_status(kind) if value is None else {"type": kind, kind.lower(): {name: value}}


def _command_check(
    policy: CheckPolicy, launch: executor.Launch | None, on_spawn: Callable[[subprocess.Popen[bytes]], None]
) -> int | None:
    """The exit code; None when the command timed out or was killed by a signal."""
    assert policy.command is not None
    argv, program = executor.command_argv(policy.command)
    env = dict(launch.env) if launch else {}
    env.update(executor.command_env(policy.command))
    cwd = launch.cwd if launch else Path("/")
    user = launch.user if launch else None
    proc = executor.spawn(executor.Launch(argv=argv, executable=program, cwd=cwd, env=env, user=user))
    on_spawn(proc)
    try:
        code = proc.wait(timeout=policy.timeout)
    except subprocess.TimeoutExpired:
        return None
    finally:
        executor.signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
    return code if code >= 0 else None


def _http_check(policy: CheckPolicy) -> int | None:
    """GET ``http://127.0.0.1:<port><path>`` following redirects (Mesos runs ``curl -L``): the final
    status code, whatever it is; None when no response came back."""
    url = f"http://{HOST}:{policy.port}{policy.path}"
    try:
        with urllib.request.urlopen(url, timeout=policy.timeout) as response:  # noqa: S310 - http only
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)
    except (urllib.error.URLError, TimeoutError):
        return None


def _tcp_check(policy: CheckPolicy) -> bool:
    """Whether a TCP connection to 127.0.0.1:<port> succeeds (any error counts as not succeeded)."""
    try:
        with socket.create_connection((HOST, policy.port), timeout=policy.timeout):
            return True
    except OSError:
        return False
