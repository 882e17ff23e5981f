"""The core's Galera driving: "bootstrapped", which launch bootstraps, full-crash recovery, /v1/galera.

Why this module exists: a Galera cluster may be started (``--wsrep-new-cluster``) exactly once; a second
bootstrap splits it. The pure rule is `kinds.galera.should_bootstrap`; this module gives it what only the
core knows (the launch kind, the stored ``recovery/galera/<pod>-bootstrapped`` record, a recovery's
choice) and records ``bootstrapped`` once a node of the pod is READY (Primary + Synced), so that no later
launch of any node, after any failover, bootstraps again. Records: ``recovery/galera/<pod>-bootstrapped``
``{"at": time, "node": instance}``; ``recovery/galera/<pod>`` a `galera.recovery.RecoveryState`.

Full-crash recovery (docs/galera.md): `drive` starts it when no node is live (nodes holding a volume are
expected, `kinds.galera_recovery.should_start`), and feeds it Synced nodes and timeouts; `launch_kind` turns a
node's relaunch into a one-shot `galera_node recover` that POSTs its position to a single-use
``/v1/galera/report/<token>`` (`report`), or into the chosen bootstrap; `holds` keeps every other node
waiting. Each transition is stored before it acts, so a new leader resumes from the stored record.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mesopress import effects as fx
from mesopress.galera import position, recovery
from mesopress.kinds import galera_recovery as gate
from mesopress.kinds.galera import GaleraKind, should_bootstrap
from mesopress.machines.instance import Status
from mesopress.model import ids
from mesopress.model.specs import PodSpec
from mesopress.scheduler_kinds import PodKind
from mesopress.state.persister import StoreError
from mesopress.state.store import Batch

if TYPE_CHECKING:
    from mesopress.scheduler import SchedulerCore
    from mesopress.scheduler_state import Txn

log = logging.getLogger("mesopress.scheduler")
NAMESPACE = "galera"
REPORT = "report-"


def flag_key(pod: str) -> str:
    return f"{pod}-bootstrapped"


def galera_pods(core: SchedulerCore) -> list[PodSpec]:
    return [p for p in core.service.pods if isinstance(core.kind(p.name), GaleraKind)]


def load(core: SchedulerCore) -> None:
    """Read the pods' Galera records (at load)."""
    core.galera = {key: value for key, value in core.store.recovery_entries(NAMESPACE).items()}


def state_of(core: SchedulerCore, pod: str) -> recovery.RecoveryState | None:
    record = core.galera.get(pod)
    return recovery.RecoveryState.from_dict(record) if isinstance(record, dict) else None


def _pod_of(core: SchedulerCore, instance: str) -> PodSpec | None:
    parsed = ids.parse_instance(instance)
    pod = core.service.pod(parsed[0]) if parsed else None
    return pod if pod is not None and isinstance(core.kind(pod.name), GaleraKind) else None


def _statuses(core: SchedulerCore, pod: str) -> dict[str, str]:
    """The statuses of the nodes that stay (index < count): a full-crash recovery never expects, nor
    waits for the position of, a node being decommissioned (scale-down)."""
    return {n: core.world.pods[n].state.status.value for n in _nodes(core, pod, staying=True)}


def node_mode(core: SchedulerCore, instance: str) -> str:
    """RUN, RECOVER or HOLD for a Galera node (RUN for anything else)."""
    pod = _pod_of(core, instance)
    if pod is None:
        return gate.RUN
    done = flag_key(pod.name) in core.galera
    return gate.mode(instance, _statuses(core, pod.name), state_of(core, pod.name), done)


def holds(core: SchedulerCore, instance: str) -> bool:
    """Must this instance's (re)launch wait (full-crash recovery, or no donor for a restart)?"""
    return node_mode(core, instance) == gate.HOLD


