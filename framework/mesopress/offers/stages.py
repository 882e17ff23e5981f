"""Small evaluation stages: each takes what it needs from a pool and says why if it cannot.

A stage is ``(pool, request, context) -> Outcome``. It claims resources on the pool it is given (a
fork, thrown away if the offer is refused) and returns the operations it needs (RESERVE, CREATE), the
resources the task will use, and the ids it made, so the evaluator can assemble one ACCEPT and one
footprint. Stages never stop the pipeline: the evaluator runs them all so that a refusal lists every
reason (compare dcos-commons ``EvaluationOutcome``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mesopress.model import ids
from mesopress.offers import labels, operations, placement
from mesopress.offers.pool import Pool
from mesopress.offers.requests import Context, Request


@dataclass(frozen=True)
class Outcome:
    passed: bool
    reason: str
    operations: tuple[dict[str, Any], ...] = ()
    resources: tuple[dict[str, Any], ...] = ()
    resource_ids: Mapping[str, str] = field(default_factory=dict)
    persistence_ids: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)


Stage = Callable[[Pool, Request, Context], Outcome]


def fail(reason: str) -> Outcome:
    return Outcome(False, reason)


def check_role(pool: Pool, request: Request, ctx: Context) -> Outcome:
    """Only offers allocated to our role are ours to use."""
    role = (pool.index.offer.get("allocation_info") or {}).get("role")
    return (
        Outcome(True, "offer role ok")
        if pool.index.role_ok
        else fail(f"offer is for role {role}, not {ctx.role}")
    )


def check_placement(pool: Pool, request: Request, ctx: Context) -> Outcome:
    """The pod's placement rules against where its other instances are."""
    site = pool.index.site
    siblings = [
        placement.Site(fp.agent_id, fp.hostname, fp.attributes)
        for fp in ctx.footprints
        if fp.pod == request.pod.name and fp.instance != request.instance
    ]
    reasons = placement.check(request.pod.placement, site, siblings)
    return fail("; ".join(reasons)) if reasons else Outcome(True, "placement ok")


def avoid_failed_agent(pool: Pool, request: Request, ctx: Context) -> Outcome:
    """A replacement never goes back to the agent (or host) it is replacing."""
    failed = request.previous
    if failed and (
        pool.index.agent_id == failed.agent_id or (failed.hostname and pool.index.hostname == failed.hostname)
    ):
        return fail(
            f"agent {pool.index.agent_id} ({pool.index.hostname}) is the failed agent of {request.instance}"
        )
    return Outcome(True, "not the failed agent")


def check_holder(pool: Pool, request: Request, ctx: Context) -> Outcome:
    """A relaunch needs the agent that holds the instance's reservation (its id may have changed)."""
    held = request.previous
    index = pool.index
    if held and (
        any(rid in index.reserved for rid in held.resource_ids.values())
        or any(pid in index.volumes for pid in held.persistence_ids.values())
    ):
        return Outcome(True, "offer holds the reservation")
    where = held.agent_id if held else "?"
    return fail(
        f"agent {index.agent_id} does not hold the reservation of {request.instance} (on agent {where})"
    )


def reserve_scalar(name: str) -> Stage:
    """RESERVE ``cpus`` or ``mem`` for a new instance, labelled with a new resource id."""

    def stage(pool: Pool, request: Request, ctx: Context) -> Outcome:
        amount = _amount(request, name)
        if not pool.take_scalar(name, amount):
            return fail(f"needs {amount:g} unreserved {name}, offer has {pool.available(name):g}")
        rid, reservation = _new_reservation(request, ctx, name)
        resource = operations.scalar(name, amount, ctx.role, reservation)
        return Outcome(
            True, f"reserve {name}", (operations.make("RESERVE", [resource]),), (resource,), {name: rid}
        )

    return stage


def reserve_ports(pool: Pool, request: Request, ctx: Context) -> Outcome:
    """RESERVE the pod's ports (fixed or any) as one labelled ``ports`` resource."""
    specs = request.pod.ports
    if not specs:
        return Outcome(True, "no ports")
    chosen = pool.take_ports([p.port for p in specs])
    if chosen is None:
        wanted = ", ".join(f"{p.name}={p.port or 'any'}" for p in specs)
        return fail(f"needs ports {wanted}, offer does not have them free")
    rid, reservation = _new_reservation(request, ctx, "ports")
    resource = operations.ports(chosen, ctx.role, reservation)
    named = {p.name: n for p, n in zip(specs, chosen, strict=True)}
    reserve = (operations.make("RESERVE", [resource]),)
    return Outcome(True, "reserve ports", reserve, (resource,), resource_ids={"ports": rid}, ports=named)


