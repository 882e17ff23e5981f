"""Plans, phases and steps: what the framework is working on, in what order, and why it waits.

Why this module exists: operators must see progress and reasons (the /v1/plans API), and the scheduler
core must know which pieces of work may take offers now. A plan is plain, frozen data: phases of steps,
each phase with a strategy (SERIAL: one step at a time, in order; PARALLEL: every step at once), and the
plan itself SERIAL or PARALLEL over its phases. `next_candidates` answers "what may start now";
`to_dict`/`from_dict` give the shape stored in ZooKeeper and served by the API.

Trade-off: statuses of phases and plans are computed from their steps, never stored, so they cannot
disagree. A step's `warning` records something finished but not done as asked (for example "could not
clean X on agent Y (agent gone)"); it stays visible after the step completes.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from typing import Any

from mesopress.machines.result import shallow_dict


class Status(enum.Enum):
    """Progress of a step (and, aggregated, of a phase or plan)."""

    PENDING = "PENDING"  # not started; may be a candidate
    PREPARED = "PREPARED"  # resources are there (e.g. a reservation to relaunch on); may be a candidate
    STARTING = "STARTING"  # operations sent, no confirmation yet
    STARTED = "STARTED"  # running, waiting for readiness
    COMPLETE = "COMPLETE"
    WAITING = "WAITING"  # blocked by something outside the step; `reason` says what
    ERROR = "ERROR"  # needs an operator; `reason` says why


class Strategy(enum.Enum):
    """SERIAL: one step (or phase) at a time, in order; PARALLEL: all at once."""

    SERIAL = "serial"
    PARALLEL = "parallel"


ELIGIBLE = (Status.PENDING, Status.PREPARED)
IN_PROGRESS = (Status.PREPARED, Status.STARTING, Status.STARTED)


@dataclasses.dataclass(frozen=True)
class Step:
    """One unit of work on one target (a pod instance name, a persistence id, ...)."""

    name: str
    status: Status = Status.PENDING
    reason: str = ""
    target: str = ""
    kind: str = ""
    warning: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(shallow_dict(self), status=self.status.value)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        return cls(**dict(data, status=Status(data["status"])))


@dataclasses.dataclass(frozen=True)
class Phase:
    """Steps that belong together (one pod, one kind of clean-up), run by one strategy."""

    name: str
    steps: tuple[Step, ...] = ()
    strategy: Strategy = Strategy.SERIAL

    @property
    def status(self) -> Status:
        return aggregate(step.status for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        steps = [step.to_dict() for step in self.steps]
        return {
            "name": self.name,
            "strategy": self.strategy.value,
            "status": self.status.value,
            "steps": steps,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Phase:
        steps = tuple(Step.from_dict(step) for step in data["steps"])
        return cls(data["name"], steps, Strategy(data["strategy"]))


@dataclasses.dataclass(frozen=True)
class Plan:
    """Phases run by the plan's strategy; its status is computed from theirs."""

    name: str
    phases: tuple[Phase, ...] = ()
    strategy: Strategy = Strategy.SERIAL

    @property
    def status(self) -> Status:
        return aggregate(phase.status for phase in self.phases)

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(step for phase in self.phases for step in phase.steps)

    def to_dict(self) -> dict[str, Any]:
        phases = [phase.to_dict() for phase in self.phases]
        status = self.status.value
        return {"name": self.name, "strategy": self.strategy.value, "status": status, "phases": phases}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        phases = tuple(Phase.from_dict(phase) for phase in data["phases"])
        return cls(data["name"], phases, Strategy(data["strategy"]))


def aggregate(statuses: Iterable[Status]) -> Status:
    """The status of a group: ERROR wins, then all-COMPLETE, all-PENDING, WAITING, else STARTED."""
    found = list(statuses)
    if Status.ERROR in found:
        return Status.ERROR
    if all(status is Status.COMPLETE for status in found):
        return Status.COMPLETE
    if all(status is Status.PENDING for status in found):
        return Status.PENDING
    if Status.WAITING in found and not any(status in IN_PROGRESS for status in found):
        return Status.WAITING
    return Status.STARTED


def _phase_candidates(phase: Phase) -> tuple[Step, ...]:
    if phase.strategy is Strategy.PARALLEL:
        return tuple(step for step in phase.steps if step.status in ELIGIBLE)
    head = next((step for step in phase.steps if step.status is not Status.COMPLETE), None)
    return (head,) if head is not None and head.status in ELIGIBLE else ()


def next_candidates(plan: Plan) -> tuple[Step, ...]:
    """The steps that may start now (PENDING or PREPARED and not blocked by their strategy)."""
    if plan.strategy is Strategy.PARALLEL:
        return tuple(step for phase in plan.phases for step in _phase_candidates(phase))
    head = next((phase for phase in plan.phases if phase.status is not Status.COMPLETE), None)
    return _phase_candidates(head) if head is not None else ()


def find_step(plan: Plan, name: str) -> Step | None:
    """The step called `name`, if any."""
    return next((step for step in plan.steps if step.name == name), None)


def update_step(plan: Plan, name: str, **changes: Any) -> Plan:
    """A copy of `plan` with the step called `name` changed (unknown names change nothing)."""
    phases = tuple(
        dataclasses.replace(phase, steps=tuple(_changed(step, name, changes) for step in phase.steps))
        for phase in plan.phases
    )
    return dataclasses.replace(plan, phases=phases)


def _changed(step: Step, name: str, changes: dict[str, Any]) -> Step:
    return dataclasses.replace(step, **changes) if step.name == name else step


def warnings(plan: Plan) -> tuple[str, ...]:
    """Every recorded warning, in plan order (for reports such as 'what uninstall could not clean')."""
    return tuple(step.warning for step in plan.steps if step.warning)
