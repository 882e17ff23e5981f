"""The decommission plan: remove the instances a lower `count` no longer wants, one at a time per pod.

Why this module exists: scaling down a stateful pod must not hurt the instances that stay. Galera may
only lose a node while the cluster is healthy (never shrink a degraded cluster: the step WAITs while a
node that stays is not READY), a web instance must stop getting requests before it is killed (drain),
and a removed instance must leave nothing behind (its volume destroyed, its resources unreserved) and
no record that a later scale-up would wrongly reuse. The plan is a pure view over stored state, so a
new leader rebuilds it and carries on where the old one stopped.

One phase per pod (phases in parallel), one SERIAL step per surplus instance (index >= count), highest
index first. A step's `kind` says what its candidate means for the scheduler:

- "drain": record the drain moment (the instance leaves /v1/endpoints at once);
- "kill": `KillRequested(Goal.DECOMMISSIONED)` once `drain_seconds` passed since the stored moment;
- "forget": delete the instance's records (pod, tasks, leftover reservation records).

In between the step is STARTED (draining, kill sent) or STARTING (waiting for an offer of the agent to
destroy the volume and unreserve the instance's cpus, mem, ports and disk: an instance without a volume
also waits, or its reservations would stay behind while offers are suppressed); an unreachable agent
keeps it WAITING, an agent gone completes it with a warning, as in the uninstall plan. Finished steps
of the previous plan stay visible (COMPLETE) until their instance index is wanted again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence

from mesopress.machines import reservation as rv
from mesopress.machines.instance import InstanceState
from mesopress.machines.instance import Status as InstanceStatus
from mesopress.machines.instance_events import Goal
from mesopress.model import ids
from mesopress.plans.plan import Phase, Plan, Status, Step, Strategy

NAME = "decommission"
_CLEANED = (rv.Status.GONE,)


@dataclasses.dataclass(frozen=True)
class PodTarget:
    """One pod: how many instances stay, how long to drain, must the others be READY (Galera)."""

    pod: str
    count: int
    drain_seconds: float = 0.0
    others_ready: bool = False


@dataclasses.dataclass(frozen=True)
class Held:
    """What the scheduler stores about one instance besides its machine state."""

    state: InstanceState
    persistence_ids: tuple[str, ...] = ()
    drain_since: float | None = None
    agent_id: str = ""  # where its reservations are
    reserved: bool = False  # it reserved resources that no ACCEPT has unreserved yet


def surplus(pod: str, count: int, names: Collection[str]) -> list[str]:
    """Instances of `pod` whose index is >= count, highest index first."""
    found = [(p[1], n) for n in names if (p := ids.parse_instance(n)) is not None and p[0] == pod]
    return [name for index, name in sorted(found, reverse=True) if index >= count]


def build(
    pods: Sequence[PodTarget],
    held: Mapping[str, Held],
    reservations: Mapping[str, rv.ReservationState],
    now: float,
    gone_agents: Collection[str] = (),
    previous: Plan | None = None,
) -> Plan:
    """The plan for these pods and stored states (`held`: every instance record by name)."""
    phases = []
    for target in pods:
        steps = [_step(target, name, held, reservations, now, gone_agents) for name in _names(target, held)]
        phases.append(Phase(target.pod, tuple(_history(target, held, previous)) + tuple(steps)))
    return Plan(NAME, tuple(phases), Strategy.PARALLEL)


def _names(target: PodTarget, held: Mapping[str, Held]) -> list[str]:
    """The instances leaving: the surplus, and any already being decommissioned (a scale-up that came
    back before it was forgotten: it finishes leaving, then comes back fresh), highest index first."""
    extra = {n for n, h in held.items() if h.state.goal is Goal.DECOMMISSIONED and _of(n, target)}
    return surplus(target.pod, 0, set(surplus(target.pod, target.count, held)) | extra)


def _history(target: PodTarget, held: Mapping[str, Held], previous: Plan | None) -> list[Step]:
    """Steps of the previous plan whose instance is forgotten (so: done) and not wanted again."""
    if previous is None:
        return []
    phase = next((ph for ph in previous.phases if ph.name == target.pod), None)
    out = []
    for step in phase.steps if phase else ():
        parsed = ids.parse_instance(step.target)
        wanted_again = parsed is not None and parsed[1] < target.count
        if step.target not in held and not wanted_again and step.target not in {s.target for s in out}:
            why = step.reason if step.status is Status.COMPLETE else "decommissioned; records deleted"
            out.append(dataclasses.replace(step, status=Status.COMPLETE, reason=why, kind="done"))
    return out


def _step(
    target: PodTarget,
    name: str,
    held: Mapping[str, Held],
    reservations: Mapping[str, rv.ReservationState],
    now: float,
    gone_agents: Collection[str],
) -> Step:
    record = held[name]
    state = record.state
    step = f"decommission-{name}"
    if state.goal is not Goal.DECOMMISSIONED:
        return _before_kill(target, name, record, held, now, step)
    if state.status is not InstanceStatus.DECOMMISSIONED:
        if state.status is InstanceStatus.UNREACHABLE:
            why = f"agent {state.agent_id} unreachable; waiting for it to return or to be marked gone"
            return Step(step, Status.WAITING, why, name, "kill")
        return Step(step, Status.STARTED, f"kill sent ({state.reason})", name, "kill")
    left, warnings = [], []
    for pid in record.persistence_ids:
        res = reservations.get(pid)
        if res is None or res.status in _CLEANED:
            continue
        if res.agent_gone or (res.agent_id and res.agent_id in gone_agents):
            warnings.append(f"could not clean volume {pid} on agent {res.agent_id} (agent gone)")
        else:
            left.append(res)
    if left:
        res = left[0]
        if res.status in (rv.Status.DESTROY_SENT, rv.Status.UNRESERVE_SENT):
            why = f"destroy/unreserve of {res.persistence_id} sent on agent {res.agent_id}; confirming"
            return Step(step, Status.STARTED, why, name, "cleanup")
        why = f"waiting for an offer from agent {res.agent_id} to destroy {res.persistence_id} and unreserve"
        return Step(step, Status.STARTING, why, name, "cleanup")
    if record.reserved and record.agent_id in gone_agents:
        warnings.append(f"could not unreserve its resources on agent {record.agent_id} (agent gone)")
    elif record.reserved:
        why = f"waiting for an offer from agent {record.agent_id} to unreserve its resources"
        return Step(step, Status.STARTING, why, name, "cleanup")
    warning = "; ".join(warnings)
    why = "killed, volumes destroyed, resources unreserved: forget it"
    return Step(step, Status.PREPARED, why, name, "forget", warning)


def _before_kill(
    target: PodTarget, name: str, record: Held, held: Mapping[str, Held], now: float, step: str
) -> Step:
    if target.others_ready:
        stay = [n for n in sorted(held) if n not in _names(target, held) and _of(n, target)]
        degraded = [n for n in stay if held[n].state.status is not InstanceStatus.READY]
        if degraded:
            why = f"waiting for {', '.join(degraded)} to be READY (never shrink a degraded {target.pod})"
            return Step(step, Status.WAITING, why, name, "drain")
    head = _names(target, held)[0]
    if head != name:
        return Step(step, Status.PENDING, f"after {head} (one at a time, highest index first)", name, "drain")
    if record.drain_since is None:
        if target.drain_seconds <= 0:
            return Step(step, Status.PENDING, "to be killed (no drain)", name, "kill")
        why = f"to be drained: out of the endpoints for {target.drain_seconds:g}s, then killed"
        return Step(step, Status.PENDING, why, name, "drain")
    until = record.drain_since + target.drain_seconds
    if now < until:
        why = f"draining since {record.drain_since:.0f}: out of the endpoints; killed at {until:.0f}"
        return Step(step, Status.STARTED, why, name, "drain")
    return Step(step, Status.PREPARED, f"drained since {record.drain_since:.0f}: to be killed", name, "kill")


def _of(name: str, target: PodTarget) -> bool:
    parsed = ids.parse_instance(name)
    return parsed is not None and parsed[0] == target.pod