def launch_kind(core: SchedulerCore, txn: Txn, pod: PodSpec, instance: str, launch: str) -> PodKind:
    """The kind that renders this launch: for a Galera node, its bootstrap decision or the one-shot
    recovery (with a report token staged in `txn`), and the recovery's Launched event."""
    kind = core.kind(pod.name)
    if not isinstance(kind, GaleraKind):
        return kind
    state = state_of(core, pod.name)
    if node_mode(core, instance) == gate.RECOVER:
        token = core.new_token()
        record = {"pod": pod.name, "node": instance, "expires": txn.now + 900.0}
        txn.batch.put_secret(REPORT + token, json.dumps(record).encode())
        log.info("%s: relaunched to read its position (full-crash recovery)", instance)
        return kind.with_launch(False, report_url=f"{core.settings.advertised}/v1/galera/report/{token}")
    done = flag_key(pod.name) in core.galera
    decision = should_bootstrap(instance, launch, done, gate.bootstrap_choice(state))
    if state is not None and decision and state.phase in (recovery.CHOSEN, recovery.FORCED):
        _stage(core, txn, pod.name, recovery.transition(state, recovery.Launched(instance), txn.now))
    log.info("%s: %s %s", instance, launch, "BOOTSTRAPS a new cluster" if decision else "joins the cluster")
    return kind.with_launch(decision)


def _stage(core: SchedulerCore, txn: Txn, pod: str, result: Any) -> None:
    if result.kind.value != "SUCCESS":
        return
    record = result.state.to_dict()
    txn.batch.put_recovery(NAMESPACE, pod, record)
    txn.after.append(lambda _world: core.galera.__setitem__(pod, record))


def drive(core: SchedulerCore, now: float) -> list[fx.Effect]:
    """Record ``bootstrapped``; start, advance and time out full-crash recoveries."""
    effects: list[fx.Effect] = []
    for pod in galera_pods(core):
        _record_bootstrapped(core, pod, now)
        effects += _drive_recovery(core, pod, now)
    return effects


def _record_bootstrapped(core: SchedulerCore, pod: PodSpec, now: float) -> None:
    if flag_key(pod.name) in core.galera:
        return
    ready = [n for n, s in _statuses(core, pod.name).items() if s == "READY"]
    if ready and _commit(
        core, Batch().put_recovery(NAMESPACE, flag_key(pod.name), {"at": now, "node": ready[0]})
    ):
        core.galera[flag_key(pod.name)] = {"at": now, "node": ready[0]}
        log.info("galera %s: bootstrapped by %s (recorded; no launch bootstraps again)", pod.name, ready[0])


def _drive_recovery(core: SchedulerCore, pod: PodSpec, now: float) -> list[fx.Effect]:
    state = state_of(core, pod.name)
    statuses = _statuses(core, pod.name)
    if not gate.active(state):
        with_volume = {n for n in statuses if (fp := core.world.pods[n].footprint) and fp.persistence_ids}
        # a node being decommissioned is not expected, but while it still runs the cluster is not down
        everyone = {n: core.world.pods[n].state.status.value for n in _nodes(core, pod.name)}
        if not gate.should_start(everyone, with_volume, flag_key(pod.name) in core.galera):
            return []
        log.warning("galera %s: no node is live: full-crash recovery of %s", pod.name, sorted(with_volume))
        return _apply(core, pod.name, recovery.start(with_volume, now), "started")
    assert state is not None
    node = gate.current(state)
    if node is not None and statuses.get(node) == "READY":
        return _transition(core, pod.name, state, recovery.NodeSynced(node), now)
    return _transition(core, pod.name, state, recovery.Timeout(), now)


def _transition(
    core: SchedulerCore, pod: str, state: recovery.RecoveryState, event: Any, now: float
) -> list[fx.Effect]:
    result = recovery.transition(state, event, now)
    if result.kind.value != "SUCCESS" or result.state == state:
        return []
    _explain(pod, result)
    return _apply(core, pod, result.state, result.reason)


def _apply(core: SchedulerCore, pod: str, state: recovery.RecoveryState, why: str) -> list[fx.Effect]:
    record = state.to_dict()
    if not _commit(core, Batch().put_recovery(NAMESPACE, pod, record)):
        return []
    core.galera[pod] = record
    log.info("galera %s recovery -> %s: %s", pod, state.phase, why)
    return [fx.Revive()]  # a node may now start: offers of its agent may sit behind a decline filter


