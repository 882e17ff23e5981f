"""OFFERS in, ACCEPTs and DECLINEs out: the core's side of offer evaluation.

Why this module exists: the evaluator (`offers.evaluator`) decides which offer fits which request, but
only the core knows which instances wait and for what (`machines.instance.offer_need`, gated by the
deploy plan), what every stored footprint is, and that nothing may be sent before it is recorded. One
OFFERS event runs in one `Txn`:

1. observe: an offer holding an instance's labelled volumes proves no task uses them
   (`ReservationSeen`: relaunch after an agent reboot under a new id; return of a lost agent), and
   confirms reservations (`Seen`);
2. ask: requests in priority order (replacement, relaunch, first launch), each with a new task id and
   the pod kind's environment;
3. evaluate with every stored footprint (none while uninstalling: then everything of ours is garbage)
   and garbage collection on;
4. record: per match the instance's `OfferAccepted`, the new footprint, the intended task and new
   reservation machines; per released volume its machine's `Seen`; commit; only then Accept/Decline.
If the commit fails, every offer is declined briefly and nothing else is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mesopress import effects as fx
from mesopress import scheduler_artifacts, scheduler_galera, scheduler_scaling
from mesopress.machines import instance as im
from mesopress.machines import instance_events as ie
from mesopress.machines import reservation as rv
from mesopress.model import ids
from mesopress.model.specs import PodSpec
from mesopress.offers import evaluator, requests
from mesopress.offers.pool import Index
from mesopress.plans import rollout
from mesopress.scheduler_state import PodRecord, Txn

if TYPE_CHECKING:
    from mesopress.scheduler import SchedulerCore

log = logging.getLogger("mesopress.scheduler")
CLEANING = (rv.Status.ORPHANED, rv.Status.DESTROY_SENT, rv.Status.UNRESERVE_SENT, rv.Status.GONE)
WATCHED = (im.Status.UNREACHABLE, im.Status.LOST_PERMANENTLY)
_PRIORITY = {requests.Kind.REPLACE: 0, requests.Kind.RELAUNCH: 1, requests.Kind.LAUNCH: 2}


def valid_offers(raw: Any) -> list[Mapping[str, Any]]:
    """The well-formed offers of an OFFERS event; the others are logged and dropped."""
    good = []
    for offer in raw if isinstance(raw, list | tuple) else ():
        try:
            assert isinstance(offer["id"]["value"], str) and isinstance(offer["agent_id"]["value"], str)
            assert isinstance(offer.get("resources", []), list)
            good.append(offer)
        except (AssertionError, KeyError, TypeError):
            log.warning("ignoring a malformed offer: %.200r", offer)
    if not isinstance(raw, list | tuple):
        log.warning("ignoring a malformed OFFERS event: %.200r", raw)
    return good


def handle(core: SchedulerCore, offers: Sequence[Mapping[str, Any]], now: float) -> list[fx.Effect]:
    txn = Txn(core.world, now)
    observe(core, txn, offers)
    reqs = wanted(core, txn)
    footprints = () if core.world.uninstalling else tuple(_footprints(core, txn))
    ctx = core.context(footprints)
    ev = evaluator.evaluate(reqs, offers, ctx, collect_garbage=True, max_refusals=core.max_refusals)
    _explain(core, ev)
    accepts, declined = [], [fx.Decline([d.offer_id], d.refuse_seconds) for d in ev.declines]
    for accept in ev.accepts:
        if not all(_fits(txn, m) for m in accept.matches):
            log.warning("dropping a match on offer %s: its instance moved on", accept.offer_id)
            declined.append(fx.Decline([accept.offer_id], core.settings.decline_short_seconds))
            continue
        operations = list(accept.operations)
        for match in accept.matches:
            operations = _record(core, txn, match, operations)
        _collect(core, txn, accept)
        accepts.append(fx.Accept([accept.offer_id], operations, accept.refuse_seconds))
    effects = txn.commit(core.store)
    if effects is None:
        return [fx.Decline([str(o["id"]["value"]) for o in offers], core.settings.decline_short_seconds)]
    return effects + accepts + declined


def observe(core: SchedulerCore, txn: Txn, offers: Sequence[Mapping[str, Any]]) -> None:
    """Feed what offers show about our reservations to the instance and reservation machines."""
    held = [(name, r.footprint) for name, r in core.world.pods.items() if r.footprint is not None]
    for offer in offers:
        if not any(r.get("reservations") for r in offer.get("resources") or ()):
            continue
        index = Index(offer, core.service.role, core.service.name)
        for name, fp in held:
            if _holds(index, fp):
                txn.instance(name, ie.ReservationSeen(index.agent_id))
        for pid in index.volumes:
            res = txn.reservation(pid)
            if res is not None and res.status not in CLEANING:
                txn.reserve_event(pid, rv.Seen(index.agent_id, volume=True))


def _holds(index: Index, fp: requests.Footprint) -> bool:
    pids = list(fp.persistence_ids.values())
    if pids:
        return all(pid in index.volumes for pid in pids)
    return fp.resource_ids.get("cpus", "") in index.reserved


def wanted(core: SchedulerCore, txn: Txn | None = None) -> list[requests.Request]:
    """Every instance waiting for an offer, highest priority first (the deploy plan gates first launches)."""
    out = [_request(core, record, need) for record, need in _needs(core, txn)]
    return sorted(out, key=lambda r: _PRIORITY[r.kind])


def waiting_names(core: SchedulerCore) -> list[str]:
    """The instances `wanted` would ask for, without building requests (no ids, no environment)."""
    return [record.state.name for record, _ in _needs(core, None)]


def watched_names(core: SchedulerCore) -> list[str]:
    """Instances whose own reservation may reappear in an offer (an unreachable agent coming back,
    possibly under a new id after a reboot): offers must keep coming so `observe` can see it."""
    if core.world.uninstalling or core.finished:
        return []
    return sorted(n for n, r in core.world.pods.items() if r.state.status in WATCHED and r.footprint)


def _needs(core: SchedulerCore, txn: Txn | None) -> list[tuple[PodRecord, tuple[str, PodSpec, int]]]:
    if core.world.uninstalling or core.finished:
        return []
    candidates = core.deploy_candidates()
    out = []
    for name in sorted(core.world.pods):
        record = txn.pod(name) if txn is not None and name in txn.pods else core.world.pods[name]
        need = _need(core, record, candidates)
        if need is not None:
            out.append((record, need))
    return out


def _need(core: SchedulerCore, record: PodRecord, candidates: set[str]) -> tuple[str, PodSpec, int] | None:
    need = im.offer_need(record.state)
    parsed = ids.parse_instance(record.state.name)
    pod = core.service.pod(parsed[0]) if parsed else None
    if need is None or pod is None or parsed is None or parsed[1] >= pod.count:
        return None
    if need[0] == "launch" and record.state.name not in candidates:
        return None
    if scheduler_galera.holds(core, record.state.name):
        return None
    return need[0], pod, parsed[1]


def _request(core: SchedulerCore, record: PodRecord, need: tuple[str, PodSpec, int]) -> requests.Request:
    kind, pod, index = need
    name, fp = record.state.name, record.footprint
    task_id = ids.make_task_id(name, core.new_uuid)
    env = core.kind(pod.name).task_environment(pod, name, core.world.instances(), core.endpoints())
    if kind == "relaunch" and fp is not None:
        return requests.relaunch(pod, fp, task_id, env)
    if kind == "replace" and fp is not None:
        return requests.replace(pod, fp, task_id, env)
    return requests.launch(pod, index, task_id, env)


def _footprints(core: SchedulerCore, txn: Txn) -> list[requests.Footprint]:
    """Footprints that own their resources; a decommissioned instance's are garbage (released)."""
    records = scheduler_scaling.records(core, txn)
    done = im.Status.DECOMMISSIONED
    return [r.footprint for r in records.values() if r.footprint is not None and r.state.status is not done]


