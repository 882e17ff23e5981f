"""Operator commands (from the HTTP API or the CLI): replace, uninstall, update the configuration.

Why this module exists: commands change goals, never Mesos directly; they go through the same
machines, the same fenced commit and the same plans as everything else, and each answers with a
`Reply` that says what happened or, for a refused command, every reason. A configuration update is
checked with `model.changes.check_update` (volumes cannot shrink or move, placement cannot tighten
beyond what running instances satisfy, a count stays >= 1, ...) and with the pod kinds' own rules
(Galera: an odd size of at least 3, unless `allow_even`); a refused update changes nothing. An
accepted one may lower a count (the decommission plan removes the surplus instances) or change what
tasks are rendered from (the rollout plan restarts the instances one at a time).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mesopress import effects as fx
from mesopress import scheduler_artifacts, scheduler_galera
from mesopress.events import Command
from mesopress.galera import config as galera_config
from mesopress.kinds import galera as galera_kind
from mesopress.machines import instance_events as ie
from mesopress.machines.instance import InstanceState
from mesopress.model import changes, ids
from mesopress.model.specs import PodSpec, ServiceSpec
from mesopress.offers import placement
from mesopress.scheduler_state import PodRecord, Txn

if TYPE_CHECKING:
    from mesopress.scheduler import SchedulerCore

log = logging.getLogger("mesopress.scheduler")
Answer = tuple[list[fx.Effect], dict[str, Any]]


def _artifact(core: SchedulerCore, args: Mapping[str, Any], now: float) -> dict[str, Any]:
    return scheduler_artifacts.serve(core, str(args.get("token", "")), now)


def _secret(core: SchedulerCore, args: Mapping[str, Any], now: float) -> dict[str, Any]:
    name = str(args.get("name", ""))
    if name not in core.secrets:
        return {"ok": False, "error": f"no such secret {name!r}"}
    log.info("secret %s read by an operator", name)
    return {"ok": True, "name": name, "value": core.secrets[name]}


QUIET: dict[str, Callable[[SchedulerCore, Mapping[str, Any], float], dict[str, Any]]] = {
    "artifact": _artifact,
    "secret": _secret,
    "galera_report": scheduler_galera.report,
}


def handle(core: SchedulerCore, command: Command, now: float) -> list[fx.Effect]:
    if command.kind in QUIET:  # their arguments and answers hold tokens and secrets: never logged
        return [fx.Reply(command.reply, QUIET[command.kind](core, command.args, now))]
    handlers: dict[str, Callable[[SchedulerCore, Mapping[str, Any], float], Answer]] = {
        "replace": replace,
        "uninstall": start_uninstall,
        "update_config": update_config,
        "galera_force": scheduler_galera.force,
    }
    handler = handlers.get(command.kind)
    if handler is None:
        answer: Answer = ([], {"ok": False, "error": f"unknown command {command.kind!r}"})
    else:
        answer = handler(core, command.args, now)
    effects, value = answer
    log.info("command %s %s: %s", command.kind, dict(command.args), value)
    return effects + [fx.Reply(command.reply, value)]


def replace(core: SchedulerCore, args: Mapping[str, Any], now: float) -> Answer:
    name = str(args.get("instance", ""))
    if name not in core.world.pods:
        return [], {"ok": False, "error": f"error replacing {name!r}: no such pod instance"}
    txn = Txn(core.world, now)
    result = txn.instance(name, ie.OperatorReplace())
    if result.kind.value == "ILLEGAL":
        return [], {"ok": False, "error": f"error replacing {name}: {result.reason}"}
    effects = txn.commit(core.store)
    if effects is None:
        return [], {"ok": False, "error": f"error replacing {name}: could not record the request"}
    return effects, {"ok": True, "instance": name, "status": txn.pod(name).state.status.value}


def start_uninstall(core: SchedulerCore, args: Mapping[str, Any], now: float) -> Answer:
    if core.world.uninstalling:
        return [], {"ok": True, "already": True}
    txn = Txn(core.world, now)
    txn.batch.put_recovery("uninstall", "state", {"started": now})
    txn.after.append(lambda world: setattr(world, "uninstalling", True))
    effects = txn.commit(core.store)
    if effects is None:
        return [], {"ok": False, "error": "error starting the uninstall: could not record it"}
    return effects, {"ok": True}


def update_config(core: SchedulerCore, args: Mapping[str, Any], now: float) -> Answer:
    new = args.get("service")
    if not isinstance(new, ServiceSpec):
        return [], {"ok": False, "reasons": ["service: the command carries no service spec"]}
    reasons = changes.check_update(core.service, new, lambda pod: _verify_placement(core, pod))
    reasons += kind_reasons(new)
    if reasons:
        log.warning("configuration update refused: %s", "; ".join(reasons))
        return [], {"ok": False, "reasons": reasons}
    txn = Txn(core.world, now)
    version = str(args.get("version") or f"v{int(now)}")
    if isinstance(args.get("doc"), Mapping):
        txn.batch.put_config(version, dict(args["doc"])).put_target_config(version)
    effects = txn.commit(core.store)
    if effects is None:
        return [], {"ok": False, "reasons": ["error storing the new configuration; nothing changed"]}
    core.apply_service(new)
    return effects, {"ok": True, "version": version}


def kind_reasons(service: ServiceSpec) -> list[str]:
    """The pod kinds' own rules on a spec (the service file gets them at load, `kinds.galera.check_pod`):
    a Galera pod's count must be odd and at least 3 (unless `allow_even`), its volume big enough."""
    reasons = []
    for pod in service.pods:
        if pod.kind != "galera":
            continue
        settings = json.loads(pod.kind_settings or "{}")
        data = next((v for v in pod.volumes if v.container_path == galera_kind.VOLUME), None)
        found = galera_config.validate_cluster(
            pod.count,
            bool(settings.get("allow_even", False)),
            data.size if data else None,
            int(settings.get("min_volume_mb", 1024)),
        )
        reasons += [f"pods[{pod.name}].galera.{reason}" for reason in found]
    return reasons


def _verify_placement(core: SchedulerCore, pod: PodSpec) -> list[str]:
    """Do the pod's instances that hold resources already satisfy `pod`'s placement?"""
    sites = {
        name: placement.Site(r.footprint.agent_id, r.footprint.hostname, r.footprint.attributes)
        for name, r in core.world.pods.items()
        if r.footprint is not None and (ids.parse_instance(name) or ("",))[0] == pod.name
    }
    return placement.check_existing(pod.placement, sites)


def ensure_instances(core: SchedulerCore) -> None:
    """Every instance the service asks for exists in memory (stored on its first change)."""
    for pod in core.service.pods:
        for index in range(pod.count):
            name = ids.name_instance(pod.name, index)
            core.world.pods.setdefault(name, PodRecord(InstanceState(name)))
