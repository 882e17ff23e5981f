"""The state machine of one dynamic reservation and its persistent volume, named by its persistence id.

Why this module exists: RESERVE, CREATE, DESTROY and UNRESERVE report nothing back (we do not use
operation feedback), and an ACCEPT can be lost or partly applied. The only truth is what later offers
contain: a labelled reservation offered with or without its volume, or not at all. This machine turns
that evidence, plus deadlines, into the next operation to send, so lost operations are retried and
clean-up finishes.

Life: PROPOSED -> RESERVE_SENT -> (RESERVED -> CREATE_SENT ->) VOLUME_CREATED while an instance owns it;
ORPHANED -> DESTROY_SENT -> UNRESERVE_SENT -> GONE once no instance wants it. Trade-offs:

- an orphan that was ever seen is kept until its agent returns (even under a new agent id, found by its
  labels), so an agent that comes back never keeps a stray volume; one never seen expires by deadline;
- after DESTROY/UNRESERVE, "not seen again within the deadline" counts as done. If the agent was away,
  the labelled resources reappear later and `Seen` in GONE starts the clean-up again;
- a VOLUME_CREATED reservation offered without its volume is ignored, never re-created: a second CREATE
  could only ever make a new, empty volume.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

from mesopress.machines.result import Effect, Result, illegal, noop, shallow_dict, success


class Status(enum.Enum):
    """Where the reservation is; *_SENT means an operation went out and its result is not yet seen."""

    PROPOSED = "PROPOSED"
    RESERVE_SENT = "RESERVE_SENT"
    RESERVED = "RESERVED"
    CREATE_SENT = "CREATE_SENT"
    VOLUME_CREATED = "VOLUME_CREATED"
    ORPHANED = "ORPHANED"
    DESTROY_SENT = "DESTROY_SENT"
    UNRESERVE_SENT = "UNRESERVE_SENT"
    GONE = "GONE"


@dataclasses.dataclass(frozen=True)
class ReservationState:
    """One reservation + volume; stored in ZooKeeper as `to_dict()`."""

    persistence_id: str
    instance: str
    status: Status = Status.PROPOSED
    agent_id: str | None = None
    has_volume: bool = False
    confirmed: bool = False  # seen in an offer or used by a task at least once
    agent_gone: bool = False
    since: float = 0.0
    attempts: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(shallow_dict(self), status=self.status.value)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReservationState:
        return cls(**dict(data, status=Status(data["status"])))


@dataclasses.dataclass(frozen=True)
class Reserve:
    """Command: send RESERVE + CREATE with an offer from `agent_id` (only after storing the result)."""

    agent_id: str
    key = "reserve"


@dataclasses.dataclass(frozen=True)
class Create:
    """Command: send CREATE on the reservation already seen in an offer."""

    key = "create"


@dataclasses.dataclass(frozen=True)
class Seen:
    """An offer from `agent_id` holds this reservation (labels match); `volume` if the volume is there."""

    agent_id: str
    volume: bool = True
    key = "seen"


@dataclasses.dataclass(frozen=True)
class InUse:
    """A task launched on this reservation reached STAGING or later: reservation and volume exist."""

    key = "in_use"


@dataclasses.dataclass(frozen=True)
class NotSeen:
    """A timer asks whether the last operation has shown no result for `timeout_s`."""

    timeout_s: float
    key = "not_seen"


@dataclasses.dataclass(frozen=True)
class Orphan:
    """No instance wants this reservation any more (replaced, decommissioned, uninstalled)."""

    reason: str = "no owner"
    key = "orphan"


@dataclasses.dataclass(frozen=True)
class AgentGone:
    """The agent was marked gone; clean-up there can only happen if it comes back under a new id."""

    agent_id: str
    key = "agent_gone"


Event = Reserve | Create | Seen | InUse | NotSeen | Orphan | AgentGone


@dataclasses.dataclass(frozen=True)
class Send(Effect):
    """Send these offer operations, in order, in one ACCEPT of an offer from `agent_id`."""

    persistence_id: str
    agent_id: str
    operations: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Retry(Effect):
    """An operation showed no result by its deadline; the caller may revive offers and log `what`."""

    persistence_id: str
    what: str


@dataclasses.dataclass(frozen=True)
class Forget(Effect):
    """Nothing is left on any agent: delete the stored record."""

    persistence_id: str


GRID = """
.               reserve create seen  in_use not_seen orphan agent_gone
PROPOSED        reserve I      adopt I      N        forget N
RESERVE_SENT    I       I      adopt adopt  retry    orphan gone
RESERVED        I       create adopt adopt  N        orphan gone
CREATE_SENT     I       I      adopt adopt  retry    orphan gone
VOLUME_CREATED  I       I      adopt N      N        orphan gone
ORPHANED        I       I      clean N      expire   N      gone
DESTROY_SENT    I       I      clean N      cleaned  N      gone
UNRESERVE_SENT  I       I      clean N      cleaned  N      gone
GONE            I       I      clean N      N        N      N
"""


def _parse(grid: str) -> dict[Status, dict[str, str]]:
    (_, *columns), *rows = (line.split() for line in grid.strip().splitlines())
    return {Status(name): dict(zip(columns, cells, strict=True)) for name, *cells in rows}


TABLE = _parse(GRID)


def transition(state: ReservationState, event: Event, now: float) -> Result[ReservationState]:
    """Decide what `event` means for this reservation at time `now`."""
    action = TABLE[state.status][event.key]
    what = f"{type(event).__name__} for {state.persistence_id} in {state.status.value}"
    if action == "N":
        return noop(state, f"{what} changes nothing")
    if action == "I":
        return illegal(state, f"{what} is not allowed")
    return _ACTIONS[action](state, event, now)


def _enter(
    state: ReservationState, now: float, reason: str, *effects: Effect, **changes: Any
) -> Result[ReservationState]:
    new = dataclasses.replace(state, reason=reason, **changes)
    if new.status is not state.status:
        new = dataclasses.replace(new, since=now)
    if new == dataclasses.replace(state, reason=reason) and not effects:
        return noop(state, reason)
    return success(new, *effects, reason=reason)


def _reserve(state: ReservationState, event: Reserve, now: float) -> Result[ReservationState]:
    send = Send(state.persistence_id, event.agent_id, ("RESERVE", "CREATE"))
    why = f"reserving and creating volume {state.persistence_id} on agent {event.agent_id}"
    return _enter(state, now, why, send, status=Status.RESERVE_SENT, agent_id=event.agent_id)


def _create(state: ReservationState, event: Create, now: float) -> Result[ReservationState]:
    send = Send(state.persistence_id, state.agent_id or "", ("CREATE",))
    return _enter(state, now, f"creating volume {state.persistence_id}", send, status=Status.CREATE_SENT)


def _adopt(state: ReservationState, event: Seen | InUse, now: float) -> Result[ReservationState]:
    volume = getattr(event, "volume", True)
    if state.status is Status.VOLUME_CREATED and not volume:
        return noop(state, "offered without its volume (in use?): never re-created")
    agent = getattr(event, "agent_id", state.agent_id)
    status = Status.VOLUME_CREATED if volume else Status.RESERVED
    why = f"{'volume' if volume else 'reservation only'} seen on agent {agent}"
    changes = dict(status=status, agent_id=agent, has_volume=volume, confirmed=True, agent_gone=False)
    return _enter(state, now, why, **changes)


def _retry(state: ReservationState, event: NotSeen, now: float) -> Result[ReservationState]:
    waited = now - state.since
    if waited < event.timeout_s:
        return noop(state, f"waited {waited:.0f}s of {event.timeout_s:.0f}s")
    back = Status.PROPOSED if state.status is Status.RESERVE_SENT else Status.RESERVED
    what = "reservation" if back is Status.PROPOSED else "volume"
    why = f"{what} {state.persistence_id} not seen in offers after {waited:.0f}s: retrying"
    retry = Retry(state.persistence_id, why)
    return _enter(state, now, why, retry, status=back, attempts=state.attempts + 1)


def _orphan(state: ReservationState, event: Orphan, now: float) -> Result[ReservationState]:
    why = f"orphaned ({event.reason}): clean up when seen on agent {state.agent_id}"
    return _enter(state, now, why, status=Status.ORPHANED, attempts=0)


def _forget(state: ReservationState, event: Event, now: float) -> Result[ReservationState]:
    why = f"{state.persistence_id}: nothing left to clean"
    return _enter(state, now, why, Forget(state.persistence_id), status=Status.GONE)


def _gone(state: ReservationState, event: AgentGone, now: float) -> Result[ReservationState]:
    if event.agent_id != state.agent_id:
        return noop(state, f"agent {event.agent_id} does not hold {state.persistence_id}")
    return _enter(state, now, f"agent {event.agent_id} gone", agent_gone=True)


def _clean(state: ReservationState, event: Seen, now: float) -> Result[ReservationState]:
    ops = ("DESTROY", "UNRESERVE") if event.volume else ("UNRESERVE",)
    status = Status.DESTROY_SENT if event.volume else Status.UNRESERVE_SENT
    why = f"sending {' + '.join(ops)} for {state.persistence_id} on agent {event.agent_id}"
    send = Send(state.persistence_id, event.agent_id, ops)
    changes = dict(status=status, agent_id=event.agent_id, has_volume=event.volume, agent_gone=False)
    return _enter(state, now, why, send, confirmed=True, attempts=state.attempts + 1, **changes)


def _expire(state: ReservationState, event: NotSeen, now: float) -> Result[ReservationState]:
    waited = now - state.since
    if state.confirmed or waited < event.timeout_s:
        return noop(state, f"waiting for agent {state.agent_id} to offer {state.persistence_id}")
    return _forget(state, event, now)


def _cleaned(state: ReservationState, event: NotSeen, now: float) -> Result[ReservationState]:
    waited = now - state.since
    if waited < event.timeout_s:
        return noop(state, f"waited {waited:.0f}s of {event.timeout_s:.0f}s")
    return _forget(state, event, now)


_ACTIONS: dict[str, Callable[[ReservationState, Any, float], Result[ReservationState]]] = {
    "reserve": _reserve,
    "create": _create,
    "adopt": _adopt,
    "retry": _retry,
    "orphan": _orphan,
    "forget": _forget,
    "gone": _gone,
    "clean": _clean,
    "expire": _expire,
    "cleaned": _cleaned,
}


def needs_cleaning(state: ReservationState) -> bool:
    """True while something may be left on an agent (uninstall and GC read this)."""
    return state.status in (Status.ORPHANED, Status.DESTROY_SENT, Status.UNRESERVE_SENT)


def next_deadline(state: ReservationState, timeout_s: float) -> tuple[float, NotSeen] | None:
    """When the caller's timer should ask whether the last operation showed a result; None if never."""
    waiting = (Status.RESERVE_SENT, Status.CREATE_SENT, Status.DESTROY_SENT, Status.UNRESERVE_SENT)
    if state.status in waiting or (state.status is Status.ORPHANED and not state.confirmed):
        return state.since + timeout_s, NotSeen(timeout_s)
    return None