def _fits(txn: Txn, match: evaluator.Match) -> bool:
    event = ie.OfferAccepted(match.agent_id, match.request.task_id)
    return im.transition(txn.pod(match.request.instance).state, event, txn.now).ok


def _record(
    core: SchedulerCore, txn: Txn, match: evaluator.Match, operations: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Stage the launch of one match: instance, footprint, task (with its artifacts), new reservations;
    the ACCEPT operations carrying the final TaskInfo."""
    name, fp = match.request.instance, match.footprint
    txn.instance(name, ie.OfferAccepted(match.agent_id, match.request.task_id))
    for pid in fp.persistence_ids.values():
        if txn.reservation(pid) is None:
            txn.new_reservation(pid, name, match.agent_id)
    txn.pod(name).footprint = fp
    txn.pod(name).config_hash = rollout.config_hash(match.request.pod)
    txn.pod(name).drain_since = None  # a (re)launched instance is back in the endpoints once READY
    task_info = scheduler_artifacts.attach(
        core, txn, match.request.pod, match.task_info, match.request.kind.value
    )
    task = {"task_id": match.request.task_id, "agent_id": match.agent_id, "task_info": task_info}
    txn.put_task(name, dict(task, kind=match.request.kind.value, state=None))
    core.waiting.pop(name, None)
    log.info(
        "%s: %s on agent %s (%s), task %s",
        name,
        match.request.kind.value,
        match.agent_id,
        fp.hostname,
        match.request.task_id,
    )
    return scheduler_artifacts.with_task(operations, task_info)


def _collect(core: SchedulerCore, txn: Txn, accept: evaluator.Accept) -> None:
    """Our released volumes: their machines learn that DESTROY + UNRESERVE went out; decommissioned
    instances whose reservations the ACCEPT releases are marked `unreserved`."""
    for volume in accept.garbage.volumes:
        pid = ((volume.get("disk") or {}).get("persistence") or {}).get("id", "")
        res = txn.reservation(pid)
        if res is not None and res.status not in CLEANING:
            txn.reserve_event(pid, rv.Orphan("no instance owns it"))
        txn.reserve_event(pid, rv.Seen(accept.agent_id, volume=True))
    records = scheduler_scaling.records(core, txn)
    for name in sorted(accept.garbage.instances):
        record = records.get(name)
        if record is not None and record.state.status is im.Status.DECOMMISSIONED and not record.unreserved:
            txn.pod(name).unreserved = True  # the decommission plan may forget it now
    if accept.garbage:
        log.info(
            "releasing %d volumes and %d reservations of ours that no instance owns on agent %s",
            len(accept.garbage.volumes),
            len(accept.garbage.reserved),
            accept.agent_id,
        )


def _explain(core: SchedulerCore, ev: evaluator.Evaluation) -> None:
    for request in ev.unmatched:
        reasons = evaluator.explain(ev.refusals.get(request.instance, ()))
        core.waiting[request.instance] = reasons
        log.info("%s waits (%s): %s", request.instance, request.kind.value, "; ".join(reasons) or "no offers")
    if ev.declines:
        log.debug("declined %d offers (nothing needed them)", len(ev.declines))
