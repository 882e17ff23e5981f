"""Task health checks with the semantics of the Mesos 1.11 command executor.

Why this module exists: mesopress relies on Mesos killing an unhealthy task and on the ``healthy`` field of
TASK_RUNNING updates. Mesos' ``HealthChecker`` (src/checks/health_checker.cpp) decides when a result counts
and the command executor (src/launcher/executor.cpp) turns each decision into a TASK_RUNNING update with
``healthy`` and reason REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, and kills the task when asked to. This
module holds the pure decision (``HealthTracker``) and the three probes (COMMAND, HTTP, TCP); the agent
schedules them and acts on the events.

Rules copied in behaviour: the first check runs ``delay_seconds`` after launch, then ``interval_seconds``
after the previous one finished; failures while no check has passed yet and within ``grace_period_seconds``
of launch are ignored; every counted failure reports unhealthy, and ``consecutive_failures`` of them in a
row ask for a kill; a success reports healthy only the first time and after failures.
"""

from __future__ import annotations

import http.client
import signal
import socket
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from localmesos import executor

Json = dict[str, Any]
DEFAULT_DELAY = 15.0
DEFAULT_INTERVAL = 10.0
DEFAULT_TIMEOUT = 20.0
DEFAULT_CONSECUTIVE_FAILURES = 3
DEFAULT_GRACE_PERIOD = 10.0
HOST = "127.0.0.1"


@dataclass(frozen=True)
class HealthPolicy:
    """A parsed ``HealthCheck`` with the proto defaults filled in (timeout None = no timeout)."""

    kind: str
    delay: float = DEFAULT_DELAY
    interval: float = DEFAULT_INTERVAL
    timeout: float | None = DEFAULT_TIMEOUT
    consecutive_failures: int = DEFAULT_CONSECUTIVE_FAILURES
    grace_period: float = DEFAULT_GRACE_PERIOD
    command: Json | None = None
    port: int = 0
    path: str = ""
    scheme: str = "http"

    @classmethod
    def from_json(cls, check: Json) -> HealthPolicy:
        """Parse HealthCheck JSON; raises ValueError for a type localmesos does not run."""
        kind = check.get("type") or _infer_kind(check)
        if kind not in ("COMMAND", "HTTP", "TCP"):
            raise ValueError(f"unsupported health check type {kind!r}")
        timeout = float(check.get("timeout_seconds", DEFAULT_TIMEOUT))
        policy = cls(
            kind=kind,
            delay=float(check.get("delay_seconds", DEFAULT_DELAY)),
            interval=float(check.get("interval_seconds", DEFAULT_INTERVAL)),
            timeout=timeout if timeout > 0 else None,
            consecutive_failures=int(check.get("consecutive_failures", DEFAULT_CONSECUTIVE_FAILURES)),
            grace_period=float(check.get("grace_period_seconds", DEFAULT_GRACE_PERIOD)),
        )
        return _with_probe(policy, check)


def _infer_kind(check: Json) -> str:
    for kind in ("command", "http", "tcp"):
        if kind in check:
            return kind.upper()
    return "UNKNOWN"


def _with_probe(policy: HealthPolicy, check: Json) -> HealthPolicy:
    if policy.kind == "COMMAND":
        if not check.get("command"):
            raise ValueError("COMMAND health check without 'command'")
        return replace(policy, command=check["command"])
    probe = check.get(policy.kind.lower()) or {}
    if "port" not in probe:
        raise ValueError(f"{policy.kind} health check without 'port'")
    return replace(
        policy,
        port=int(probe["port"]),
        path=str(probe.get("path", "")),
        scheme=str(probe.get("scheme", "http")),
    )


@dataclass(frozen=True)
class HealthEvent:
    """What the executor must do after a check: report ``healthy``, and kill the task if ``kill``."""

    healthy: bool
    kill: bool = False
    failures: int = 0


@dataclass
class HealthTracker:
    """The HealthChecker's decision state for one task (pure; ``now`` is passed in)."""

    policy: HealthPolicy
    started: float
    initializing: bool = True
    failures: int = 0

    def record(self, ok: bool, now: float) -> HealthEvent | None:
        """Account for one check result; the event to report, or None when nothing is reported."""
        if ok:
            report = self.initializing or self.failures > 0
            self.initializing = False
            self.failures = 0
            return HealthEvent(healthy=True) if report else None
        if self._in_grace(now):
            return None
        self.failures += 1
        kill = self.failures >= self.policy.consecutive_failures
        return HealthEvent(healthy=False, kill=kill, failures=self.failures)

    def _in_grace(self, now: float) -> bool:
        grace = self.policy.grace_period
        return self.initializing and grace > 0 and now - self.started <= grace


# --- probes --------------------------------------------------------------------------------------


def run_check(
    policy: HealthPolicy,
    launch: executor.Launch | None,
    on_spawn: Callable[[subprocess.Popen[bytes]], None] = lambda proc: None,
) -> tuple[bool, str]:
    """Run one probe; (passed, message). ``launch`` gives a COMMAND check the task's cwd, env and user;
    ``on_spawn`` receives the check process so that its owner can kill it early."""
    try:
        if policy.kind == "COMMAND":
            return _command_check(policy, launch, on_spawn)
        if policy.kind == "HTTP":
            return _http_check(policy)
        return _tcp_check(policy)
    except (OSError, subprocess.SubprocessError, http.client.HTTPException) as exc:
        return False, f"{policy.kind} health check failed: {exc}"


def _command_check(
    policy: HealthPolicy, launch: executor.Launch | None, on_spawn: Callable[[subprocess.Popen[bytes]], None]
) -> tuple[bool, str]:
    assert policy.command is not None
    argv, executable = executor.command_argv(policy.command)
    env = dict(launch.env) if launch else {}
    env.update(executor.command_env(policy.command))
    cwd = launch.cwd if launch else Path("/")
    user = launch.user if launch else None
    check = executor.Launch(argv=argv, executable=executable, cwd=cwd, env=env, user=user)
    proc = executor.spawn(check)
    on_spawn(proc)
    try:
        code = proc.wait(timeout=policy.timeout)
    except subprocess.TimeoutExpired:
        executor.signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        return False, f"Command has not returned after {policy.timeout}s; aborting"
    finally:
        executor.signal_group(proc.pid, signal.SIGKILL)
    if code != 0:
        return False, executor.exit_message(code)
    return True, "passed"


def _http_check(policy: HealthPolicy) -> tuple[bool, str]:
    if policy.scheme == "https":
        context = ssl._create_unverified_context()  # noqa: S323 - Mesos' curl -k does not verify either
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            HOST, policy.port, timeout=policy.timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(HOST, policy.port, timeout=policy.timeout)
    try:
        conn.request("GET", policy.path or "/")
        status = conn.getresponse().status
    finally:
        conn.close()
    if 200 <= status < 400:
        return True, f"HTTP {status}"
    return False, f"Unexpected HTTP response code: {status}"


def _tcp_check(policy: HealthPolicy) -> tuple[bool, str]:
    with socket.create_connection((HOST, policy.port), timeout=policy.timeout):
        return True, "connected"
