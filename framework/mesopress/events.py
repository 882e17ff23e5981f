"""Events that enter the scheduler core.

Why this module exists: the pymesos adapter, the timers and the HTTP API all talk to the core through
these plain, frozen values, so the core never sees a driver, a thread or a socket. Payloads that come
from Mesos (offers, statuses) are kept as the plain dicts pymesos hands over (Mesos JSON shape); the core
validates them and tolerates malformed ones (they are logged, never raised).

See docs/scheduler.md ("The core") for the list and meaning of each event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Reply = Callable[[Any], None]


@dataclass(frozen=True)
class Subscribed:
    """The driver (re)registered with the master under `framework_id` (Mesos JSON: {"value": ...} or str)."""

    framework_id: str


@dataclass(frozen=True)
class Offers:
    """A batch of resource offers, each a Mesos JSON dict (id, agent_id, hostname, resources, ...)."""

    offers: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Rescinded:
    """The master took back an offer."""

    offer_id: str


@dataclass(frozen=True)
class Status:
    """A task status update as a Mesos JSON dict (task_id, state, agent_id, uuid, reason, ...)."""

    status: Mapping[str, Any]


@dataclass(frozen=True)
class AgentLost:
    """The master reported an agent as lost/gone (FAILURE event or slaveLost)."""

    agent_id: str


@dataclass(frozen=True)
class Disconnected:
    """The driver lost its connection to the master; the core stops expecting answers."""


@dataclass(frozen=True)
class Tick:
    """A timer tick: deadlines, reconciliation and plan refresh happen here, at `now` (seconds)."""

    now: float


@dataclass(frozen=True)
class Command:
    """An operator command (from HTTP/CLI): kind in {"replace", "uninstall", "update_config", ...}.

    `reply` is called by the runner with the core's answer (the core returns a `Reply` effect).
    """

    kind: str
    args: Mapping[str, Any] = field(default_factory=dict)
    reply: Reply | None = None


@dataclass(frozen=True)
class MesosError:
    """The master sent an ERROR event (e.g. framework removed)."""

    message: str


Event = Subscribed | Offers | Rescinded | Status | AgentLost | Disconnected | Tick | Command | MesosError

__all__ = [
    "AgentLost",
    "Command",
    "Disconnected",
    "Event",
    "MesosError",
    "Offers",
    "Reply",
    "Rescinded",
    "Status",
    "Subscribed",
    "Tick",
]
