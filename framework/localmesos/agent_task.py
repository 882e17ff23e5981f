"""One command task as the agent tracks it: its checkpointed fields and its runtime bookkeeping.

Why this module exists: the agent's worker thread, its status update manager and its probes all work on
the same per-task record; the record and its checkpoint form (``to_json``/``from_json``, written under
``meta/tasks/``) are kept apart from the behaviour so that the checkpointed fields are visible at a glance.
"""

from __future__ import annotations

import subprocess
import threading
from collections import deque
from dataclasses import dataclass, field

from localmesos import checks, executor, healthcheck
from localmesos.agent_protocol import Json, TaskKey


class Halted(Exception):
    """Raised inside the worker to leave its loop (the agent was refused by the master)."""


@dataclass
class AgentTask:
    """One command task (its executor id is its task id) and its status update stream."""

    framework_id: str
    task: Json
    framework_info: Json
    container_id: str
    user: str | None
    state: str = "TASK_STAGING"
    sandbox: str | None = None
    pid: int | None = None
    start_ticks: int | None = None
    updates: deque[Json] = field(default_factory=deque)
    latest: Json | None = None  # the latest status generated (sent or not)
    # runtime only (not checkpointed)
    proc: subprocess.Popen[bytes] | None = None
    launch: executor.Launch | None = None
    exited: bool = True
    killing: bool = False
    kill_deadline: float = 0.0
    kill_token: int = 0
    unhealthy: bool = False
    retry_interval: float = 0.0
    retry_token: int = 0
    health: healthcheck.HealthTracker | None = None
    health_token: int = 0
    check_lock: threading.Lock = field(default_factory=threading.Lock)
    check_procs: set[subprocess.Popen[bytes]] = field(default_factory=set)  # health check and check probes
    host_user: executor.User | None = None
    fetching: bool = False  # the fetcher is filling the sandbox; the command has not started
    check: checks.CheckPolicy | None = None
    check_result: Json | None = None  # the latest CheckStatusInfo (starts empty)
    check_token: int = 0

    @property
    def task_id(self) -> str:
        return str(self.task["task_id"]["value"])

    @property
    def key(self) -> TaskKey:
        return (self.framework_id, self.task_id)

    def to_json(self) -> Json:
        return {
            "framework_id": self.framework_id,
            "task": self.task,
            "framework_info": self.framework_info,
            "container_id": self.container_id,
            "user": self.user,
            "state": self.state,
            "sandbox": self.sandbox,
            "pid": self.pid,
            "start_ticks": self.start_ticks,
            "updates": list(self.updates),
            "latest": self.latest,
        }

    @classmethod
    def from_json(cls, data: Json) -> AgentTask:
        fields_ = {k: data.get(k) for k in ("sandbox", "pid", "start_ticks", "latest")}
        return cls(
            framework_id=data["framework_id"],
            task=data["task"],
            framework_info=data["framework_info"],
            container_id=data["container_id"],
            user=data.get("user"),
            state=data["state"],
            updates=deque(data.get("updates") or []),
            **fields_,
        )
