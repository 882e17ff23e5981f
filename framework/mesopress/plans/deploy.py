"""The deploy plan: bring every pod instance up once, pod by pod, with each pod's own strategy.

Why this module exists: the order of first launches matters for a stateful service. Galera nodes join
one at a time (serial: the next waits until the previous one is Synced, i.e. READY), while WordPress
instances are interchangeable (parallel), and WordPress only starts once the database is complete
(phases run in order). The plan is a view over instance states: `refresh` maps each instance's status
to a step status with a human reason, so the API always says what a step is waiting for.

Trade-off: a COMPLETE deploy step stays COMPLETE; failures after that belong to the recovery plan, so
the deploy plan reads "done once" and does not flap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from mesopress.machines.instance import InstanceState
from mesopress.machines.instance import Status as InstanceStatus
from mesopress.plans.plan import Phase, Plan, Status, Step, Strategy

DEFAULT_MAX_ATTEMPTS = 5


@dataclasses.dataclass(frozen=True)
class PodPlan:
    """What to deploy of one pod: its name, how many instances, and how to roll them out."""

    pod: str
    count: int
    strategy: Strategy = Strategy.SERIAL


def instance_name(pod: str, index: int) -> str:
    """The instance naming rule shared with the rest of the framework: "<pod>-<index>"."""
    return f"{pod}-{index}"


def build(pods: Sequence[PodPlan], name: str = "deploy") -> Plan:
    """A fresh plan: one phase per pod, in the given order; one PENDING step per instance."""
    phases = tuple(
        Phase(
            pod.pod,
            tuple(_step(instance_name(pod.pod, index)) for index in range(pod.count)),
            pod.strategy,
        )
        for pod in pods
    )
    return Plan(name, phases, Strategy.SERIAL)


def _step(instance: str) -> Step:
    return Step(instance, Status.PENDING, f"waiting for an offer for {instance}", instance, "deploy")


_BY_STATUS: dict[InstanceStatus, tuple[Status, str]] = {
    InstanceStatus.PENDING_RESERVE: (
        Status.PENDING,
        "waiting for an offer to reserve resources and a volume",
    ),
    InstanceStatus.LAUNCHING: (Status.STARTING, "launch sent"),
    InstanceStatus.STAGING: (Status.STARTING, "task staging"),
    InstanceStatus.STARTING: (Status.STARTING, "task starting"),
    InstanceStatus.RUNNING: (Status.STARTED, "running; waiting for the readiness check"),
    InstanceStatus.READY: (Status.COMPLETE, "ready"),
    InstanceStatus.FAILED: (Status.PREPARED, "task ended; relaunching in place on its reservation"),
    InstanceStatus.UNREACHABLE: (Status.WAITING, "agent unreachable; see the recovery plan"),
    InstanceStatus.LOST_PERMANENTLY: (Status.WAITING, "lost permanently; see the recovery plan"),
    InstanceStatus.REPLACING: (Status.WAITING, "being replaced; see the recovery plan"),
    InstanceStatus.KILLING: (Status.WAITING, "being killed"),
    InstanceStatus.STOPPED: (Status.WAITING, "stopped by the operator"),
    InstanceStatus.DECOMMISSIONED: (Status.COMPLETE, "decommissioned"),
}


def step_status(state: InstanceState | None, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> tuple[Status, str]:
    """The deploy-step status and reason for one instance state (None: not created yet)."""
    if state is None:
        return Status.PENDING, "waiting for an offer"
    status, reason = _BY_STATUS[state.status]
    if state.attempts >= max_attempts and status is not Status.COMPLETE:
        return Status.ERROR, f"error launching {state.name}: gave up after {state.attempts} attempts"
    detail = f" ({state.reason})" if state.reason else ""
    where = f" on agent {state.agent_id}" if state.agent_id else ""
    return status, f"{reason}{where}{detail}"


def refresh(
    plan: Plan, instances: Mapping[str, InstanceState], max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> Plan:
    """The plan with every not-yet-COMPLETE step updated from its instance's state."""
    phases = tuple(
        dataclasses.replace(phase, steps=tuple(_refresh(s, instances, max_attempts) for s in phase.steps))
        for phase in plan.phases
    )
    return dataclasses.replace(plan, phases=phases)


def _refresh(step: Step, instances: Mapping[str, InstanceState], max_attempts: int) -> Step:
    if step.status is Status.COMPLETE:
        return step
    status, reason = step_status(instances.get(step.target), max_attempts)
    return dataclasses.replace(step, status=status, reason=reason)
