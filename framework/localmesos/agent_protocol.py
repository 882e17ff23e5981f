"""What every localmesos agent shares with the master: the MasterLink interface and TaskStatus building.

Why this module exists: the real agent (``agent.py``) and the simulated one (``simagent.py``) talk to the
master the same way and build status updates the same way (a fresh base64 uuid, ``SOURCE_EXECUTOR``, the
reason names of Mesos); keeping that here lets ``simagent`` reuse it without importing the process-running
agent.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any, Protocol

Json = dict[str, Any]
TaskKey = tuple[str, str]

DEFAULT_KILL_GRACE = 3.0  # the command executor's default KillPolicy grace period
MAX_UPDATE_RETRY = 600.0  # status update retries back off up to 10 minutes (facts §0)
HEALTH_REASON = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
CHECK_REASON = "REASON_TASK_CHECK_STATUS_UPDATED"
LAUNCH_FAILED = "REASON_CONTAINER_LAUNCH_FAILED"
KILLED_DURING_LAUNCH = "REASON_TASK_KILLED_DURING_LAUNCH"
EXECUTOR_TERMINATED = "REASON_EXECUTOR_TERMINATED"
PROCESS_EXIT_WAIT = 10.0


class MasterLink(Protocol):
    """What an agent calls on the master (implemented by master.Master)."""

    def register_agent(self, agent: Any, agent_id: str | None, info: Json) -> str: ...
    def status_update(self, agent_id: str, framework_id: str, status: Json) -> None: ...
    def agent_disconnected(self, agent_id: str) -> None: ...


def is_refusal(exc: BaseException) -> bool:
    """True for the master's ``AgentRefused`` (matched by name so the agent does not import master.py)."""
    return type(exc).__name__ == "AgentRefused"


def new_uuid() -> str:
    """A status update uuid: 16 random bytes, standard base64 (as on the wire)."""
    return base64.b64encode(uuid.uuid4().bytes).decode("ascii")


def make_status(
    task_id: str, state: str, agent_id: str | None, executor_id: str, timestamp: float, **fields: Any
) -> Json:
    """A TaskStatus JSON with a fresh uuid; ``fields`` with a None value are left out."""
    status: Json = {
        "task_id": {"value": task_id},
        "state": state,
        "source": fields.pop("source", "SOURCE_EXECUTOR"),
        "executor_id": {"value": executor_id},
        "timestamp": timestamp,
        "uuid": new_uuid(),
    }
    if agent_id is not None:
        status["agent_id"] = {"value": agent_id}
    status.update({k: v for k, v in fields.items() if v is not None})
    return status


def has_capability(framework_info: Json, capability: str) -> bool:
    """Whether FrameworkInfo JSON lists ``capability`` (e.g. "PARTITION_AWARE")."""
    return any(c.get("type") == capability for c in framework_info.get("capabilities") or [])


def grace_seconds(kill_policy: Json | None) -> float | None:
    """``kill_policy.grace_period.nanoseconds`` in seconds, or None when not given."""
    nanos = ((kill_policy or {}).get("grace_period") or {}).get("nanoseconds")
    return None if nanos is None else max(0.0, int(nanos) / 1e9)
