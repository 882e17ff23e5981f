"""Effects that leave the scheduler core.

Why this module exists: the core decides, the adapters act. Every value here is something the runner
carries out on the pymesos driver (or on a reply callback) without choosing anything. Acting effects
(Accept, Kill, Teardown) are only ever returned after the matching state was stored in ZooKeeper.

Operations and statuses are plain Mesos JSON dicts (the shape pymesos sends and receives).
See docs/scheduler.md ("The core").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mesopress.events import Reply as ReplyCallback


@dataclass(frozen=True)
class Accept:
    """ACCEPT `offer_ids` with Mesos offer operations (RESERVE, CREATE, LAUNCH, DESTROY, UNRESERVE)."""

    offer_ids: Sequence[str]
    operations: Sequence[Mapping[str, Any]]
    refuse_seconds: float = 5.0


@dataclass(frozen=True)
class Decline:
    """DECLINE `offer_ids` with a filter of `refuse_seconds`."""

    offer_ids: Sequence[str]
    refuse_seconds: float = 5.0


@dataclass(frozen=True)
class Kill:
    """KILL a task on an agent; plain id strings (agent_id may be empty when unknown)."""

    task_id: str
    agent_id: str = ""
    grace_period: float | None = None  # seconds: the task's KillPolicy (None: the one in its TaskInfo)


@dataclass(frozen=True)
class Reconcile:
    """RECONCILE the given tasks, each Mesos JSON ``{"task_id": {"value": ..}, "agent_id": {"value": ..}}``
    (agent_id may be absent), ready for pymesos ``reconcileTasks``; empty = implicit reconciliation."""

    tasks: Sequence[Mapping[str, str]] = field(default_factory=tuple)


@dataclass(frozen=True)
class Revive:
    """REVIVE: new work appeared, clear offer filters and ask for offers again."""


@dataclass(frozen=True)
class Suppress:
    """SUPPRESS: nothing is pending, stop sending offers."""


@dataclass(frozen=True)
class Acknowledge:
    """ACKNOWLEDGE a status update (the Mesos JSON status dict, with its uuid), after it was stored."""

    status: Mapping[str, Any]


@dataclass(frozen=True)
class Teardown:
    """TEARDOWN the framework: only at the very end of an uninstall."""


@dataclass(frozen=True)
class Reply:
    """Call `reply(value)`: the answer to a Command."""

    reply: ReplyCallback | None
    value: Any


Effect = Accept | Decline | Kill | Reconcile | Revive | Suppress | Acknowledge | Teardown | Reply

__all__ = [
    "Accept",
    "Acknowledge",
    "Decline",
    "Effect",
    "Kill",
    "Reconcile",
    "Reply",
    "Revive",
    "Suppress",
    "Teardown",
]
