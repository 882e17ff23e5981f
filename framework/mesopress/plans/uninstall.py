"""The uninstall plan: kill the tasks, destroy the volumes, unreserve, delete the stored state.

Why this module exists: users of earlier frameworks saw uninstall hang forever on an agent that was
gone, or leak reservations. Here every step finishes: work on an agent that is gone is marked COMPLETE
with a warning "could not clean X on agent Y (agent gone)", and `warnings(plan)` is the report of what
was left behind. Only this framework's own instances and labelled reservations appear, so clean-up can
never touch another framework's resources in the same role.

The plan is a view over the current instance and reservation states (and the set of gone agents), so it
is rebuilt after every change and after failover; phases run in order, steps within a phase in parallel.
The scheduler acts on candidates: a "kill" step means send KillRequested(DECOMMISSIONED) to the
instance, "destroy" and "unreserve" steps mean send Orphan to the reservation (its machine then sends
DESTROY/UNRESERVE when an offer shows it), and "delete-state" means delete the framework's ZooKeeper
tree (the caller says when that is done). An agent that is only unreachable keeps its steps WAITING;
the caller decides when to treat it as gone (for example after the unreachable timeout).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from mesopress.machines import reservation as rv
from mesopress.machines.instance import InstanceState
from mesopress.machines.instance import Status as InstanceStatus
from mesopress.machines.instance_events import Goal
from mesopress.machines.reservation import ReservationState
from mesopress.plans.plan import Phase, Plan, Status, Step, Strategy

_NO_TASK = (
    InstanceStatus.PENDING_RESERVE,
    InstanceStatus.REPLACING,
    InstanceStatus.LOST_PERMANENTLY,
    InstanceStatus.FAILED,
    InstanceStatus.STOPPED,
)
_DESTROYED = (rv.Status.UNRESERVE_SENT, rv.Status.GONE, rv.Status.PROPOSED)
_NO_VOLUME = (rv.Status.RESERVED, rv.Status.ORPHANED)  # seen without a volume
_CLEANING = (rv.Status.DESTROY_SENT, rv.Status.UNRESERVE_SENT)


def build(
    instances: Mapping[str, InstanceState],
    reservations: Mapping[str, ReservationState],
    gone_agents: Collection[str] = (),
    state_deleted: bool = False,
) -> Plan:
    """The uninstall plan for these states; `gone_agents` are agents that will never clean anything."""
    kills = tuple(_kill_step(instances[name], gone_agents) for name in sorted(instances))
    ordered = [reservations[pid] for pid in sorted(reservations)]
    destroys = tuple(_destroy_step(r, gone_agents) for r in ordered)
    unreserves = tuple(_unreserve_step(r, gone_agents) for r in ordered)
    delete = Step("delete-state", *_delete_status(state_deleted), target="state", kind="delete-state")
    phases = (
        Phase("kill-tasks", kills, Strategy.PARALLEL),
        Phase("destroy-volumes", destroys, Strategy.PARALLEL),
        Phase("unreserve", unreserves, Strategy.PARALLEL),
        Phase("delete-state", (delete,), Strategy.SERIAL),
    )
    return Plan("uninstall", phases, Strategy.SERIAL)


def _gone(agent_id: str | None, gone_agents: Collection[str], flagged: bool = False) -> bool:
    return bool(agent_id) and (flagged or agent_id in gone_agents)


def _kill_step(state: InstanceState, gone_agents: Collection[str]) -> Step:
    name, target = f"kill-{state.name}", state.name
    if state.status is InstanceStatus.DECOMMISSIONED:
        return Step(name, Status.COMPLETE, "decommissioned", target, "kill")
    if _gone(state.agent_id, gone_agents) and state.status not in _NO_TASK:
        warning = f"could not kill {state.name} on agent {state.agent_id} (agent gone)"
        return Step(name, Status.COMPLETE, warning, target, "kill", warning)
    if state.goal is not Goal.DECOMMISSIONED:
        return Step(name, Status.PENDING, "to be decommissioned", target, "kill")
    if state.status is InstanceStatus.UNREACHABLE:
        why = f"agent {state.agent_id} unreachable; waiting for it to return or to be marked gone"
        return Step(name, Status.WAITING, why, target, "kill")
    return Step(name, Status.STARTED, f"kill sent ({state.reason})", target, "kill")


def _destroy_step(res: ReservationState, gone_agents: Collection[str]) -> Step:
    name, target = f"destroy-{res.persistence_id}", res.persistence_id
    if res.status in _DESTROYED or (not res.has_volume and res.status in _NO_VOLUME):
        return Step(name, Status.COMPLETE, "no volume (destroyed or never created)", target, "destroy")
    return _cleanup_step(name, res, gone_agents, "destroy", f"volume {res.persistence_id}")


def _unreserve_step(res: ReservationState, gone_agents: Collection[str]) -> Step:
    name, target = f"unreserve-{res.persistence_id}", res.persistence_id
    if res.status in (rv.Status.GONE, rv.Status.PROPOSED):
        return Step(name, Status.COMPLETE, "nothing reserved any more", target, "unreserve")
    return _cleanup_step(name, res, gone_agents, "unreserve", f"reservation {res.persistence_id}")


def _cleanup_step(name: str, res: ReservationState, gone: Collection[str], kind: str, what: str) -> Step:
    target = res.persistence_id
    if _gone(res.agent_id, gone, res.agent_gone):
        warning = f"could not clean {what} on agent {res.agent_id} (agent gone)"
        return Step(name, Status.COMPLETE, warning, target, kind, warning)
    if res.status in _CLEANING:
        return Step(name, Status.STARTED, res.reason or f"{kind} sent", target, kind)
    if res.status is rv.Status.ORPHANED:
        why = f"waiting for an offer from agent {res.agent_id} holding {what}"
        return Step(name, Status.STARTING, why, target, kind)
    return Step(name, Status.PENDING, f"{what} still owned by {res.instance}", target, kind)


def _delete_status(state_deleted: bool) -> tuple[Status, str]:
    if state_deleted:
        return Status.COMPLETE, "framework state deleted"
    return Status.PENDING, "delete the framework state once everything else is done"
