"""ACCEPT in the localmesos master, in the order a Mesos 1.11 master processes it (facts §3.3, §3.4).

Why this module exists: ACCEPT is where reservations, persistent volumes and tasks come into being, and a
scheduler only learns what went wrong from what the master does next. Mesos works in fixed steps:

1. offer validation (ids exist, are this framework's, no duplicates, one role, one agent); on failure
   every still-valid offer is discarded, launches get TASK_LOST/TASK_DROPPED (REASON_INVALID_OFFERS) and
   other operations are dropped;
2. a first pass over all operations: resource format validation (bad LAUNCH -> TASK_ERROR for each of its
   tasks, other bad operations dropped) and the ``id`` (operation feedback) checks;
3. the surviving operations run one after the other against the remaining pool (RESERVE, UNRESERVE,
   CREATE, DESTROY convert it at once, LAUNCH subtracts; a failing operation is skipped);
4. what is left goes back: the net speculatively converted part without a filter, the rest declined
   with the call's filters.

Methods run with the master lock held (they are mixed into ``Master``).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from localmesos import operations
from localmesos import resources_identity as rid
from localmesos.master_model import (
    AgentRec,
    FrameworkRec,
    TaskRec,
    master_status,
    sum_resources,
    update_event,
    value,
)
from localmesos.resources import Resources

log = logging.getLogger("localmesos.master")

CONVERSIONS = ("RESERVE", "UNRESERVE", "CREATE", "DESTROY")
LAUNCHES = ("LAUNCH", "LAUNCH_GROUP")
RESOURCE_OPERATIONS = (*CONVERSIONS, "GROW_VOLUME", "SHRINK_VOLUME", "CREATE_DISK", "DESTROY_DISK")


def launch_tasks(op: dict[str, Any]) -> list[dict[str, Any]]:
    """The TaskInfos of a LAUNCH or LAUNCH_GROUP operation."""
    if op.get("type") == "LAUNCH":
        return list((op.get("launch") or {}).get("task_infos") or [])
    if op.get("type") == "LAUNCH_GROUP":
        return list(((op.get("launch_group") or {}).get("task_group") or {}).get("tasks") or [])
    return []


def format_error(op: dict[str, Any], role: str) -> str | None:
    """Why the resources of ``op`` are malformed (Mesos validateAndUpgradeResources), or None."""
    try:
        if op.get("type") in LAUNCHES:
            for task in launch_tasks(op):
                operations.normalize_task(task, role)
        elif op.get("type") in CONVERSIONS:
            if op.get("type") == "RESERVE" and (op.get("reserve") or {}).get("source"):
                return "Reservation updates are not yet implemented for the scheduler API."
            operations.normalize_operation(op, role)
    except (operations.OperationError, ValueError) as exc:
        return str(exc)
    return None


def net_converted(remaining: Resources, offered: Resources) -> Resources:
    """``remaining - offered`` with Mesos' saturating subtraction: what the speculative operations of
    an ACCEPT produced and left unused (returned without a filter)."""
    out = Resources()
    for item in remaining:
        mine = Resources.trusted([item])
        key = rid.identity(item)
        same = offered.filter(lambda r, key=key: rid.identity(r) == key)
        if same.empty:
            out = out + mine
        elif mine.contains(same):
            out = out + (mine - same)
    return out


class AcceptMixin:
    """ACCEPT (and its validation passes)."""

    def _call_accept(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        body = call.get("accept") or {}
        offer_ids = [value(o) or "" for o in body.get("offer_ids") or []]
        ops = [op for op in body.get("operations") or [] if isinstance(op, dict)]
        error = self._validate_offer_ids(fw, offer_ids)
        if error:
            self._reject_accept(fw, offer_ids, ops, error)
            return 202
        offers = [self._remove_offer(offer_id, rescind=False) for offer_id in offer_ids]
        agent = self.agents[offers[0].agent_id]
        role = offers[0].role
        offered = sum_resources(o.resources for o in offers)
        ops = self._first_pass(fw, agent, role, ops)
        if agent.state != "active":
            self._fail_launches(fw, ops, "REASON_AGENT_DISCONNECTED", "Agent disconnected")
            return 202
        context = operations.FrameworkContext(frozenset(fw.roles), fw.principal, fw.capabilities)
        pool = offered
        for op in ops:
            pool = self._apply(fw, agent, role, context, op, pool)
        self._decline_leftover(fw, agent, role, pool, offered, body.get("filters"))
        return 202

    # -- step 1: offers --------------------------------------------------------------------------
    def _validate_offer_ids(self, fw: FrameworkRec, offer_ids: list[str]) -> str | None:
        if not offer_ids:
            return "No offers specified"
        if len(set(offer_ids)) != len(offer_ids):
            return "Duplicate offer IDs in the offer list"
        for offer_id in offer_ids:
            offer = self.offers.get(offer_id)
            if offer is None:
                return f"Offer {offer_id} is no longer valid"
            if offer.framework_id != fw.framework_id:
                return (
                    f"Offer {offer_id} has invalid framework {offer.framework_id} "
                    f"while framework {fw.framework_id} is expected"
                )
        first = self.offers[offer_ids[0]]
        for offer_id in offer_ids[1:]:
            other = self.offers[offer_id]
            if other.role != first.role:
                return (
                    "Aggregated offers must be allocated to the same role. Offer "
                    f"{first.offer_id} uses role {first.role} and offer {offer_id} uses role {other.role}"
                )
            if other.agent_id != first.agent_id:
                return (
                    "Aggregated offers must belong to one single agent. Offer "
                    f"{first.offer_id} uses agent {first.agent_id} and offer {offer_id} "
                    f"uses agent {other.agent_id}"
                )
        return None

    def _reject_accept(
        self, fw: FrameworkRec, offer_ids: list[str], ops: list[dict[str, Any]], error: str
    ) -> None:
        log.warning("ACCEPT call of framework %s used invalid offers: %s", fw.framework_id, error)
        for offer_id in offer_ids:
            offer = self.offers.get(offer_id)
            if offer is not None and offer.framework_id == fw.framework_id:
                self._remove_offer(offer_id, rescind=False)
        state = "TASK_DROPPED" if fw.partition_aware else "TASK_LOST"
        for op in ops:
            if op.get("type") not in LAUNCHES:
                self._drop_operation(fw, op, f"Operation attempted with invalid offers: {error}")
                continue
            for task in launch_tasks(op):
                self._task_update(
                    fw, task, state, "REASON_INVALID_OFFERS", f"Task launched with invalid offers: {error}"
                )

    def _fail_launches(self, fw: FrameworkRec, ops: list[dict[str, Any]], reason: str, message: str) -> None:
        state = "TASK_DROPPED" if fw.partition_aware else "TASK_LOST"
        for op in ops:
            for task in launch_tasks(op):
                self._task_update(fw, task, state, reason, message)

    # -- step 2: resource formats and operation feedback -------------------------------------------
    def _first_pass(
        self, fw: FrameworkRec, agent: AgentRec, role: str, ops: list[dict[str, Any]]
    ) -> list[dict]:
        """Drop (with the feedback Mesos gives) operations with malformed resources or an ``id``."""
        kept = []
        for op in ops:
            op_type = op.get("type")
            group_reason = "REASON_TASK_GROUP_INVALID" if op_type == "LAUNCH_GROUP" else "REASON_TASK_INVALID"
            error = format_error(op, role)
            if error is not None:
                if op_type in LAUNCHES:
                    self._task_errors(fw, op, error, group_reason)
                elif op_type in RESOURCE_OPERATIONS:
                    self._drop_operation(fw, op, f"Operation attempted with invalid resources: {error}")
                else:
                    log.warning("Ignoring unknown operation of framework %s", fw.framework_id)
                continue
            if op.get("id") is not None:
                if op_type in LAUNCHES:
                    self._task_errors(
                        fw, op, f"The `id` field cannot be set on {op_type} operations", group_reason
                    )
                elif op_type in RESOURCE_OPERATIONS:
                    self._drop_operation(
                        fw,
                        op,
                        f"Operation requested feedback, but agent {agent.agent_id} does not have the "
                        "required RESOURCE_PROVIDER capability",
                    )
                continue
            kept.append(op)
        return kept

    def _task_errors(self, fw: FrameworkRec, op: dict[str, Any], message: str, reason: str) -> None:
        for task in launch_tasks(op):
            self._task_update(fw, task, "TASK_ERROR", reason, message)

    def _task_update(
        self, fw: FrameworkRec, task: dict[str, Any], state: str, reason: str, message: str
    ) -> None:
        """A master-generated update for a task that never started (agent id as the task gave it)."""
        task_id = value(task.get("task_id")) or ""
        log.warning("Task %s of framework %s: %s (%s): %s", task_id, fw.framework_id, state, reason, message)
        status = master_status(task_id, state, reason, message, self.wallclock(), value(task.get("agent_id")))
        self._send(fw, update_event(status))

    def _drop_operation(self, fw: FrameworkRec, op: dict[str, Any], message: str) -> None:
        log.warning("Dropping %s operation of framework %s: %s", op.get("type"), fw.framework_id, message)
        operation_id = value(op.get("id"))
        if operation_id is not None:
            status = {"operation_id": {"value": operation_id}, "state": "OPERATION_ERROR", "message": message}
            self._send(fw, {"type": "UPDATE_OPERATION_STATUS", "update_operation_status": {"status": status}})

    # -- step 3: sequential application ----------------------------------------------------------
    def _apply(
        self,
        fw: FrameworkRec,
        agent: AgentRec,
        role: str,
        context: operations.FrameworkContext,
        op: dict[str, Any],
        pool: Resources,
    ) -> Resources:
        """Run one operation against the remaining ``pool``; returns the new remaining pool."""
        op_type = op.get("type")
        if op_type == "LAUNCH":
            for task in launch_tasks(op):
                pool = self._launch(fw, agent, role, context, task, pool)
            return pool
        if op_type == "LAUNCH_GROUP":
            self._task_errors(fw, op, "localmesos does not support LAUNCH_GROUP", "REASON_TASK_GROUP_INVALID")
            return pool
        if op_type not in CONVERSIONS:
            self._drop_operation(fw, op, f"{op_type} is not supported on agent {agent.agent_id}")
            return pool
        try:
            new_pool = operations.apply(pool, op, context, role, self._persistence_ids(agent, role))
            consumed, made = operations.converted(op, role)
            new_total = agent.total - consumed.unallocate() + made.unallocate()
        except (operations.OperationError, ValueError) as exc:
            self._drop_operation(fw, op, f"{exc}; on agent {agent.agent_id}")
            return pool
        log.info(
            "Applying %s operation of framework %s to agent %s", op_type, fw.framework_id, agent.agent_id
        )
        self._set_total(agent, new_total)
        return new_pool

    def _persistence_ids(self, agent: AgentRec, role: str) -> set[str]:
        return agent.total.reserved(role).persistence_ids()

    def _set_total(self, agent: AgentRec, total: Resources) -> None:
        agent.total = total
        self.totals_cache = None
        self._invalidate(agent)
        agent.link.checkpoint_resources(total.to_json())

    def _launch(
        self,
        fw: FrameworkRec,
        agent: AgentRec,
        role: str,
        context: operations.FrameworkContext,
        task: dict[str, Any],
        pool: Resources,
    ) -> Resources:
        existing = {e for (f, e) in agent.executors if f == fw.framework_id}
        try:
            normalized = operations.normalize_task(task, role)
            error = operations.validate_task(
                normalized, pool, agent.agent_id, context, set(fw.tasks), set(fw.unreachable_tasks), existing
            )
        except (operations.OperationError, ValueError) as exc:
            error = str(exc)
        if error:
            self._task_update(fw, task, "TASK_ERROR", "REASON_TASK_INVALID", error)
            return pool
        executor_id = value((normalized.get("executor") or {}).get("executor_id"))
        task_res = Resources(normalized.get("resources") or [])
        charged = operations.task_resources(normalized, existing)
        try:
            pool = pool - charged
        except ValueError as exc:
            self._task_update(
                fw, task, "TASK_ERROR", "REASON_TASK_INVALID", f"Task uses more resources: {exc}"
            )
            return pool
        new_executor = executor_id is not None and executor_id not in existing
        self._record_launch(
            fw, agent, role, normalized, task_res, executor_id, charged - task_res, new_executor
        )
        return pool

    def _record_launch(
        self,
        fw: FrameworkRec,
        agent: AgentRec,
        role: str,
        task: dict[str, Any],
        task_res: Resources,
        executor_id: str | None,
        executor_res: Resources,
        new_executor: bool,
    ) -> None:
        task_id = value(task.get("task_id")) or ""
        rec = TaskRec(fw.framework_id, agent.agent_id, task_id, task, task_res, role, executor_id=executor_id)
        fw.tasks[task_id] = rec
        agent.tasks[(fw.framework_id, task_id)] = rec
        if new_executor and executor_id is not None:
            agent.executors[(fw.framework_id, executor_id)] = executor_res
        agent.frameworks[fw.framework_id] = copy.deepcopy(fw.info)
        self._invalidate(agent)
        log.info("Launching task %s of framework %s on agent %s", task_id, fw.framework_id, agent.agent_id)
        agent.link.run_task(fw.framework_id, copy.deepcopy(fw.info), copy.deepcopy(task))

    # -- step 4: leftovers -----------------------------------------------------------------------
    def _decline_leftover(
        self,
        fw: FrameworkRec,
        agent: AgentRec,
        role: str,
        remaining: Resources,
        offered: Resources,
        filters: dict | None,
    ) -> None:
        """Unused resources go back: the net converted part without a filter, the rest with ``filters``."""
        if remaining.empty:
            return
        converted = net_converted(remaining, offered)
        try:
            declined = remaining - converted
        except ValueError:
            declined = remaining
        self._install_filter(fw, agent.agent_id, role, declined, filters)
