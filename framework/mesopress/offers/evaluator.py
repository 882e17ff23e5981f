"""Offers in, decisions out: which offer each waiting instance gets, and what to do with the rest.

``evaluate`` indexes every offer once, then for each request (in the caller's priority order) tries
the candidate offers in order, running *all* stages of the request's pipeline on a fork of the pool,
so a refused offer lists every reason. The first offer that passes wins; its remaining resources stay
available to later requests (several launches may share one ACCEPT). Relaunches look only at offers
that hold the instance's labelled reservation. Offers left over are declined: for a long time when
nothing is waiting, briefly when something is (the caller REVIVEs when new work arrives). Optionally,
our garbage found in an offer is released in the same ACCEPT. Nothing is sent from here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mesopress.offers import cleanup, operations, pipelines, tasks
from mesopress.offers.pool import Pool, Pools
from mesopress.offers.requests import Context, Footprint, Kind, Request
from mesopress.offers.stages import Outcome


@dataclass(frozen=True)
class Match:
    """A request placed on an offer: store ``footprint`` (and the task) first, then send."""

    request: Request
    offer_id: str
    agent_id: str
    footprint: Footprint
    task_info: dict[str, Any]
    operations: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Refusal:
    offer_id: str
    agent_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Accept:
    """One ACCEPT call: ``operations`` are ordered and ready to send; ``refuse_seconds`` goes in its
    ``filters`` (Mesos declines the unused rest of the offer with it)."""

    offer_id: str
    agent_id: str
    operations: tuple[dict[str, Any], ...]
    matches: tuple[Match, ...] = ()
    garbage: cleanup.Garbage = field(default_factory=cleanup.Garbage)
    refuse_seconds: float = 5.0


@dataclass(frozen=True)
class Decline:
    offer_id: str
    refuse_seconds: float


@dataclass(frozen=True)
class Evaluation:
    accepts: tuple[Accept, ...]
    declines: tuple[Decline, ...]
    refusals: Mapping[str, tuple[Refusal, ...]]
    unmatched: tuple[Request, ...]


def evaluate(
    requests: Sequence[Request],
    offers: Sequence[Mapping[str, Any]],
    ctx: Context,
    collect_garbage: bool = False,
    max_refusals: int = 20,
) -> Evaluation:
    """Place ``requests`` on ``offers``; every offer ends in exactly one Accept or Decline."""
    pools = Pools(offers, ctx.role, ctx.service)
    matches: dict[str, list[Match]] = {}
    refusals: dict[str, tuple[Refusal, ...]] = {}
    unmatched: list[Request] = []
    placing = ctx
    for request in requests:
        match, refused = place(request, pools, placing, max_refusals)
        if match is None:
            refusals[request.instance] = refused
            unmatched.append(request)
            continue
        matches.setdefault(match.offer_id, []).append(match)
        placing = _with_footprint(placing, match.footprint)
    # Garbage is judged against the old footprints *and* the new ones: a replaced instance's old
    # volume is released only in a later round, once the caller has stored the replacement.
    new = tuple(m.footprint for placed in matches.values() for m in placed)
    known = dataclasses.replace(ctx, footprints=(*ctx.footprints, *new))
    accepts, declines = _decide(pools, matches, known, collect_garbage, bool(unmatched))
    return Evaluation(accepts, declines, refusals, tuple(unmatched))


def place(
    request: Request, pools: Pools, ctx: Context, max_refusals: int = 20
) -> tuple[Match | None, tuple[Refusal, ...]]:
    """The first offer that passes every stage (its pool keeps the claims), else the refusals.

    The search only runs the stages on offers that pass a cheap capacity check. Only when nothing fits
    are the refusals explained: the first ``max_refusals`` offers then run every stage, so each refusal
    lists every reason (a fast path for big clusters where most offers are too small).
    """
    stages = pipelines.stages_for(request.kind)
    candidates = _candidates(request, pools, ctx)
    for offer_id in candidates:
        if not _might_fit(request, pools[offer_id]):
            continue
        fork = pools[offer_id].fork()
        outcomes = [stage(fork, request, ctx) for stage in stages]
        if all(o.passed for o in outcomes):
            pools[offer_id] = fork
            return _match(request, fork, ctx, outcomes), ()
    return None, _explain(request, pools, ctx, candidates[:max_refusals], stages)


def _explain(
    request: Request, pools: Pools, ctx: Context, offer_ids: Sequence[str], stages: Sequence[Any]
) -> tuple[Refusal, ...]:
    refused = []
    for offer_id in offer_ids:
        fork = pools[offer_id].fork()
        reasons = tuple(o.reason for o in (stage(fork, request, ctx) for stage in stages) if not o.passed)
        refused.append(Refusal(offer_id, fork.index.agent_id, reasons))
    if request.kind is Kind.RELAUNCH and not refused:
        refused.append(Refusal("", "", (f"no offer holds the reservation of {request.instance}",)))
    return tuple(refused)


def _might_fit(request: Request, pool: Pool) -> bool:
    """A cheap necessary condition for a launch or replacement (relaunches use reservations)."""
    if request.kind is Kind.RELAUNCH:
        return True
    pod = request.pod
    disk = sum(v.size for v in pod.volumes)
    return (
        pool.index.role_ok
        and pool.available("cpus") >= pod.cpus - 0.0005
        and pool.available("mem") >= pod.mem - 0.0005
        and pool.available("disk") >= disk - 0.0005
    )


def _candidates(request: Request, pools: Pools, ctx: Context) -> list[str]:
    if request.kind is not Kind.RELAUNCH or request.previous is None:
        return _fresh_agents_first(request, pools, ctx)
    rids = set(request.previous.resource_ids.values())
    pids = set(request.previous.persistence_ids.values())
    return [
        offer_id
        for offer_id in pools
        if pools.may_hold_ours(offer_id)
        and (
            not rids.isdisjoint(pools[offer_id].index.reserved)
            or not pids.isdisjoint(pools[offer_id].index.volumes)
        )
    ]


def _fresh_agents_first(request: Request, pools: Pools, ctx: Context) -> list[str]:
    """All offers, those on agents that already run a sibling instance last.

    With one-instance-per-agent placement the siblings' agents are certain refusals; trying them last
    lets each of many pending instances find a fresh agent at once instead of re-evaluating every
    offer its siblings already took (bench/scheduler_offers.py measures this).
    """
    siblings = {fp.agent_id for fp in ctx.footprints if fp.pod == request.pod.name}
    if not siblings:
        return list(pools)
    fresh, taken = [], []
    for offer_id in pools:
        agent_id = pools.offers[offer_id]["agent_id"]["value"]
        (taken if agent_id in siblings else fresh).append(offer_id)
    return fresh + taken


def _match(request: Request, pool: Pool, ctx: Context, outcomes: list[Outcome]) -> Match:
    index = pool.index
    footprint = Footprint(
        instance=request.instance,
        agent_id=index.agent_id,
        hostname=index.hostname,
        attributes=dict(index.site.attributes),
        resource_ids={k: v for o in outcomes for k, v in o.resource_ids.items()},
        persistence_ids={k: v for o in outcomes for k, v in o.persistence_ids.items()},
        ports={k: v for o in outcomes for k, v in o.ports.items()},
    )
    resources = [r for o in outcomes for r in o.resources]
    task = tasks.render(request, ctx, index.agent_id, resources, footprint.ports)
    ops = [op for o in outcomes for op in o.operations] + [operations.make("LAUNCH", [task])]
    return Match(request, index.offer_id, index.agent_id, footprint, task, tuple(operations.order(ops)))


def _with_footprint(ctx: Context, footprint: Footprint) -> Context:
    others = [fp for fp in ctx.footprints if fp.instance != footprint.instance]
    return dataclasses.replace(ctx, footprints=(*others, footprint))


def _decide(
    pools: Pools, matches: Mapping[str, list[Match]], ctx: Context, collect: bool, pending: bool
) -> tuple[tuple[Accept, ...], tuple[Decline, ...]]:
    known_rids, known_pids = ctx.known_resource_ids(), ctx.known_persistence_ids()
    accepts, declines = [], []
    for offer_id in pools:
        hold = collect and pools.may_hold_ours(offer_id)
        garbage = (
            cleanup.find_garbage(pools[offer_id].index, known_rids, known_pids) if hold else cleanup.Garbage()
        )
        placed = matches.get(offer_id, [])
        refuse = choose_refuse_seconds(ctx, pending and pools.role_ok(offer_id))
        if not placed and not garbage:
            declines.append(Decline(offer_id, refuse))
            continue
        ops = operations.order(cleanup.release(garbage) + [op for m in placed for op in m.operations])
        agent = pools[offer_id].index.agent_id
        accepts.append(Accept(offer_id, agent, tuple(ops), tuple(placed), garbage, refuse))
    return tuple(accepts), tuple(declines)


def choose_refuse_seconds(ctx: Context, pending: bool) -> float:
    """Decline filter: short while some instance waits for a fitting offer, long otherwise."""
    return ctx.refuse_short if pending else ctx.refuse_long


def explain(refusals: Sequence[Refusal]) -> list[str]:
    """Why an instance still waits, for the API: each distinct reason with how many offers gave it."""
    counts: dict[str, int] = {}
    for refusal in refusals:
        for reason in refusal.reasons:
            counts[reason] = counts.get(reason, 0) + 1
    return [f"{reason} ({n} offer{'s' if n > 1 else ''})" for reason, n in counts.items()]
