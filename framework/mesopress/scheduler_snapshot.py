"""The plain-data view of the core that the HTTP API serves (/v1/plans, /v1/pods, /v1/state).

Why this module exists: HTTP handlers run on other threads and must never touch the core's live
objects; the runner publishes `SchedulerCore.snapshot()` after each event and handlers read that.
Everything here is JSON-ready (dicts, lists, strings, numbers) and copied, never shared.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any

from mesopress import scheduler_galera, scheduler_scaling
from mesopress.machines.instance import Status
from mesopress.plans import plan as plan_mod

if TYPE_CHECKING:
    from mesopress.scheduler import SchedulerCore


def build(core: SchedulerCore) -> dict[str, Any]:
    plans = {name: p.to_dict() for name, p in core.world.plans.items()}
    plans["deploy"] = _deploy_with_extras(core)
    uninstall = core.world.plans.get("uninstall")
    return copy.deepcopy(
        {
            "state": state(core),
            "plans": plans,
            "pods": [pod(core, name) for name in sorted(core.world.pods)],
            "reservations": [r.to_dict() for _, r in sorted(core.world.reservations.items())],
            "endpoints": endpoints(core),
            "galera": scheduler_galera.view(core),
            "config": {"target": dataclasses.asdict(core.service)},
            "uninstall": {
                "started": core.world.uninstalling,
                "finished": core.finished,
                "warnings": list(plan_mod.warnings(uninstall)) if uninstall else [],
            },
        }
    )


def endpoints(core: SchedulerCore) -> dict[str, list[dict[str, Any]]]:
    """/v1/endpoints: per pod, every instance holding resources: host, named ports, READY or not;
    instances drained before a kill or being decommissioned are left out."""
    out: dict[str, list[dict[str, Any]]] = {spec.name: [] for spec in core.service.pods}
    for name in sorted(core.world.pods):
        record = core.world.pods[name]
        fp = record.footprint
        if fp is None or fp.pod not in out or scheduler_scaling.leaving(record):
            continue  # drained before a kill (scale-down, rolling restart): the proxy stops using it
        ready = record.state.status is Status.READY
        out[fp.pod].append({"instance": name, "host": fp.hostname, "ports": dict(fp.ports), "ready": ready})
    return out


def state(core: SchedulerCore) -> dict[str, Any]:
    return {
        "service": core.service.name,
        "framework_id": core.framework_id,
        "subscribed": core.subscribed,
        "loaded": core.loaded,
        "offers": {None: "unknown", True: "revived", False: "suppressed"}[core.offers_wanted],
        "uninstalling": core.world.uninstalling,
        "finished": core.finished,
        "gone_agents": sorted(core.world.gone_agents),
    }


def pod(core: SchedulerCore, name: str) -> dict[str, Any]:
    record = core.world.pods[name]
    s, fp = record.state, record.footprint
    return {
        "instance": name,
        "pod": name.rsplit("-", 1)[0],
        "goal": s.goal.value,
        "status": s.status.value,
        "agent_id": s.agent_id,
        "hostname": fp.hostname if fp else "",
        "task_id": s.task_id,
        "persistence_ids": dict(fp.persistence_ids) if fp else {},
        "ports": dict(fp.ports) if fp else {},
        "reason": s.reason,
        "waiting": list(core.waiting.get(name, ())),
        "since": s.since,
        "unreachable_since": s.unreachable_since,
        "attempts": s.attempts,
        "replacement": s.replacement,
        "config_hash": record.config_hash,
        "draining_since": record.drain_since,
    }


def _deploy_with_extras(core: SchedulerCore) -> dict[str, Any]:
    data = core.deploy_plan.to_dict()
    instances = core.world.instances()
    for spec in core.service.pods:
        data["phases"] += [ph.to_dict() for ph in core.kind(spec.name).extra_plan_phases(spec, instances)]
    return data
