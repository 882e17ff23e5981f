"""Scale-down and rolling restarts on the core: the decommission and rollout plans, drains, forgetting.

Why this module exists: `plans.decommission` and `plans.rollout` decide from stored state; this is where
the core feeds them (instance records, reservations, gone agents, the configured drain) and acts on
their candidates inside the same transaction as every other plan decision (`scheduler_plans.drive`):

- "drain": store `drain_since = now` on the pod record (the instance leaves /v1/endpoints and the
  endpoints kinds render, so the proxy stops sending it requests); the kill waits `drain_seconds`
  counted from that stored moment, so a new leader waits the same;
- "kill": `KillRequested(Goal.DECOMMISSIONED)` (the task's KillPolicy gives it `kill_grace_period` to
  shut down cleanly; its reservations are orphaned when it ends);
- "forget": delete the instance's records, so a later scale-up creates a fresh instance and volume;
- "restart": `RestartRequested` (kill, keep goal RUNNING, relaunch in place with the new spec).

A kind may set `drain_seconds` (default: the `drain_seconds` setting) and `shrink_needs_ready`
(default True: never remove an instance while one that stays is not READY) as attributes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from mesopress.machines import instance_events as ie
from mesopress.machines import reservation as rv
from mesopress.machines.instance import InstanceState, Status
from mesopress.plans import decommission, rollout
from mesopress.plans.plan import Plan, next_candidates
from mesopress.scheduler_state import PodRecord, Txn

if TYPE_CHECKING:
    from mesopress.scheduler import SchedulerCore

log = logging.getLogger("mesopress.scheduler")


def drain_seconds(core: SchedulerCore, pod: str) -> float:
    value = getattr(core.kind(pod), "drain_seconds", None)
    return float(core.settings.drain_seconds if value is None else value)


def records(core: SchedulerCore, txn: Txn | None) -> dict[str, PodRecord]:
    """Every instance record, staged changes first, forgotten ones left out."""
    merged = {**core.world.pods, **(txn.pods if txn else {})}
    return {n: r for n, r in merged.items() if not (txn and n in txn.forgotten)}


def _held(recs: Mapping[str, PodRecord]) -> dict[str, decommission.Held]:
    return {
        n: decommission.Held(
            r.state,
            tuple(r.footprint.persistence_ids.values()) if r.footprint else (),
            r.drain_since,
            r.footprint.agent_id if r.footprint else "",
            unreserve_pending(r),
        )
        for n, r in recs.items()
    }


def unreserve_pending(record: PodRecord) -> bool:
    """Did the instance reserve resources that no ACCEPT has unreserved yet?"""
    return bool(record.footprint and record.footprint.resource_ids) and not record.unreserved


def build_plans(core: SchedulerCore, txn: Txn | None, now: float, gone: set[str]) -> dict[str, Plan]:
    """The decommission and rollout plans over the (staged) state."""
    recs = records(core, txn)
    held = _held(recs)
    reservations = {**core.world.reservations, **(txn.reservations if txn else {})}
    live = {pid: r for pid, r in reservations.items() if r is not None}
    shrink = [
        decommission.PodTarget(
            p.name,
            p.count,
            drain_seconds(core, p.name),
            bool(getattr(core.kind(p.name), "shrink_needs_ready", True)),
        )
        for p in core.service.pods
    ]
    roll = [
        rollout.PodTarget(p.name, p.count, rollout.config_hash(p), drain_seconds(core, p.name))
        for p in core.service.pods
    ]
    hashes = {n: r.config_hash for n, r in recs.items()}
    return {
        decommission.NAME: decommission.build(
            shrink, held, live, now, gone, core.world.plans.get(decommission.NAME)
        ),
        rollout.NAME: rollout.build(roll, held, hashes, now, core.world.plans.get(rollout.NAME)),
    }


def act(core: SchedulerCore, txn: Txn, now: float, gone: set[str]) -> None:
    """Carry out the candidates of both plans (one step per pod and plan at a time). A step that ends in
    the same transaction (no task to kill, nothing to clean up) lets the next one start at once: up to
    three rounds, never acting twice on the same step and kind."""
    acted: set[tuple[str, str]] = set()
    for _ in range(3):
        plans = build_plans(core, txn, now, gone)
        todo = [(s.target, s.kind, s) for s in next_candidates(plans[decommission.NAME])]
        todo += [(s.target, "re-" + s.kind, s) for s in next_candidates(plans[rollout.NAME])]
        todo = [t for t in todo if t[:2] not in acted]
        if not todo:
            break
        for name, kind, step in todo:
            acted.add((name, kind))
            _act(core, txn, now, name, kind, step.warning)
    _undrain(core, txn, build_plans(core, txn, now, gone)[rollout.NAME])


def _act(core: SchedulerCore, txn: Txn, now: float, name: str, kind: str, warning: str) -> None:
    if kind in ("drain", "re-drain"):
        why = "removal" if kind == "drain" else "restart"
        log.info("%s: draining (out of the endpoints) before its %s", name, why)
        txn.pod(name).drain_since = now
    elif kind == "kill":
        if txn.pod(name).drain_since is None:
            txn.pod(name).drain_since = now
        log.info("%s: decommissioning (scale-down)", name)
        txn.instance(name, ie.KillRequested(ie.Goal.DECOMMISSIONED))
    elif kind == "forget":
        fp = txn.pod(name).footprint
        pids = tuple(fp.persistence_ids.values()) if fp else ()
        log.info("%s: decommissioned; forgetting its records%s", name, f" ({warning})" if warning else "")
        txn.forget(name, pids)
        core.waiting.pop(name, None)
        if name not in surplus_names(core, [name]):  # wanted again (scaled up meanwhile): a fresh instance
            txn.after.append(lambda world: world.pods.setdefault(name, PodRecord(InstanceState(name))))
    elif kind == "re-restart":
        log.info("%s: rolling restart with the new configuration", name)
        txn.instance(name, ie.RestartRequested())


def _undrain(core: SchedulerCore, txn: Txn, roll: Plan) -> None:
    """A drained instance that no plan removes or restarts any more (the update was reverted) comes back."""
    restarting = {s.target for s in roll.steps if s.kind in ("drain", "restart")}
    for name, record in records(core, txn).items():
        if record.drain_since is None or name in restarting or name in surplus_names(core, [name]):
            continue
        if record.state.status in (Status.RUNNING, Status.READY) and record.state.goal is ie.Goal.RUNNING:
            log.info("%s: no longer to be removed or restarted: back in the endpoints", name)
            txn.pod(name).drain_since = None


def surplus_names(core: SchedulerCore, names: Iterable[str]) -> set[str]:
    """Instances whose index is at or above their pod's count (to be decommissioned)."""
    names = list(names)
    return {n for p in core.service.pods for n in decommission.surplus(p.name, p.count, names)}


def leaving(record: PodRecord) -> bool:
    """Is this instance out of the endpoints (drained before a kill, or being decommissioned)?"""
    return record.drain_since is not None or record.state.goal is ie.Goal.DECOMMISSIONED


def awaiting_offers(core: SchedulerCore, gone: set[str]) -> list[str]:
    """Decommissioned instances whose volume or reservations wait for an offer of their agent."""
    out = []
    for name, record in core.world.pods.items():
        if record.state.status is not Status.DECOMMISSIONED or record.footprint is None:
            continue
        if unreserve_pending(record) and record.footprint.agent_id not in gone:
            out.append(name)
            continue
        for pid in record.footprint.persistence_ids.values():
            res = core.world.reservations.get(pid)
            if (
                res is not None
                and res.status is rv.Status.ORPHANED
                and not res.agent_gone
                and res.agent_id not in gone
            ):
                out.append(name)
                break
    return sorted(out)
