"""The vocabulary of the instance machine: goals, conditions, events and effects.

Why this module exists: the scheduler core builds these events from Mesos updates, timers and operator
commands, and runs these effects; keeping them apart from the transition table lets both sides import
the words without the decisions, and keeps `instance.py` a table plus small actions.

`classify` is where Mesos task states become decisions: TASK_LOST means different things depending on its
reason (an agent that went away may return; one removed by an operator never does), and TASK_UNKNOWN is
treated like TASK_UNREACHABLE: the master does not know the agent, but a host that comes back (even under
a new id) still holds the volume, so only the unreachable deadline may make it permanent.
"""

from __future__ import annotations

import dataclasses
import enum

from mesopress.machines.result import Effect


class Goal(enum.Enum):
    """What we want for the instance, set by deploy, the operator or uninstall."""

    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    REPLACE = "REPLACE"
    DECOMMISSIONED = "DECOMMISSIONED"


class Condition(enum.Enum):
    """What Mesos says about the task, reduced to what matters for a decision."""

    STAGING = "STAGING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    KILLING = "KILLING"
    TERMINATED = "TERMINATED"  # ended; the agent and its reservation are still there (transient)
    UNREACHABLE = "UNREACHABLE"  # agent out of touch; may come back (transient until the deadline)
    GONE = "GONE"  # agent marked gone by an operator: never comes back under this id (permanent)


_AGENT_AWAY = {"REASON_AGENT_REMOVED", "REASON_AGENT_DISCONNECTED", "REASON_SLAVE_REMOVED"}
_BY_OPERATOR = {"REASON_AGENT_REMOVED_BY_OPERATOR", "REASON_SLAVE_REMOVED_BY_OPERATOR"}
_DIRECT = {
    "TASK_STAGING": Condition.STAGING,
    "TASK_STARTING": Condition.STARTING,
    "TASK_RUNNING": Condition.RUNNING,
    "TASK_KILLING": Condition.KILLING,
    "TASK_UNREACHABLE": Condition.UNREACHABLE,
    "TASK_UNKNOWN": Condition.UNREACHABLE,
    "TASK_GONE_BY_OPERATOR": Condition.GONE,
}


def classify(task_state: str, reason: str = "") -> Condition:
    """Map a Mesos task state (+ reason) to a Condition. TASK_LOST depends on why it was sent."""
    if task_state in _DIRECT:
        return _DIRECT[task_state]
    if task_state == "TASK_LOST" and reason in _BY_OPERATOR:
        return Condition.GONE
    if task_state == "TASK_LOST" and reason in _AGENT_AWAY:
        return Condition.UNREACHABLE
    return Condition.TERMINATED  # FINISHED FAILED KILLED ERROR DROPPED GONE, other LOST


# Events: what happened. Each has a `key` (a table column).
@dataclasses.dataclass(frozen=True)
class OfferAccepted:
    """An offer was matched for this instance; the ACCEPT goes out only after RecordIntent succeeds."""

    agent_id: str
    task_id: str
    key = "offer"


@dataclasses.dataclass(frozen=True)
class TaskStatus:
    """A Mesos task status update, as received (state and reason are the Mesos enum names)."""

    task_id: str
    state: str
    reason: str = ""
    agent_id: str = ""
    unreachable_time: float | None = None

    @property
    def condition(self) -> Condition:
        return classify(self.state, self.reason)

    @property
    def key(self) -> str:
        return {Condition.TERMINATED: "ended", Condition.UNREACHABLE: "unreach"}.get(
            self.condition, self.condition.value.lower()
        )


@dataclasses.dataclass(frozen=True)
class ReadinessPassed:
    """The pod's readiness check passed (Galera Synced, WordPress answering)."""

    key = "ready"


@dataclasses.dataclass(frozen=True)
class AgentGone:
    """The agent was marked gone (by an operator, or reported so by Mesos)."""

    agent_id: str
    key = "agent_gone"


