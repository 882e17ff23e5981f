"""The state machine of one pod instance ("galera-0", "wordpress-1").

Why this module exists: the costly decisions of a stateful framework are made when Mesos reports that a
task died or its agent vanished. Wrong answers lose data (a new, empty volume while the old one exists)
or availability (no replacement after a node is really lost). They live here, in one table, without I/O,
so every (status, event) pair is decided on purpose and tested (see docs/state-machines.md).

What we want (`Goal`) is kept apart from what Mesos says (`Condition`, from task state and reason) and
from where we are (`Status`). Failures are classified:

- transient: the task ended, the agent restarted or came back under a new id: relaunch in place on the
  same reservation and volume (`Relaunch(in_place=True)`), never a new volume;
- permanent: the agent was marked gone, stayed unreachable past a timeout counted from the stored
  `unreachable_since`, or an operator asked for a replace. The instance waits in LOST_PERMANENTLY until
  the recovery plan grants it the single replacement slot (`ReplacementStarted`); then the old
  reservation goes to clean-up (`DestroyOld`) and a new one is made elsewhere (`Replace`). If the old
  reservation reappears first (the agent came back), it returns to a transient relaunch.

An instance that never held a confirmed reservation has nothing to lose: a failure sends it back to
PENDING_RESERVE. Deadlines compare `now` with stored moments; the caller's timer only asks the question.
The table is data (`MESOS_GRID`, `COMMAND_GRID`); its cells name the small functions in `_ACTIONS`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from typing import Any

from mesopress.machines.instance_events import (
    AgentGone,
    DestroyOld,
    Event,
    Goal,
    Kill,
    OfferAccepted,
    RecordIntent,
    Relaunch,
    Replace,
    ReservationNotSeen,
    ReservationSeen,
    RestartRequested,
    TaskStatus,
    UnreachableDeadlinePassed,
    describe,
    goal_of,
    is_live,
)
from mesopress.machines.result import Effect, Result, illegal, noop, shallow_dict, success


class Status(enum.Enum):
    """Where the instance is in its life."""

    PENDING_RESERVE = "PENDING_RESERVE"
    LAUNCHING = "LAUNCHING"
    STAGING = "STAGING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    READY = "READY"
    FAILED = "FAILED"
    UNREACHABLE = "UNREACHABLE"
    LOST_PERMANENTLY = "LOST_PERMANENTLY"
    REPLACING = "REPLACING"
    KILLING = "KILLING"
    STOPPED = "STOPPED"
    DECOMMISSIONED = "DECOMMISSIONED"


@dataclasses.dataclass(frozen=True)
class InstanceState:
    """Everything the machine decides on; stored in ZooKeeper as `to_dict()`."""

    name: str
    status: Status = Status.PENDING_RESERVE
    goal: Goal = Goal.RUNNING
    task_id: str | None = None
    agent_id: str | None = None
    reserved: bool = False
    replacement: bool = False
    since: float = 0.0
    unreachable_since: float | None = None
    attempts: int = 0
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(shallow_dict(self), status=self.status.value, goal=self.goal.value)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstanceState:
        return cls(**dict(data, status=Status(data["status"]), goal=Goal(data["goal"])))


# The transition table, in two halves (offers and task updates; then readiness, agents, timers, the
# operator and the plans). Rows: statuses; columns: `event.key`; cells: N = NOOP, I = ILLEGAL (only for
# our own decisions, never for what Mesos reports), else an action of `_ACTIONS`:
#   launch  record the intent, LAUNCHING          live   follow Mesos (kill instead if goal is not RUNNING)
#   stale   kill a stray task, stay               idle   no live task: rest where the goal says (`_rest`)
#   unrch   start the unreachable clock           perm   permanent failure: LOST_PERMANENTLY
#   deadl   perm if unreachable for timeout_s     notseen  no sign of life for timeout_s: retry
#   kill    send Kill, KILLING                    regoal only change the goal
#   ready   READY                                 moved  follow the reservation to its agent id
#   dead    reservation offered, so no task uses it: rest       back   old reservation is back: relaunch
#   repl    start the granted replacement         restrt kill, keep goal RUNNING: relaunch in place
MESOS_GRID = """
.                offer  staging starting running killing ended unreach gone
PENDING_RESERVE  launch stale   stale    stale   N       N     N       N
LAUNCHING        I      live    live     live    live    idle  unrch   perm
STAGING          I      N       live     live    live    idle  unrch   perm
STARTING         I      N       N        live    live    idle  unrch   perm
RUNNING          I      N       N        N       live    idle  unrch   perm
READY            I      N       N        N       live    idle  unrch   perm
FAILED           launch live    live     live    N       N     unrch   perm
UNREACHABLE      I      live    live     live    live    idle  N       perm
LOST_PERMANENTLY I      live    live     live    N       N     N       N
REPLACING        launch stale   stale    stale   N       N     N       N
KILLING          I      live    live     live    N       idle  unrch   perm
STOPPED          I      live    live     live    N       N     N       perm
DECOMMISSIONED   I      stale   stale    stale   N       N     N       N
"""
COMMAND_GRID = """
.                ready agent_gone deadline replace kill start  seen  not_seen replacement restart
PENDING_RESERVE  N     N          N        N       idle regoal N     N        I           N
LAUNCHING        N     perm       N        kill    kill regoal N     notseen  I           N
STAGING          N     perm       N        kill    kill regoal dead  N        I           N
STARTING         N     perm       N        kill    kill regoal dead  N        I           N
RUNNING          ready perm       N        kill    kill regoal dead  N        I           restrt
READY            N     perm       N        kill    kill regoal dead  N        I           restrt
FAILED           N     perm       N        idle    idle regoal moved notseen  I           N
UNREACHABLE      N     perm       deadl    perm    kill regoal dead  N        I           N
LOST_PERMANENTLY N     N          N        regoal  idle regoal back  N        repl        N
REPLACING        N     N          N        N       idle regoal N     N        N           N
KILLING          N     perm       N        kill    kill regoal dead  N        I           N
STOPPED          N     perm       N        idle    idle idle   moved N        I           N
DECOMMISSIONED   N     N          N        I       N    I      N     N        I           I
"""


def _parse(*grids: str) -> dict[Status, dict[str, str]]:
    table: dict[Status, dict[str, str]] = {status: {} for status in Status}
    for grid in grids:
        (_, *columns), *rows = (line.split() for line in grid.strip().splitlines())
        for name, *cells in rows:
            table[Status(name)].update(zip(columns, cells, strict=True))
    return table


TABLE = _parse(MESOS_GRID, COMMAND_GRID)


def transition(state: InstanceState, event: Event, now: float) -> Result[InstanceState]:
    """Decide what `event` means for `state` at time `now`."""
    stale = _stale(state, event)
    if stale is not None:
        return stale
    action = TABLE[state.status][event.key]
    if action == "N":
        return noop(state, f"{describe(event)} changes nothing for {state.name} in {state.status.value}")
    if action == "I":
        return illegal(state, f"{describe(event)} is not allowed for {state.name} in {state.status.value}")
    return _ACTIONS[action](state, event, now)


def _stale(state: InstanceState, event: Event) -> Result[InstanceState] | None:
    """Updates of an older task, or agent news about another agent, never move the instance."""
    if isinstance(event, TaskStatus) and state.task_id and event.task_id != state.task_id:
        return _kill_stale(state, event, 0.0) if is_live(event) else noop(state, "update of an old task")
    if isinstance(event, AgentGone) and event.agent_id != state.agent_id:
        return noop(state, f"agent {event.agent_id} does not hold {state.name}")
    return None


def _enter(
    state: InstanceState, now: float, reason: str, *effects: Effect, **changes: Any
) -> Result[InstanceState]:
    new = dataclasses.replace(state, reason=reason, **changes)
    if new.status is not state.status:
        new = dataclasses.replace(new, since=now)
    if new == dataclasses.replace(state, reason=reason) and not effects:
        return noop(state, reason)
    return success(new, *effects, reason=reason)


def _rest(state: InstanceState) -> Status:
    """Where an instance without a live task rests, given its goal."""
    if state.goal is Goal.DECOMMISSIONED:
        return Status.DECOMMISSIONED
    if state.status is Status.LOST_PERMANENTLY:
        return Status.LOST_PERMANENTLY
    if state.goal is Goal.STOPPED:
        return Status.STOPPED
    if not state.reserved:
        return Status.REPLACING if state.replacement else Status.PENDING_RESERVE
    return Status.LOST_PERMANENTLY if state.goal is Goal.REPLACE else Status.FAILED


def _settle(
    state: InstanceState, now: float, why: str, *effects: Effect, **changes: Any
) -> Result[InstanceState]:
    """Put an instance without a live task where its goal says; `changes` apply first."""
    probe = dataclasses.replace(state, **changes)
    target = _rest(probe)
    more: list[Effect] = list(effects)
    if target is Status.FAILED:
        more.append(Relaunch(state.name, probe.agent_id or "", in_place=True))
    elif probe.agent_id and target in (Status.DECOMMISSIONED, Status.PENDING_RESERVE, Status.REPLACING):
        more.append(DestroyOld(state.name, probe.agent_id, why))
    agent = probe.agent_id if probe.reserved else None
    final = {**changes, "status": target, "agent_id": agent, "unreachable_since": None}
    return _enter(state, now, why, *more, **final)


def _goal_change(event: Event) -> dict[str, Goal]:
    goal = goal_of(event)
    return {} if goal is None else {"goal": goal}


def _launch(state: InstanceState, event: OfferAccepted, now: float) -> Result[InstanceState]:
    in_place = state.status is Status.FAILED
    intent = RecordIntent(state.name, event.task_id, event.agent_id, in_place=in_place)
    why = f"launching {event.task_id} on agent {event.agent_id}" + (" in place" if in_place else "")
    changes = dict(status=Status.LAUNCHING, task_id=event.task_id, agent_id=event.agent_id)
    return _enter(state, now, why, intent, **changes)


def _live(state: InstanceState, event: TaskStatus, now: float) -> Result[InstanceState]:
    target = Status(event.condition.value)
    agent = event.agent_id or state.agent_id
    seen = dict(agent_id=agent, reserved=True, unreachable_since=None)
    if state.goal is not Goal.RUNNING and target is not Status.KILLING:
        kill = Kill(state.name, event.task_id, agent or "")
        why = f"{event.state} but goal is {state.goal.value}: killing"
        return _enter(state, now, why, kill, status=Status.KILLING, **seen)
    return _enter(state, now, f"{event.state} on agent {agent}", status=target, **seen)


def _kill_stale(state: InstanceState, event: TaskStatus, now: float) -> Result[InstanceState]:
    kill = Kill(state.name, event.task_id, event.agent_id)
    return success(state, kill, reason=f"killing stray task {event.task_id} ({event.state})")


def _idle(state: InstanceState, event: Event, now: float) -> Result[InstanceState]:
    return _settle(state, now, describe(event), **_goal_change(event))


def _regoal(state: InstanceState, event: Event, now: float) -> Result[InstanceState]:
    return _enter(state, now, f"goal set by {describe(event)}", **_goal_change(event))


def _kill(state: InstanceState, event: Event, now: float) -> Result[InstanceState]:
    kill = Kill(state.name, state.task_id or "", state.agent_id or "")
    status = Status.UNREACHABLE if state.status is Status.UNREACHABLE else Status.KILLING
    return _enter(state, now, f"killing for {describe(event)}", kill, status=status, **_goal_change(event))


def _restart(state: InstanceState, event: RestartRequested, now: float) -> Result[InstanceState]:
    kill = Kill(state.name, state.task_id or "", state.agent_id or "")
    why = "restarting with the new configuration: kill, then relaunch in place"
    return _enter(state, now, why, kill, status=Status.KILLING, goal=Goal.RUNNING)


def _unreachable(state: InstanceState, event: TaskStatus, now: float) -> Result[InstanceState]:
    if not state.reserved:
        return _settle(state, now, f"{describe(event)} before the reservation was confirmed")
    since = event.unreachable_time if event.unreachable_time is not None else now
    why = f"agent {state.agent_id} unreachable ({describe(event)})"
    return _enter(state, now, why, status=Status.UNREACHABLE, unreachable_since=since)


def _permanent(state: InstanceState, event: Event, now: float) -> Result[InstanceState]:
    goal = _goal_change(event)
    why = f"permanent failure: {describe(event)}"
    if not state.reserved or goal.get("goal", state.goal) is Goal.DECOMMISSIONED:
        return _settle(state, now, why, **goal)
    return _enter(state, now, why, status=Status.LOST_PERMANENTLY, unreachable_since=None, **goal)


def _deadline(state: InstanceState, event: UnreachableDeadlinePassed, now: float) -> Result[InstanceState]:
    since = state.unreachable_since if state.unreachable_since is not None else state.since
    waited = now - since
    if waited < event.timeout_s:
        return noop(state, f"unreachable for {waited:.0f}s of {event.timeout_s:.0f}s")
    return _permanent(state, event, now)


def _not_seen(state: InstanceState, event: ReservationNotSeen, now: float) -> Result[InstanceState]:
    waited = now - state.since
    if waited < event.timeout_s:
        return noop(state, f"waited {waited:.0f}s of {event.timeout_s:.0f}s")
    why = f"no sign of {state.name} on agent {state.agent_id} after {waited:.0f}s: retrying"
    if state.status is Status.FAILED:
        relaunch = Relaunch(state.name, state.agent_id or "", in_place=True)
        retried = dataclasses.replace(state, since=now, reason=why, attempts=state.attempts + 1)
        return success(retried, relaunch, reason=why)
    kill = Kill(state.name, state.task_id or "", state.agent_id or "")
    return _settle(state, now, why, kill, attempts=state.attempts + 1)


def _ready(state: InstanceState, event: Event, now: float) -> Result[InstanceState]:
    return _enter(state, now, "readiness check passed", status=Status.READY, replacement=False, attempts=0)


def _moved(state: InstanceState, event: ReservationSeen, now: float) -> Result[InstanceState]:
    return _enter(state, now, f"reservation offered on agent {event.agent_id}", agent_id=event.agent_id)


def _dead(state: InstanceState, event: ReservationSeen, now: float) -> Result[InstanceState]:
    why = f"reservation offered again on agent {event.agent_id}: the task no longer uses it"
    kill = (Kill(state.name, state.task_id, state.agent_id or ""),) if state.task_id else ()
    return _settle(state, now, why, *kill, agent_id=event.agent_id, reserved=True)


def _back(state: InstanceState, event: ReservationSeen, now: float) -> Result[InstanceState]:
    if state.goal is not Goal.RUNNING:
        return noop(state, f"reservation back on agent {event.agent_id}, but goal is {state.goal.value}")
    relaunch = Relaunch(state.name, event.agent_id, in_place=True)
    why = f"reservation back on agent {event.agent_id}: relaunching in place instead of replacing"
    return _enter(state, now, why, relaunch, status=Status.FAILED, agent_id=event.agent_id)


def _replacement(state: InstanceState, event: Event, now: float) -> Result[InstanceState]:
    old = state.agent_id or ""
    why = f"replacing {state.name}: new reservation away from agent {old or '?'}"
    effects = (DestroyOld(state.name, old, why), Replace(state.name, old))
    changes = dict(agent_id=None, task_id=None, reserved=False, replacement=True, unreachable_since=None)
    return _enter(state, now, why, *effects, status=Status.REPLACING, goal=Goal.RUNNING, **changes)


_ACTIONS: dict[str, Callable[[InstanceState, Any, float], Result[InstanceState]]] = {
    "launch": _launch,
    "live": _live,
    "stale": _kill_stale,
    "idle": _idle,
    "regoal": _regoal,
    "kill": _kill,
    "unrch": _unreachable,
    "perm": _permanent,
    "deadl": _deadline,
    "notseen": _not_seen,
    "ready": _ready,
    "moved": _moved,
    "dead": _dead,
    "back": _back,
    "repl": _replacement,
    "restrt": _restart,
}


def offer_need(state: InstanceState) -> tuple[str, str | None] | None:
    """Which offer pipeline this instance waits for: ("launch"|"relaunch"|"replace", agent) or None.

    The words are the values of `mesopress.offers.requests.Kind`.
    """
    if state.status is Status.PENDING_RESERVE and state.goal is Goal.RUNNING:
        return ("launch", None)
    if state.status is Status.FAILED and state.goal is Goal.RUNNING:
        return ("relaunch", state.agent_id)
    if state.status is Status.REPLACING:
        return ("replace", None)
    return None


def next_deadline(
    state: InstanceState, unreachable_timeout_s: float, not_seen_timeout_s: float
) -> tuple[float, Event] | None:
    """When the caller's timer should ask, and with which event; None if no deadline runs."""
    if state.status is Status.UNREACHABLE:
        since = state.unreachable_since if state.unreachable_since is not None else state.since
        return since + unreachable_timeout_s, UnreachableDeadlinePassed(unreachable_timeout_s)
    if state.status in (Status.LAUNCHING, Status.FAILED):
        return state.since + not_seen_timeout_s, ReservationNotSeen(not_seen_timeout_s)
    return None
