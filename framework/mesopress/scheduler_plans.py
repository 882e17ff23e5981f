"""Plans drive the core: what may launch, which lost instance gets the replacement slot, uninstall.

Why this module exists: plans are views over the machines' states (`mesopress.plans`); this module is
where the core reads them after every event and acts on their candidates:
- deploy: only candidate steps may take a first launch (serial pods one at a time, parallel at once);
- recovery: `recovery.next_replacement` grants the single replacement slot (`ReplacementStarted`);
- decommission and rollout (`scheduler_scaling`): scale-down and rolling restarts, one at a time per pod;
- uninstall: kill steps -> `KillRequested(DECOMMISSIONED)`, destroy/unreserve steps -> `Orphan`, and
  once everything else is done the stored state is erased and the framework torn down. Agents marked
  gone, or whose orphaned reservations stayed unseen past the unreachable timeout, count as gone, so
  the uninstall always finishes and its warnings report what could not be cleaned.
Changed plans are stored (plans/<name>) in the same batch as the decisions they led to.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from mesopress import effects as fx
from mesopress import scheduler_scaling
from mesopress.machines import instance_events as ie
from mesopress.machines import reservation as rv
from mesopress.plans import deploy, recovery, uninstall
from mesopress.plans.plan import Plan, Status, next_candidates, update_step
from mesopress.scheduler_state import Txn
from mesopress.state.persister import StoreError

if TYPE_CHECKING:
    from mesopress.scheduler import SchedulerCore

log = logging.getLogger("mesopress.scheduler")


def build_deploy(core: SchedulerCore, previous: Plan | None) -> Plan:
    """The deploy plan for the current service; steps COMPLETE in `previous` stay COMPLETE."""
    pods = [deploy.PodPlan(p.name, p.count, core.kind(p.name).strategy) for p in core.service.pods]
    plan = deploy.build(pods)
    done = {s.name: s for s in (previous.steps if previous else ()) if s.status is Status.COMPLETE}
    phases = tuple(
        dataclasses.replace(ph, steps=tuple(done.get(s.name, s) for s in ph.steps)) for ph in plan.phases
    )
    return deploy.refresh(dataclasses.replace(plan, phases=phases), core.world.instances())


def drive(core: SchedulerCore, now: float) -> list[fx.Effect]:
    """Act on plan candidates, refresh and store the plans; the effects that allows."""
    txn = Txn(core.world, now)
    if core.world.uninstalling:
        _uninstall_steps(core, txn, now)
    else:
        surplus = scheduler_scaling.surplus_names(core, core.world.pods)
        wanted = {n: s for n, s in core.world.instances().items() if n not in surplus}
        name = recovery.next_replacement(wanted)
        if name is not None:
            log.info("%s gets the replacement slot (one replacement at a time)", name)
            txn.instance(name, ie.ReplacementStarted())
        scheduler_scaling.act(core, txn, now, gone_agents(core, now))
    effects = _commit_with_plans(core, txn, now)
    if core.world.uninstalling and not core.finished:
        effects += _finish_uninstall(core, now)
    return effects


def _commit_with_plans(core: SchedulerCore, txn: Txn, now: float) -> list[fx.Effect]:
    instances = {n: r.state for n, r in scheduler_scaling.records(core, txn).items()}
    plans = dict(core.world.plans)
    base = core.deploy_plan  # an instance forgotten while wanted again is deployed afresh
    for name in txn.forgotten:
        base = update_step(base, name, status=Status.PENDING, reason="decommissioned; to be deployed afresh")
    plans["deploy"] = deploy.refresh(base, instances)
    surplus = scheduler_scaling.surplus_names(core, instances)
    kept = {n: s for n, s in instances.items() if n not in surplus}  # the decommission plan has the others
    plans["recovery"] = recovery.build(kept, now, core.settings.unreachable_timeout, plans.get("recovery"))
    if core.world.uninstalling:
        plans["uninstall"] = uninstall_plan(core, txn, now)
    else:
        plans.update(scheduler_scaling.build_plans(core, txn, now, gone_agents(core, now)))
    changed = {n: p for n, p in plans.items() if core.world.plans.get(n) != p}
    if not changed and not txn.pods and not txn.reservations and not txn.forgotten:
        return []
    for plan_name, plan in changed.items():
        txn.batch.put_plan_status(plan_name, plan.to_dict())
    txn.after.append(lambda world: world.plans.update(changed))
    effects = txn.commit(core.store)
    if effects is not None and "deploy" in changed:
        core.deploy_plan = changed["deploy"]
    return effects or []


def uninstall_plan(core: SchedulerCore, txn: Txn | None, now: float, deleted: bool = False) -> Plan:
    pods = {**core.world.pods, **(txn.pods if txn else {})}
    reservations = {**core.world.reservations, **(txn.reservations if txn else {})}
    live = {pid: r for pid, r in reservations.items() if r is not None}
    return uninstall.build({n: r.state for n, r in pods.items()}, live, gone_agents(core, now), deleted)


def gone_agents(core: SchedulerCore, now: float) -> set[str]:
    """Agents marked gone, plus those whose orphans stayed unseen past the unreachable timeout."""
    timeout = core.settings.unreachable_timeout
    stale = {
        r.agent_id
        for r in core.world.reservations.values()
        if r.agent_id and r.status is rv.Status.ORPHANED and now - r.since >= timeout
    }
    return core.world.gone_agents | stale


def _uninstall_steps(core: SchedulerCore, txn: Txn, now: float) -> None:
    for step in next_candidates(uninstall_plan(core, txn, now)):
        if step.kind == "kill":
            txn.instance(step.target, ie.KillRequested(ie.Goal.DECOMMISSIONED))
        elif step.kind in ("destroy", "unreserve"):
            txn.reserve_event(step.target, rv.Orphan("uninstall"))


def _finish_uninstall(core: SchedulerCore, now: float) -> list[fx.Effect]:
    plan = uninstall_plan(core, None, now)
    if [s.kind for s in next_candidates(plan)] != ["delete-state"]:
        return []
    try:
        core.store.erase()
    except StoreError as err:
        log.warning("error deleting the framework state: %s; will retry", err)
        return []
    done = uninstall_plan(core, None, now, deleted=True)
    core.world.plans["uninstall"] = done
    core.finished = True
    for warning in (s.warning for s in done.steps if s.warning):
        log.warning("uninstall: %s", warning)
    log.info("uninstall complete: state deleted; tearing the framework down")
    return [fx.Teardown()]
