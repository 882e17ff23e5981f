"""Task status updates, timers and reconciliation: how the core learns what really happened.

Why this module exists: Mesos tells us about tasks in updates that may repeat, arrive late, be
master-generated answers to a reconciliation, or never arrive (master-generated updates are not
retried). Each update is fed to the instance machine (transient vs permanent failure is decided there,
from the task state and reason), its consequences are stored, and only then is it acknowledged
(explicitly, and only when it carries a `uuid`). Timers (`Tick`) ask the machines' deadline questions
(unreachable too long, launch or reservation not seen) and drive explicit reconciliation: every stored
task after each subscription and every `reconcile_interval`, retried with backoff while answers are
missing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mesopress import effects as fx
from mesopress.machines import instance as im
from mesopress.machines import instance_events as ie
from mesopress.machines import reservation as rv
from mesopress.model import ids
from mesopress.scheduler_state import Txn

if TYPE_CHECKING:
    from mesopress.scheduler import SchedulerCore

log = logging.getLogger("mesopress.scheduler")
RETRY_MIN = 10.0
_TASKED = (
    im.Status.LAUNCHING,
    im.Status.STAGING,
    im.Status.STARTING,
    im.Status.RUNNING,
    im.Status.READY,
    im.Status.UNREACHABLE,
    im.Status.KILLING,
)


def parse(status: Mapping[str, Any]) -> ie.TaskStatus:
    """A Mesos TaskStatus (JSON) as the machine's event; ValueError if it is not one."""
    try:
        task_id = _value(status["task_id"])
        state = str(status["state"])
        unreachable = (status.get("unreachable_time") or {}).get("nanoseconds")
    except (KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"error reading a status update: missing {err}") from err
    if not task_id or not state.startswith("TASK_"):
        raise ValueError(f"error reading a status update: task {task_id!r} state {state!r}")
    agent = _value(status.get("agent_id") or "")
    when = float(unreachable) / 1e9 if unreachable is not None else None
    return ie.TaskStatus(task_id, state, str(status.get("reason") or ""), agent, when)


def _value(field: Any) -> str:
    return str(field.get("value", "")) if isinstance(field, Mapping) else str(field)


def handle(core: SchedulerCore, status: Mapping[str, Any], now: float) -> list[fx.Effect]:
    event = parse(status)
    ack: list[fx.Effect] = [fx.Acknowledge(status)] if status.get("uuid") else []
    core.unanswered.discard(event.task_id)
    name = ids.instance_of_task(event.task_id)
    if name is None or name not in core.world.pods:
        log.warning("status %s for task %s that is not ours; ignored", event.state, event.task_id)
        return ack
    txn = Txn(core.world, now)
    if event.condition is ie.Condition.GONE and event.agent_id:
        _agent_gone(core, txn, event.agent_id)
    current = txn.pod(name).state.task_id == event.task_id
    result = txn.instance(name, event)
    if current and result.ok and ie.is_live(event):
        _in_use(txn, name)
    if current and _ready(core, name, status):
        txn.instance(name, ie.ReadinessPassed())
    task = core.world.tasks.get(name)
    if current and task is not None:
        txn.put_task(name, dict(task, state=event.state, reason=event.reason))
    effects = txn.commit(core.store)
    if effects is None:
        return []  # not acknowledged: the agent sends it again
    return effects + ack


def _agent_gone(core: SchedulerCore, txn: Txn, agent_id: str) -> None:
    """Remember the agent (uninstall reports what it cannot clean there) and flag its reservations."""
    log.warning("agent %s was marked gone: its instances are lost permanently", agent_id)
    txn.mark_gone(agent_id)
    for pid in list(core.world.reservations):
        txn.reserve_event(pid, rv.AgentGone(agent_id))


