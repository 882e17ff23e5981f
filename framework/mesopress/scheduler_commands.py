"""Operator commands (from the HTTP API or the CLI): replace, uninstall, update the configuration.

Why this module exists: commands change goals, never Mesos directly; they go through the same
machines, the same fenced commit and the same plans as everything else, and each answers with a
`Reply` that says what happened or, for a refused command, every reason. A configuration update is
checked with `model.changes.check_update` (volumes cannot shrink or move, placement cannot tighten
beyond what running instances satisfy, a count stays >= 1, ...) and with the pod kinds' own rules
(Galera: an odd size of at least 3, unless `allow_even`); a refused update changes nothing. An
accepted one may lower a count (the decommission plan removes the surplus instances) or change what
tasks are rendered from (the rollout plan restarts the instances one at a time).

The same check runs at load (`take_file`) when the scheduler restarts with an edited service file: a
refused file does not replace the stored target configuration, which keeps running.
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
from mesopress.model import changes, config, ids, specs
from mesopress.model.specs import PodSpec, ServiceSpec
from mesopress.offers import placement
from mesopress.scheduler_state import PodRecord, Txn
from mesopress.state.store import Batch

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
    log.info("command %s %s: %s", command.kind, described(command.args), value)
    return effects + [fx.Reply(command.reply, value)]


def described(args: Mapping[str, Any]) -> dict[str, Any]:
    """A command's arguments for the log: a new service file as its pods' counts, not whole (its env
    values may be secrets, and the document fills a screen)."""
    out: dict[str, Any] = {}
    for key, value in args.items():
        if key == "doc":
            continue
        pods = getattr(value, "pods", None)
        out[key] = {"pods": {p.name: p.count for p in pods}} if key == "service" and pods else value
    return out


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
    doc = dict(args["doc"]) if isinstance(args.get("doc"), Mapping) else None
    if doc is not None and doc == core.target_doc and new == core.service and core.config_version:
        return [], {"ok": True, "version": core.config_version, "unchanged": True}
    reasons = refusals(core, core.service, new)
    if reasons:
        log.warning("configuration update refused: %s", "; ".join(reasons))
        return [], {"ok": False, "reasons": reasons}
    txn = Txn(core.world, now)
    version = str(args.get("version") or new_version(core, now))
    if doc is not None:
        txn.batch.put_config(version, doc).put_target_config(version)
    effects = txn.commit(core.store)
    if effects is None:
        reason = "error storing the new configuration; nothing changed, try again"
        return [], {"ok": False, "reasons": [reason], "retry": True}
    if doc is not None:
        core.config_version, core.target_doc, core.refused = version, doc, None
    core.apply_service(new)
    return effects, {"ok": True, "version": version}


def refusals(core: SchedulerCore, old: ServiceSpec, new: ServiceSpec) -> list[str]:
    """Every reason the running service (`old`) cannot take `new`: `changes.check_update` with the
    running instances' placement, and the pod kinds' own rules."""
    reasons = changes.check_update(old, new, lambda pod: _verify_placement(core, pod))
    return reasons + kind_reasons(new)


def new_version(core: SchedulerCore, now: float) -> str:
    """A configuration version not stored yet: `v<seconds>`, `v<seconds>-2`, ..."""
    version, n = f"v{int(now)}", 1
    while version == core.config_version or core.store.config(version) is not None:
        n += 1
        version = f"v{int(now)}-{n}"
    return version


class IdentityChanged(Exception):
    """The scheduler was started with another role or principal than the service's reservations carry."""


def check_identity(core: SchedulerCore) -> None:
    """At load: the role and principal must be those every reservation of the service was made with.

    They come from the settings (flags, environment, the file's `scheduler` section), so a changed one
    is not a change of the service file and `update_config` never sees it. Subscribing in another role
    would leave every reservation, volume and running instance out of reach (offers of the old role
    never come), so the scheduler refuses to act until started with the stored ones. First load: the
    current ones are stored. Raises IdentityChanged (with the reasons and the fix) or StoreError."""
    stored = core.store.identity()
    role, principal = core.service.role, core.service.principal
    if stored is None:
        core.store.set_identity(role, principal)
        log.info("identity: role %r, principal %r stored (first load)", role, principal)
        return
    reasons = [
        f"{name}: cannot change from {before!r} to {after!r}: every reservation of service "
        f"{core.service.name!r} carries {before!r}; start the scheduler with {name} {before!r} "
        f"(--{name} or MESOPRESS_{name.upper()}) or uninstall the service first"
        for name, before, after in (
            ("role", stored.get("role"), role),
            ("principal", stored.get("principal"), principal),
        )
        if before != after
    ]
    if reasons:
        raise IdentityChanged("; ".join(reasons))


def take_file(core: SchedulerCore) -> None:
    """At load: the service file this process started with against the stored target configuration.

    No target stored yet (first start): the file becomes it. The same file: nothing to do. An edited
    file is checked like `update_config`: accepted, it is stored as the new target; refused, the
    STORED configuration keeps running (its spec rebuilt from the stored file), every reason is
    logged at ERROR and shown by /v1/config (`refused`), and nothing is written. Raises StoreError."""
    file_doc = core.target_doc
    version = core.store.target_config()
    core.config_version = version
    if file_doc is None:  # a core given no file (tests): it only reads the stored version
        return
    now = core.clock()
    stored = core.store.config(version) if version else None
    if stored is None:
        version = new_version(core, now)
        core.store.commit(Batch().put_config(version, dict(file_doc)).put_target_config(version))
        core.config_version = version
        log.info("configuration %s: the service file, stored as the target (first start)", version)
        return
    if stored == file_doc:
        return
    errors = config.validate(stored)
    if errors:  # stored by an older version with other rules: nothing to compare with, take the file
        log.warning("stored configuration %s no longer loads (%s): taking the file", version, errors)
        running = None
    else:
        running = specs.build_service(config.expand(stored), core.service.role, core.service.principal)
    reasons = refusals(core, running, core.service) if running is not None else []
    if running is not None and reasons:
        for reason in reasons:
            log.error("the edited service file is refused: %s", reason)
        log.error(
            "keeping the stored configuration %s running; fix the service file (or POST /v1/config) and "
            "restart",
            version,
        )
        core.refused = {"version": version, "reasons": reasons, "at": now}
        core.target_doc = stored
        core.take_service(running)
        return
    new = new_version(core, now)
    core.store.commit(Batch().put_config(new, dict(file_doc)).put_target_config(new))
    core.config_version = new
    log.info("configuration %s: the edited service file was accepted (it replaces %s)", new, version)


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