@dataclasses.dataclass(frozen=True)
class UnreachableDeadlinePassed:
    """A timer asks whether an unreachable instance has been away for `timeout_s`."""

    timeout_s: float
    key = "deadline"


@dataclasses.dataclass(frozen=True)
class OperatorReplace:
    """The operator asked to replace the instance on a new reservation."""

    key = "replace"


@dataclasses.dataclass(frozen=True)
class KillRequested:
    """Stop the instance (goal STOPPED) or remove it for good (goal DECOMMISSIONED)."""

    goal: Goal = Goal.STOPPED
    key = "kill"

    def __post_init__(self) -> None:
        if self.goal not in (Goal.STOPPED, Goal.DECOMMISSIONED):
            raise ValueError(
                f"error requesting a kill: goal must be STOPPED or DECOMMISSIONED, not {self.goal}"
            )


@dataclasses.dataclass(frozen=True)
class RestartRequested:
    """Restart a running instance in place with the current configuration (a rolling restart): kill it
    and keep goal RUNNING, so its end settles into FAILED and a relaunch on the same reservation."""

    key = "restart"


@dataclasses.dataclass(frozen=True)
class StartRequested:
    """Run a stopped instance again."""

    key = "start"


@dataclasses.dataclass(frozen=True)
class ReservationSeen:
    """An offer contained this instance's labelled reservation and volume, so no task uses them."""

    agent_id: str
    key = "seen"


@dataclasses.dataclass(frozen=True)
class ReservationNotSeen:
    """A timer asks whether a launch or relaunch has shown no sign of life for `timeout_s`."""

    timeout_s: float
    key = "not_seen"


@dataclasses.dataclass(frozen=True)
class ReplacementStarted:
    """The recovery plan granted this instance the single replacement slot."""

    key = "replacement"


Event = (
    OfferAccepted
    | TaskStatus
    | ReadinessPassed
    | AgentGone
    | UnreachableDeadlinePassed
    | OperatorReplace
    | KillRequested
    | RestartRequested
    | StartRequested
    | ReservationSeen
    | ReservationNotSeen
    | ReplacementStarted
)
_LIVE = {Condition.STAGING, Condition.STARTING, Condition.RUNNING, Condition.KILLING}


def is_live(event: TaskStatus) -> bool:
    """True when the update says a task exists on the agent (it may need killing)."""
    return event.condition in _LIVE


def goal_of(event: Event) -> Goal | None:
    """The goal an operator or plan event asks for, if any."""
    if isinstance(event, KillRequested):
        return event.goal
    return {"replace": Goal.REPLACE, "start": Goal.RUNNING}.get(event.key)


def describe(event: Event) -> str:
    """A short human text for reasons and logs."""
    if isinstance(event, TaskStatus):
        return f"{event.state} {event.reason}".strip() + f" for {event.task_id}"
    return type(event).__name__


# Effects: what the caller does, in order, after storing the new state.
@dataclasses.dataclass(frozen=True)
class RecordIntent(Effect):
    """Store the intended task before sending ACCEPT; if the write fails, send nothing."""

    instance: str
    task_id: str
    agent_id: str
    in_place: bool


@dataclasses.dataclass(frozen=True)
class Relaunch(Effect):
    """Look for offers holding this instance's reservation on `agent_id` and launch on it."""

    instance: str
    agent_id: str
    in_place: bool = True


@dataclasses.dataclass(frozen=True)
class Replace(Effect):
    """Look for offers for a new reservation and volume, avoiding `old_agent_id`."""

    instance: str
    old_agent_id: str


@dataclasses.dataclass(frozen=True)
class Kill(Effect):
    """Send KILL for a task."""

    instance: str
    task_id: str
    agent_id: str


@dataclasses.dataclass(frozen=True)
class DestroyOld(Effect):
    """Hand this instance's reservations on `agent_id` to clean-up (reservation machine: Orphan)."""

    instance: str
    agent_id: str
    reason: str