def _in_use(txn: Txn, name: str) -> None:
    fp = txn.pod(name).footprint
    for pid in fp.persistence_ids.values() if fp else ():
        res = txn.reservation(pid)
        if res is not None and res.status in (
            rv.Status.RESERVE_SENT,
            rv.Status.RESERVED,
            rv.Status.CREATE_SENT,
        ):
            txn.reserve_event(pid, rv.InUse())


def _ready(core: SchedulerCore, name: str, status: Mapping[str, Any]) -> bool:
    parsed = ids.parse_instance(name)
    pod = core.service.pod(parsed[0]) if parsed else None
    return pod is not None and core.kind(pod.name).is_ready(pod, status)


def deadlines(core: SchedulerCore, now: float) -> list[fx.Effect]:
    """Ask every due deadline question; store the answers; the effects they allow."""
    settings = core.settings
    txn = Txn(core.world, now)
    for name, record in sorted(core.world.pods.items()):
        due = im.next_deadline(record.state, settings.unreachable_timeout, settings.reservation_timeout)
        if due is not None and due[0] <= now:
            txn.instance(name, due[1])
    for pid, res in sorted(core.world.reservations.items()):
        rdue = rv.next_deadline(res, settings.reservation_timeout)
        if rdue is not None and rdue[0] <= now:
            txn.reserve_event(pid, rdue[1])
    if not txn.pods and not txn.reservations:
        return []
    return txn.commit(core.store) or []


def tasks_to_reconcile(core: SchedulerCore, agent_id: str | None = None) -> list[dict[str, Any]]:
    """Every stored task Mesos may know about (on `agent_id` if given), as Mesos JSON
    ``{"task_id": {"value": ...}, "agent_id": {"value": ...}}`` (agent omitted when unknown)."""
    out = []
    for record in core.world.pods.values():
        state = record.state
        if state.task_id and state.status in _TASKED and agent_id in (None, state.agent_id):
            task: dict[str, Any] = {"task_id": {"value": state.task_id}}
            if state.agent_id:
                task["agent_id"] = {"value": state.agent_id}
            out.append(task)
    return sorted(out, key=task_id_of)


def task_id_of(task: Mapping[str, Any]) -> str:
    return str(task["task_id"]["value"])


def full_reconcile(core: SchedulerCore, now: float) -> list[fx.Effect]:
    """Implicit and explicit reconciliation of every stored task."""
    tasks = tasks_to_reconcile(core)
    core.unanswered = {task_id_of(t) for t in tasks}
    core.reconcile_backoff = RETRY_MIN
    core.reconcile_due = now + RETRY_MIN
    core.last_full_reconcile = now
    log.info("reconciling: implicit, and explicit for %d tasks", len(tasks))
    return [fx.Reconcile(()), fx.Reconcile(tuple(tasks))] if tasks else [fx.Reconcile(())]


def reconcile_timer(core: SchedulerCore, now: float) -> list[fx.Effect]:
    """Retry unanswered tasks with backoff; a full round every `reconcile_interval`."""
    interval = core.settings.reconcile_interval
    if core.unanswered and now >= core.reconcile_due:
        tasks = [t for t in tasks_to_reconcile(core) if task_id_of(t) in core.unanswered]
        core.unanswered = {task_id_of(t) for t in tasks}
        core.reconcile_backoff = min(core.reconcile_backoff * 2, interval)
        core.reconcile_due = now + core.reconcile_backoff
        if tasks:
            log.info("no answer yet for %d tasks: reconciling them again", len(tasks))
            return [fx.Reconcile(tuple(tasks))]
    if not core.unanswered and now >= core.last_full_reconcile + interval:
        effects = full_reconcile(core, now)
        return effects + ([fx.Revive()] if _orphans_waiting(core) else [])
    return []


def _orphans_waiting(core: SchedulerCore) -> bool:
    """Labelled leftovers wait for an offer from their agent: ask for offers now and then."""
    return any(r.status is rv.Status.ORPHANED and not r.agent_gone for r in core.world.reservations.values())
