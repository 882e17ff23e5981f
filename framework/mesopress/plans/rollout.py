"""The rollout plan: restart running instances, one at a time per pod, when their configuration changed.

Why this module exists: a new configuration (command, environment, checks, the Galera section's
options, ...) reaches an instance only when its task is launched again. Restarting everything at once
would take a Galera cluster down (or below quorum) and a site offline, so instances are restarted in
index order, each only while every instance of its pod is READY, and the next only once the restarted
one is READY again (for Galera: Synced). Each launch stores the hash of the configuration it was
rendered from (`config_hash`), so the plan is a view over stored state and a new leader carries on.

What is hashed (`config_hash`) is what a task is built from: cpus, mem, command, environment, user,
checks, the kill grace period and the kind's own section, without `SCALE_ONLY` settings (Galera's
`size`, `allow_even`, `min_volume_mb` only size or validate the pod). Peers are not in any spec, so a
Galera node is never restarted because nodes were added or removed: its membership is dynamic, and the
new peer list is rendered at its next (re)launch. Ports, volumes and placement cannot change for an
existing pod (model.changes), so they are not hashed. An instance without a stored hash (launched
before hashes existed) is left alone.

One phase per pod (phases in order), SERIAL steps in index order. A step's `kind`: "drain" (record the
moment: the instance leaves /v1/endpoints), "restart" (`RestartRequested` once drained), "wait".
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence

from mesopress.machines.instance import Status as InstanceStatus
from mesopress.machines.instance_events import Goal
from mesopress.model import ids
from mesopress.model.specs import PodSpec
from mesopress.plans.decommission import Held
from mesopress.plans.plan import Phase, Plan, Status, Step, Strategy

NAME = "rollout"
SCALE_ONLY = ("size", "allow_even", "min_volume_mb")
_RUNNING = (InstanceStatus.RUNNING, InstanceStatus.READY)


def config_hash(pod: PodSpec) -> str:
    """A short hash of everything a task of `pod` is rendered from that a restart would change."""
    settings = {k: v for k, v in json.loads(pod.kind_settings or "{}").items() if k not in SCALE_ONLY}
    checks = {
        name: dataclasses.asdict(check) if check is not None else None
        for name, check in (("readiness", pod.readiness_check), ("health", pod.health_check))
    }
    doc = {
        "cpus": pod.cpus,
        "mem": pod.mem,
        "command": pod.command,
        "env": [list(pair) for pair in pod.env],
        "user": pod.user,
        "checks": checks,
        "kill_grace_period": pod.kill_grace_period,
        "kind": pod.kind,
        "settings": settings,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class PodTarget:
    """One pod: its current configuration hash, how many instances, how long to drain."""

    pod: str
    count: int
    config_hash: str
    drain_seconds: float = 0.0


def build(
    pods: Sequence[PodTarget],
    held: Mapping[str, Held],
    hashes: Mapping[str, str],
    now: float,
    previous: Plan | None = None,
) -> Plan:
    """The plan for these pods; `hashes`: the configuration hash each instance was launched with."""
    phases = []
    for target in pods:
        mine = sorted(
            (p[1], n) for n in held if (p := ids.parse_instance(n)) is not None and p[0] == target.pod
        )
        names = [n for _, n in mine]
        shown = _shown(target, previous)
        steps = [
            _step(target, name, names, held, hashes, now)
            for index, name in mine
            if index < target.count
            and held[name].state.goal is not Goal.DECOMMISSIONED
            and (_stale(hashes.get(name, ""), target) or name in shown)
        ]
        phases.append(Phase(target.pod, tuple(_queue(steps)), Strategy.SERIAL))
    return Plan(NAME, tuple(phases), Strategy.PARALLEL)


def _queue(steps: list[Step]) -> list[Step]:
    """Steps behind the first unfinished one say so (a SERIAL phase only ever offers that one)."""
    head = next((s for s in steps if s.status is not Status.COMPLETE), None)
    return [
        dataclasses.replace(s, reason=f"after {head.target} (one at a time, in index order)", kind="wait")
        if head is not None and s is not head and s.status is Status.PENDING
        else s
        for s in steps
    ]


def _stale(launched: str, target: PodTarget) -> bool:
    return bool(launched) and launched != target.config_hash


def _shown(target: PodTarget, previous: Plan | None) -> set[str]:
    """Instances of the previous plan's phase for this pod: the last rollout stays visible."""
    phase = next((ph for ph in previous.phases if ph.name == target.pod), None) if previous else None
    return {step.target for step in phase.steps} if phase is not None else set()


def _step(
    target: PodTarget,
    name: str,
    names: Sequence[str],
    held: Mapping[str, Held],
    hashes: Mapping[str, str],
    now: float,
) -> Step:
    record = held[name]
    state, step = record.state, f"restart-{name}"
    if not _stale(hashes.get(name, ""), target):
        if state.status is InstanceStatus.READY:
            return Step(step, Status.COMPLETE, "ready with the new configuration", name, "wait")
        return Step(
            step, Status.STARTED, f"relaunched; waiting for READY ({state.status.value})", name, "wait"
        )
    if state.status in (InstanceStatus.KILLING, InstanceStatus.FAILED) and state.goal is Goal.RUNNING:
        return Step(step, Status.STARTED, f"restarting ({state.status.value}: {state.reason})", name, "wait")
    leaving = [
        n
        for n in names
        if held[n].state.goal is Goal.DECOMMISSIONED
        or ((p := ids.parse_instance(n)) is not None and p[1] >= target.count)
    ]
    if leaving:
        why = f"waiting for the scale-down of {', '.join(leaving)} (one change at a time)"
        return Step(step, Status.WAITING, why, name, "wait")
    others = [n for n in names if held[n].state.status is not InstanceStatus.READY and n != name]
    if others or state.status not in _RUNNING:
        waiting = ", ".join(others or [name])
        return Step(step, Status.WAITING, f"waiting for {waiting} to be READY (one at a time)", name, "wait")
    if target.drain_seconds > 0 and record.drain_since is None:
        why = f"to be drained for {target.drain_seconds:g}s, then restarted with the new configuration"
        return Step(step, Status.PENDING, why, name, "drain")
    if record.drain_since is not None and now < record.drain_since + target.drain_seconds:
        until = record.drain_since + target.drain_seconds
        return Step(step, Status.STARTED, f"draining; restarted at {until:.0f}", name, "drain")
    return Step(step, Status.PENDING, "to be restarted with the new configuration", name, "restart")
