"""The recovery plan: what is being done about instances that failed after they were deployed.

Why this module exists: recovery is where data is kept or lost, and operators need to see why an
instance is not running. Transient failures (FAILED, UNREACHABLE) are relaunched in place, all at once
(phase "relaunch", PARALLEL). Permanent failures go to phase "replace" (SERIAL) and get a new reservation
one at a time: a replacement rebuilds a node from its peers (a Galera SST), and two at once could leave
the cluster without a donor or quorum. `next_replacement` is that rule as a function, so the scheduler
and the plan cannot disagree.

Trade-off: the plan is rebuilt from instance states on every refresh, keeping COMPLETE steps of the
previous plan for display until the instance fails again, so it survives failover without its own
state and never shows work that no instance needs.
"""

from __future__ import annotations

from collections.abc import Mapping

from mesopress.machines.instance import InstanceState
from mesopress.machines.instance import Status as InstanceStatus
from mesopress.machines.instance_events import Goal
from mesopress.plans.plan import Phase, Plan, Status, Step, Strategy

_TROUBLE = (InstanceStatus.FAILED, InstanceStatus.UNREACHABLE)
_PERMANENT = (InstanceStatus.LOST_PERMANENTLY, InstanceStatus.REPLACING)
_SETTLED = (InstanceStatus.READY, InstanceStatus.STOPPED, InstanceStatus.DECOMMISSIONED)
_PROGRESS = {
    InstanceStatus.PENDING_RESERVE: (Status.PENDING, "waiting for an offer"),
    InstanceStatus.LAUNCHING: (Status.STARTING, "launch sent"),
    InstanceStatus.STAGING: (Status.STARTING, "task staging"),
    InstanceStatus.STARTING: (Status.STARTING, "task starting"),
    InstanceStatus.RUNNING: (Status.STARTED, "running; waiting for the readiness check"),
    InstanceStatus.READY: (Status.COMPLETE, "ready"),
    InstanceStatus.KILLING: (Status.WAITING, "being killed"),
    InstanceStatus.STOPPED: (Status.COMPLETE, "stopped by the operator"),
    InstanceStatus.DECOMMISSIONED: (Status.COMPLETE, "decommissioned"),
}


def in_replacement(state: InstanceState) -> bool:
    """True while `state` holds the single replacement slot."""
    return state.replacement and state.status not in (*_SETTLED, InstanceStatus.LOST_PERMANENTLY)


def waiting_for_replacement(instances: Mapping[str, InstanceState]) -> list[InstanceState]:
    """Permanently lost instances that want to run again, oldest loss first."""
    lost = [
        state
        for state in instances.values()
        if state.status is InstanceStatus.LOST_PERMANENTLY and state.goal in (Goal.RUNNING, Goal.REPLACE)
    ]
    return sorted(lost, key=lambda state: (state.since, state.name))


def next_replacement(instances: Mapping[str, InstanceState]) -> str | None:
    """The instance that may start its replacement now, or None (one at a time)."""
    if any(in_replacement(state) for state in instances.values()):
        return None
    queue = waiting_for_replacement(instances)
    return queue[0].name if queue else None


def build(
    instances: Mapping[str, InstanceState],
    now: float,
    unreachable_timeout_s: float,
    previous: Plan | None = None,
) -> Plan:
    """The recovery plan at `now`; steps of `previous` no longer in trouble show their progress."""
    relaunch = [_relaunch_step(s, now, unreachable_timeout_s) for s in _sorted(instances) if _relaunching(s)]
    replace = _replace_steps(instances)
    kept = {step.name for step in (*relaunch, *replace)}
    carried = [
        _carry(step, instances) for step in (previous.steps if previous else ()) if step.name not in kept
    ]
    phases = (
        Phase(
            "relaunch",
            tuple(relaunch + [s for s in carried if s and s.kind == "relaunch"]),
            Strategy.PARALLEL,
        ),
        Phase("replace", tuple(replace + [s for s in carried if s and s.kind == "replace"]), Strategy.SERIAL),
    )
    return Plan("recovery", phases, Strategy.PARALLEL)


def _carry(step: Step, instances: Mapping[str, InstanceState]) -> Step | None:
    """A step of the previous plan whose instance is out of trouble: show how far it got."""
    state = instances.get(step.target)
    if step.status is Status.COMPLETE or state is None:
        return step if state is not None else None
    if state.status not in _PROGRESS:
        return None
    status, reason = _PROGRESS[state.status]
    return Step(step.name, status, f"{step.kind}: {reason}", step.target, step.kind)


def _sorted(instances: Mapping[str, InstanceState]) -> list[InstanceState]:
    return [instances[name] for name in sorted(instances)]


def _relaunching(state: InstanceState) -> bool:
    return state.status in _TROUBLE and not state.replacement


def _relaunch_step(state: InstanceState, now: float, timeout_s: float) -> Step:
    if state.status is InstanceStatus.UNREACHABLE:
        since = state.unreachable_since if state.unreachable_since is not None else state.since
        reason = (
            f"agent {state.agent_id} unreachable for {now - since:.0f}s; replaced if not back "
            f"within {timeout_s:.0f}s (at {since + timeout_s:.0f})"
        )
        return Step(state.name, Status.WAITING, reason, state.name, "relaunch")
    reason = f"relaunching in place on agent {state.agent_id} (attempt {state.attempts + 1}): {state.reason}"
    return Step(state.name, Status.PREPARED, reason, state.name, "relaunch")


def _replace_steps(instances: Mapping[str, InstanceState]) -> list[Step]:
    active = [s for s in _sorted(instances) if in_replacement(s)]
    steps = [_active_step(state) for state in active]
    holder = active[0].name if active else None
    for state in waiting_for_replacement(instances):
        if holder is None:
            holder = state.name
            why = f"lost permanently ({state.reason}); next to be replaced"
            steps.append(Step(state.name, Status.PENDING, why, state.name, "replace"))
        else:
            why = f"lost permanently; waiting for the replacement of {holder} (one at a time)"
            steps.append(Step(state.name, Status.WAITING, why, state.name, "replace"))
    return steps


def _active_step(state: InstanceState) -> Step:
    if state.status is InstanceStatus.REPLACING:
        reason = f"replacement started: waiting for an offer for a new reservation ({state.reason})"
        return Step(state.name, Status.PREPARED, reason, state.name, "replace")
    if state.status in _TROUBLE:
        status = Status.PREPARED if state.status is InstanceStatus.FAILED else Status.WAITING
        reason = f"replacement on agent {state.agent_id} is {state.status.value}: {state.reason}"
        return Step(state.name, status, reason, state.name, "replace")
    status, reason = _PROGRESS[state.status]
    return Step(state.name, status, f"replacement {reason} on agent {state.agent_id}", state.name, "replace")