def _explain(pod: str, result: Any) -> None:
    for effect in result.effects:
        if isinstance(effect, recovery.LogDecision):
            log.warning(
                "galera %s recovery decision: %s (forced=%s); evidence: %s",
                pod,
                effect.node,
                effect.forced,
                dict(effect.evidence),
            )
            log.warning("galera %s recovery reason: %s", pod, effect.reason)
        elif isinstance(effect, recovery.Alert):
            log.error("galera %s recovery needs an operator: %s", pod, effect.reason)


def _commit(core: SchedulerCore, batch: Batch) -> bool:
    try:
        core.store.commit(batch)
    except StoreError as err:
        log.warning("error recording a galera decision: %s; retrying later", err)
        return False
    return True


def report(core: SchedulerCore, args: Mapping[str, Any], now: float) -> dict[str, Any]:
    """A recovery task's position (POST /v1/galera/report/<token>, single use)."""
    token = str(args.get("token", ""))
    raw = core.store.secret(REPORT + token) if token.replace("-", "").replace("_", "").isalnum() else None
    if raw is None:
        return {"ok": False, "error": "no such report"}
    ticket = json.loads(raw)
    pod, node = ticket["pod"], ticket["node"]
    try:
        reading = position.from_dict(json.loads(str(args.get("position", ""))))
    except ValueError:
        reading = position.Unknown("unreadable report")
    state = state_of(core, pod)
    batch = Batch().delete_secret(REPORT + token)
    result = recovery.transition(state, recovery.PositionReported(node, reading), now) if state else None
    if result is not None and result.kind.value != "SUCCESS":
        result = None
    if result is not None:
        batch.put_recovery(NAMESPACE, pod, result.state.to_dict())
    if not _commit(core, batch):
        return {"ok": False, "error": "not recorded, try again"}
    if result is not None:
        core.galera[pod] = result.state.to_dict()
        _explain(pod, result)
        log.info("galera %s: %s reported %s; %s", pod, node, reading, result.reason)
    return {"ok": True, "node": node}


def force(core: SchedulerCore, args: Mapping[str, Any], now: float) -> tuple[list[fx.Effect], dict[str, Any]]:
    """An operator chooses the node to bootstrap without waiting for every position."""
    node = str(args.get("node", ""))
    pod = _pod_of(core, node)
    state = state_of(core, pod.name) if pod else None
    if pod is None or state is None or not gate.active(state):
        return [], {
            "ok": False,
            "error": f"error forcing {node!r}: no full-crash recovery of its cluster runs",
        }
    result = recovery.transition(state, recovery.OperatorForce(node), now)
    if result.kind.value != "SUCCESS":
        return [], {"ok": False, "error": f"error forcing {node}: {result.reason}"}
    _explain(pod.name, result)
    effects = _apply(core, pod.name, result.state, f"forced by an operator: {result.reason}")
    return effects, {"ok": bool(effects), "node": node, "phase": core.galera[pod.name]["phase"]}


def _nodes(core: SchedulerCore, pod: str, staying: bool = False) -> list[str]:
    """The pod's nodes; `staying`: without the surplus ones (index >= count) being decommissioned."""
    spec = core.service.pod(pod)
    count = spec.count if spec is not None and staying else None
    return sorted(
        n
        for n in core.world.pods
        if (parsed := ids.parse_instance(n)) and parsed[0] == pod and (count is None or parsed[1] < count)
    )


def view(core: SchedulerCore) -> dict[str, Any]:
    """/v1/galera: per Galera pod, every node (agent, host, volume, state) and the stored records."""
    out = {}
    for pod in galera_pods(core):
        nodes = {}
        for name in _nodes(core, pod.name):
            record = core.world.pods[name]
            fp = record.footprint
            nodes[name] = {
                "agent_id": record.state.agent_id,
                "hostname": fp.hostname if fp else "",
                "ports": dict(fp.ports) if fp else {},
                "volume": dict(fp.persistence_ids) if fp else {},
                "status": record.state.status.value,
                "wsrep": "Synced" if record.state.status is Status.READY else "not ready",
            }
        out[pod.name] = {
            "size": pod.count,
            "nodes": nodes,
            "bootstrapped": core.galera.get(flag_key(pod.name)),
            "recovery": core.galera.get(pod.name),
        }
    return out
