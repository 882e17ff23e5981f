"""The records the localmesos master keeps (frameworks, agents, offers, tasks) and small pure helpers.

Why this module exists: the master's behaviour is split over several modules (frameworks, offers, tasks,
agents, /state); they share these plain records and the rules that several of them need, such as which
task states are terminal or how a master-generated TaskStatus looks (facts §1.5, §3.5). Nothing here
does I/O or takes the master lock.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from localmesos.resources import Resources
from localmesos.taskstates import TERMINAL_STATES

# States only partition-aware frameworks may see; others get TASK_LOST instead (facts §1.5).
PARTITION_AWARE_STATES = frozenset(
    {"TASK_DROPPED", "TASK_UNREACHABLE", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}
)
COMPLETED_TASKS_KEPT = 1000
COMPLETED_FRAMEWORKS_KEPT = 50


def is_terminal(state: str) -> bool:
    return state in TERMINAL_STATES


def value(obj: Any) -> str | None:
    """The ``value`` of an id object ``{"value": ...}``, or None."""
    if isinstance(obj, dict):
        v = obj.get("value")
        return v if isinstance(v, str) else None
    return None


def capabilities_of(info: dict[str, Any]) -> frozenset[str]:
    caps = info.get("capabilities") or []
    return frozenset(c.get("type") for c in caps if isinstance(c, dict) and isinstance(c.get("type"), str))


def roles_of(info: dict[str, Any]) -> list[str]:
    """The roles of a FrameworkInfo: ``roles`` for MULTI_ROLE frameworks, else ``[role or "*"]``."""
    if "MULTI_ROLE" in capabilities_of(info):
        return list(info.get("roles") or [])
    return [info.get("role") or "*"]


class Subscription:
    """One framework event stream: the master pushes events, the HTTP handler thread drains them."""

    def __init__(self, framework_id: str, stream_id: str) -> None:
        self.stream_id = stream_id
        self.framework_id = framework_id
        self.next_heartbeat = 0.0
        self._events: collections.deque[dict[str, Any]] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False

    def get(self, timeout: float) -> dict[str, Any] | None:
        """Next event, waiting up to ``timeout`` seconds; None on timeout or when closed and drained."""
        with self._cond:
            if not self._events and not self._closed and timeout > 0:
                self._cond.wait(timeout)
            return self._events.popleft() if self._events else None

    def drain(self) -> list[dict[str, Any]]:
        """Every queued event, without waiting (tests and shutdown)."""
        with self._cond:
            events = list(self._events)
            self._events.clear()
            return events

    @property
    def closed(self) -> bool:
        return self._closed

    def push(self, event: dict[str, Any]) -> None:
        with self._cond:
            if not self._closed:
                self._events.append(event)
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass
class TaskRec:
    framework_id: str
    agent_id: str
    task_id: str
    info: dict[str, Any]  # TaskInfo as launched (refined resources with allocation_info)
    resources: Resources  # task (+ new executor) resources, allocated
    role: str
    state: str = "TASK_STAGING"
    status: dict[str, Any] | None = None  # latest TaskStatus seen
    status_uuid: str | None = None  # uuid of the agent update awaiting acknowledgement
    status_update_state: str | None = None
    released: bool = False  # resources given back to the allocator
    kill_policy: dict[str, Any] | None = None
    kill_requested: bool = False
    unreachable_time: float | None = None
    executor_id: str | None = None  # custom executor id; None for command tasks


@dataclass
class OfferRec:
    offer_id: str
    framework_id: str
    agent_id: str
    role: str
    unallocated: Resources  # the offered resources without allocation_info
    created: float
    _allocated: Resources | None = None

    @property
    def resources(self) -> Resources:
        """The offered resources with ``allocation_info: {"role": role}`` (computed when first needed:
        tagging every offer of a 10,000-agent round up front was a third of the round's cost)."""
        if self._allocated is None:
            self._allocated = self.unallocated.allocate(self.role)
        return self._allocated


@dataclass
class FrameworkRec:
    framework_id: str
    info: dict[str, Any]
    roles: list[str]
    capabilities: frozenset[str]
    suppressed: set[str] = field(default_factory=set)
    subscription: Subscription | None = None
    connected: bool = False
    recovered: bool = False  # known only from re-registering agents after a master restart
    registered_time: float | None = None
    reregistered_time: float | None = None
    unregistered_time: float | None = None
    failover_deadline: float | None = None
    tasks: dict[str, TaskRec] = field(default_factory=dict)
    unreachable_tasks: dict[str, TaskRec] = field(default_factory=dict)
    completed_tasks: collections.deque[TaskRec] = field(
        default_factory=lambda: collections.deque(maxlen=COMPLETED_TASKS_KEPT)
    )
    offers: set[str] = field(default_factory=set)

    @property
    def principal(self) -> str | None:
        return self.info.get("principal")

    @property
    def partition_aware(self) -> bool:
        return "PARTITION_AWARE" in self.capabilities

    @property
    def checkpoint(self) -> bool:
        return bool(self.info.get("checkpoint", False))


@dataclass
class AgentRec:
    agent_id: str
    link: Any  # AgentLink
    hostname: str
    port: int
    attributes: list[dict[str, Any]]
    total: Resources  # refined, no allocation_info
    state: str = "active"  # active / disconnected / unreachable / gone
    registered_time: float = 0.0
    disconnected_at: float | None = None
    unreachable_time: float | None = None  # wall clock
    tasks: dict[tuple[str, str], TaskRec] = field(default_factory=dict)
    offers: set[str] = field(default_factory=set)
    # (framework id, executor id) -> executor resources (allocated) of custom executors
    executors: dict[tuple[str, str], Resources] = field(default_factory=dict)
    frameworks: dict[str, dict[str, Any]] = field(default_factory=dict)  # FrameworkInfo reported
    name: str | None = None


def master_status(
    task_id: str,
    state: str,
    reason: str,
    message: str,
    timestamp: float,
    agent_id: str | None = None,
) -> dict[str, Any]:
    """A master-generated TaskStatus: SOURCE_MASTER, no uuid (never to be acknowledged)."""
    status: dict[str, Any] = {
        "task_id": {"value": task_id},
        "state": state,
        "source": "SOURCE_MASTER",
        "reason": reason,
        "message": message,
        "timestamp": timestamp,
    }
    if agent_id is not None:
        status["agent_id"] = {"value": agent_id}
    return status


def for_framework(state: str, partition_aware: bool) -> str:
    """The state a framework may see: PARTITION_AWARE-only states become TASK_LOST for the others."""
    if not partition_aware and state in PARTITION_AWARE_STATES:
        return "TASK_LOST"
    return state


def update_event(status: dict[str, Any]) -> dict[str, Any]:
    return {"type": "UPDATE", "update": {"status": status}}


def sum_resources(parts: Iterable[Resources]) -> Resources:
    total = Resources()
    for part in parts:
        total = total + part
    return total


class CallError(Exception):
    """An HTTP-level refusal of a scheduler call: status code + message (facts §1.3)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


class AgentRefused(Exception):
    """The master refuses an agent (e.g. it was marked gone); the agent must not register again."""