def create_volumes(pool: Pool, request: Request, ctx: Context) -> Outcome:
    """RESERVE disk and CREATE one persistent volume per volume spec, with new global ids."""
    volumes = request.pod.volumes
    total = sum(v.size for v in volumes)
    if volumes and not pool.take_scalar("disk", total):
        return fail(f"needs {total} MiB unreserved disk for volumes, offer has {pool.available('disk'):g}")
    reserved, created, rids, pids = [], [], {}, {}
    for spec in volumes:
        kind = ids.volume_kind(spec.container_path)
        rid, reservation = _new_reservation(request, ctx, kind)
        disk = operations.scalar("disk", spec.size, ctx.role, reservation)
        pid = ids.make_persistence_id(ctx.service, request.instance, spec.container_path, ctx.new_uuid)
        reserved.append(disk)
        created.append(operations.volume(disk, pid, ctx.principal, spec.container_path))
        rids[kind], pids[spec.container_path] = rid, pid
    ops = (operations.make("RESERVE", reserved), operations.make("CREATE", created)) if volumes else ()
    return Outcome(True, "create volumes", ops, tuple(created), rids, pids)


def reuse_scalar(name: str) -> Stage:
    """Use the instance's reserved ``cpus``/``mem``; reserve the difference if the pod grew."""

    def stage(pool: Pool, request: Request, ctx: Context) -> Outcome:
        rid = request.previous.resource_ids.get(name, "") if request.previous else ""
        held = pool.take_reserved(rid)
        if not held:
            return fail(f"reserved {name} of {request.instance} ({rid or 'no id'}) not in offer")
        need, have = _amount(request, name), sum(r["scalar"]["value"] for r in held)
        stack = held[0]["reservations"]
        task = dict(operations.scalar(name, need, ctx.role), reservations=stack)
        if have + 0.0005 >= need:
            return Outcome(True, f"reuse {name}", (), (task,), {name: rid})
        if not pool.take_scalar(name, need - have):
            return fail(f"holds {have:g} {name}, needs {need:g}: not enough unreserved {name} to grow")
        grow = dict(operations.scalar(name, need - have, ctx.role), reservations=stack)
        return Outcome(True, f"grow {name}", (operations.make("RESERVE", [grow]),), (task,), {name: rid})

    return stage


def reuse_ports(pool: Pool, request: Request, ctx: Context) -> Outcome:
    """Use the instance's reserved ports, with the numbers it had before."""
    held_fp = request.previous
    if not request.pod.ports or held_fp is None:
        return Outcome(True, "no ports")
    rid = held_fp.resource_ids.get("ports", "")
    held = pool.take_reserved(rid)
    numbers = {n for r in held for rg in r["ranges"]["range"] for n in range(rg["begin"], rg["end"] + 1)}
    named = {p.name: held_fp.ports.get(p.name, -1) for p in request.pod.ports}
    missing = sorted(name for name, n in named.items() if n not in numbers)
    if missing:
        return fail(f"reserved ports {', '.join(missing)} of {request.instance} not in offer")
    task = dict(operations.ports(named.values(), ctx.role), reservations=held[0]["reservations"])
    return Outcome(True, "reuse ports", resources=(task,), resource_ids={"ports": rid}, ports=named)


def reuse_volumes(pool: Pool, request: Request, ctx: Context) -> Outcome:
    """Use the instance's existing volumes, found by their persistence ids."""
    held = request.previous
    found, missing, rids, pids = [], [], {}, {}
    for spec in request.pod.volumes:
        pid = held.persistence_ids.get(spec.container_path, "") if held else ""
        volume = pool.take_volume(pid)
        if volume is None:
            missing.append(f"{spec.container_path} ({pid or 'no id'})")
            continue
        found.append(dict(volume))
        owner = labels.owner(volume, ctx.role, ctx.service)
        rids[ids.volume_kind(spec.container_path)] = owner.resource_id if owner else ""
        pids[spec.container_path] = pid
    if missing:
        return fail(f"volumes of {request.instance} not in offer: {', '.join(missing)}")
    return Outcome(True, "reuse volumes", (), tuple(found), rids, pids)


def _amount(request: Request, name: str) -> float:
    return float(request.pod.cpus if name == "cpus" else request.pod.mem)


def _new_reservation(request: Request, ctx: Context, kind: str) -> tuple[str, dict[str, Any]]:
    rid = ids.make_resource_id(request.instance, kind, ctx.new_uuid)
    return rid, labels.make_reservation(ctx.role, ctx.principal, ctx.service, request.instance, rid)
