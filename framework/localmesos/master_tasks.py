"""Tasks in the localmesos master: status updates from agents, KILL, ACKNOWLEDGE, RECONCILE and the other
per-task scheduler calls (facts §3.5, §3.6, §1.4).

Why this module exists: a scheduler's view of its tasks is only as good as the updates and reconciliation
answers it gets. Mesos has exact rules for which state a reconciliation reports, which updates carry a
uuid (and so must be acknowledged), when a task's resources are released and when the master forgets a
task; schedulers that rely on them (mesopress does) break silently if the emulator is loose about them.
Methods run with the master lock held (they are mixed into ``Master``).
"""

from __future__ import annotations

import logging
from typing import Any

from localmesos.master_model import (
    FrameworkRec,
    TaskRec,
    for_framework,
    is_terminal,
    master_status,
    update_event,
    value,
)

log = logging.getLogger("localmesos.master")

_STATUS_COPY = ("healthy", "check_status", "container_status")  # as Mesos' reconcile copies them


class TasksMixin:
    """Agent status updates and task-level scheduler calls."""

    # -- from agents ------------------------------------------------------------------------------
    def status_update(self, agent_id: str, framework_id: str, status: dict[str, Any]) -> None:
        """A reliable TaskStatus from an agent: record it and forward it (dropped if not deliverable)."""
        with self.lock:
            try:
                self._status_update(agent_id, framework_id, status)
            except Exception:
                log.exception("Failed to process status update from agent %s", agent_id)

    def _status_update(self, agent_id: str, framework_id: str, status: dict[str, Any]) -> None:
        """Mesos' order: forward to a connected framework first, then update the task if known."""
        agent = self.agents.get(agent_id)
        task_id = value(status.get("task_id")) or ""
        if agent is None or agent.state not in ("active", "disconnected"):
            log.warning("Ignoring status update for task %s from unknown agent %s", task_id, agent_id)
            return
        log.info(
            "Status update %s for task %s of framework %s from agent %s",
            status.get("state"),
            task_id,
            framework_id,
            agent_id,
        )
        fw = self.frameworks.get(framework_id)
        task = agent.tasks.get((framework_id, task_id))
        if fw is not None and fw.connected:
            self._send(fw, update_event(status))
            if task is not None and status.get("uuid") is not None:
                task.status_uuid = status["uuid"]
                task.status_update_state = status.get("state")
        else:
            log.warning(
                "Received status update for task %s of %s framework %s",
                task_id,
                "an unknown" if fw is None else "a disconnected",
                framework_id,
            )
        if task is None:
            log.warning(
                "Could not look up task %s of framework %s on agent %s", task_id, framework_id, agent_id
            )
            return
        self._update_task(task, status)

    def _update_task(self, task: TaskRec, status: dict[str, Any]) -> None:
        """Record a new state; release the task's resources when it becomes terminal."""
        if not is_terminal(task.state):  # a terminal task never changes state again (Mesos updateTask)
            task.state = status.get("state") or task.state
        state = task.state
        task.status = status
        if (is_terminal(state) or state == "TASK_UNREACHABLE") and not task.released:
            task.released = True
            agent = self.agents.get(task.agent_id)
            if agent is not None:
                self._invalidate(agent)

    def _forget_task(self, task: TaskRec) -> None:
        """Drop a task from the master (its final state is kept among completed tasks)."""
        task.released = True
        fw = self.frameworks.get(task.framework_id)
        if fw is not None:
            fw.tasks.pop(task.task_id, None)
            fw.completed_tasks.append(task)
        agent = self.agents.get(task.agent_id)
        if agent is not None and agent.tasks.pop((task.framework_id, task.task_id), None) is not None:
            self._invalidate(agent)

    def executor_terminated(
        self, agent_id: str, framework_id: str, executor_id: str, wait_status: int
    ) -> None:
        """An executor exited: free its resources; FAILURE to the framework for custom executors."""
        with self.lock:
            try:
                agent = self.agents.get(agent_id)
                if agent is None:
                    return
                custom = agent.executors.pop((framework_id, executor_id), None) is not None
                self._invalidate(agent)
                log.info(
                    "Executor %s of framework %s on agent %s exited", executor_id, framework_id, agent_id
                )
                if custom:
                    failure = {
                        "agent_id": {"value": agent_id},
                        "executor_id": {"value": executor_id},
                        "status": int(wait_status),
                    }
                    self._send(self.frameworks.get(framework_id), {"type": "FAILURE", "failure": failure})
            except Exception:
                log.exception("Failed to process executor exit on agent %s", agent_id)

    # -- scheduler calls --------------------------------------------------------------------------
    def _call_kill(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        body = call.get("kill") or {}
        task_id = value(body.get("task_id")) or ""
        agent_id = value(body.get("agent_id"))
        task = fw.tasks.get(task_id)
        if task is None:
            log.warning("Cannot kill task %s of framework %s: unknown; reconciling", task_id, fw.framework_id)
            self._reconcile_explicit(fw, [{"task_id": {"value": task_id}, "agent_id": body.get("agent_id")}])
            return 202
        if agent_id is not None and agent_id != task.agent_id:
            log.warning("Cannot kill task %s: it runs on agent %s, not %s", task_id, task.agent_id, agent_id)
            return 202
        task.kill_requested = True
        task.kill_policy = body.get("kill_policy")
        agent = self.agents.get(task.agent_id)
        if agent is None or agent.state != "active":
            log.warning("Cannot kill task %s now: agent %s is not connected", task_id, task.agent_id)
            return 202
        log.info("Telling agent %s to kill task %s of framework %s", agent.agent_id, task_id, fw.framework_id)
        agent.link.kill_task(fw.framework_id, task_id, task.kill_policy)
        return 202

    def _call_shutdown(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        body = call.get("shutdown") or {}
        executor_id = value(body.get("executor_id")) or ""
        agent = self.agents.get(value(body.get("agent_id")) or "")
        if agent is None or agent.state != "active":
            log.warning("Cannot shut down executor %s: agent unknown or not connected", executor_id)
            return 202
        shutdown = getattr(agent.link, "shutdown_executor", None)
        if shutdown is not None:
            shutdown(fw.framework_id, executor_id)
            return 202
        for task in list(agent.tasks.values()):
            if task.framework_id == fw.framework_id and (task.executor_id or task.task_id) == executor_id:
                agent.link.kill_task(fw.framework_id, task.task_id, None)
        return 202

    def _call_acknowledge(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        body = call.get("acknowledge") or {}
        agent_id = value(body.get("agent_id")) or ""
        task_id = value(body.get("task_id")) or ""
        uuid = body.get("uuid")
        agent = self.agents.get(agent_id)
        if agent is None or agent.state != "active":
            log.warning(
                "Cannot forward acknowledgement for task %s: agent %s not connected", task_id, agent_id
            )
            return 202
        task = agent.tasks.get((fw.framework_id, task_id))
        if task is not None and task.status_update_state is None:
            log.warning("Ignoring acknowledgement for task %s: update not sent by this master", task_id)
            return 202
        if task is not None and task.status_uuid == uuid and is_terminal(task.status_update_state or ""):
            self._forget_task(task)
        agent.link.acknowledge(fw.framework_id, task_id, uuid)
        return 202

    def _call_reconcile(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        tasks = list((call.get("reconcile") or {}).get("tasks") or [])
        if not tasks:
            self._reconcile_implicit(fw)
        else:
            self._reconcile_explicit(fw, tasks)
        return 202

    def _reconcile_implicit(self, fw: FrameworkRec) -> None:
        log.info("Performing implicit task state reconciliation for framework %s", fw.framework_id)
        for task in fw.tasks.values():
            self._send(fw, update_event(self._reconcile_status(fw, task)))

    def _reconcile_status(self, fw: FrameworkRec, task: TaskRec) -> dict[str, Any]:
        state = task.status_update_state or task.state
        status = master_status(
            task.task_id,
            for_framework(state, fw.partition_aware),
            "REASON_RECONCILIATION",
            "Reconciliation: Latest task state",
            self.wallclock(),
            task.agent_id,
        )
        latest = task.status or {}
        for key in _STATUS_COPY:
            if key in latest:
                status[key] = latest[key]
        if task.executor_id is not None:
            status["executor_id"] = {"value": task.executor_id}
        return status

    def _reconcile_explicit(self, fw: FrameworkRec, entries: list[dict[str, Any]]) -> None:
        log.info(
            "Performing explicit reconciliation of %d tasks for framework %s", len(entries), fw.framework_id
        )
        for entry in entries:
            task_id = value(entry.get("task_id")) or ""
            task = fw.tasks.get(task_id)
            if task is not None:
                self._send(fw, update_event(self._reconcile_status(fw, task)))
                continue
            status = self._unknown_task_status(fw, task_id, value(entry.get("agent_id")))
            if status is not None:
                self._send(fw, update_event(status))

    def _unknown_task_status(
        self, fw: FrameworkRec, task_id: str, agent_id: str | None
    ) -> dict[str, Any] | None:
        """Reconciliation answer for a task the master does not hold (facts §3.6); None = no reply."""
        now = self.wallclock()
        state, message, unreachable = self._unknown_task_state(agent_id)
        if state is None:
            return None
        status = master_status(
            task_id, for_framework(state, fw.partition_aware), "REASON_RECONCILIATION", message, now, agent_id
        )
        if unreachable is not None:
            status["unreachable_time"] = {"nanoseconds": int(unreachable * 1e9)}
        return status

    def _unknown_task_state(self, agent_id: str | None) -> tuple[str | None, str, float | None]:
        if agent_id is None:
            if self.recovering:
                return None, "", None
            return "TASK_UNKNOWN", "Reconciliation: Task is unknown", None
        agent = self.agents.get(agent_id)
        if agent_id in self.registry.gone:
            return "TASK_GONE_BY_OPERATOR", "Reconciliation: Task is gone", None
        if agent_id in self.recovering:
            return None, "", None
        if agent is not None and agent.state in ("active", "disconnected"):
            return "TASK_GONE", "Reconciliation: Task is unknown to the agent", None
        if agent_id in self.registry.unreachable:
            return (
                "TASK_UNREACHABLE",
                "Reconciliation: Task is unreachable",
                self.registry.unreachable[agent_id],
            )
        return "TASK_UNKNOWN", "Reconciliation: Task is unknown", None

    def _call_acknowledge_operation_status(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        body = call.get("acknowledge_operation_status") or {}
        log.warning(
            "Ignoring acknowledgement of operation %s by framework %s: unknown operation",
            value(body.get("operation_id")),
            fw.framework_id,
        )
        return 202

    def _call_reconcile_operations(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        entries = list((call.get("reconcile_operations") or {}).get("operations") or [])
        for entry in entries:
            agent_id = value(entry.get("agent_id"))
            state, message = self._unknown_operation_state(agent_id)
            status: dict[str, Any] = {
                "operation_id": entry.get("operation_id"),
                "state": state,
                "message": message,
            }
            if agent_id is not None:
                status["agent_id"] = {"value": agent_id}
            if entry.get("resource_provider_id") is not None:
                status["resource_provider_id"] = entry["resource_provider_id"]
            self._send(fw, {"type": "UPDATE_OPERATION_STATUS", "update_operation_status": {"status": status}})
        return 202

    def _unknown_operation_state(self, agent_id: str | None) -> tuple[str, str]:
        """(state, message) answering RECONCILE_OPERATIONS for an operation the master does not know
        (it never tracks any: operations with ``id`` are refused)."""
        if agent_id is None:
            return "OPERATION_UNKNOWN", "Reconciliation: Operation is unknown and no 'agent_id' was provided"
        if agent_id in self.recovering:
            return "OPERATION_RECOVERING", "Reconciliation: Agent is recovered but has not re-registered"
        agent = self.agents.get(agent_id)
        if agent is not None and agent.state in ("active", "disconnected"):
            return "OPERATION_UNKNOWN", "Reconciliation: Operation is unknown"
        if agent_id in self.registry.unreachable:
            return "OPERATION_UNREACHABLE", "Reconciliation: Agent is unreachable"
        if agent_id in self.registry.gone:
            return "OPERATION_GONE_BY_OPERATOR", "Reconciliation: Agent marked gone by operator"
        return "OPERATION_UNKNOWN", "Reconciliation: Both operation and agent are unknown"

    def _call_message(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        body = call.get("message") or {}
        agent = self.agents.get(value(body.get("agent_id")) or "")
        executor_id = value(body.get("executor_id"))
        deliver = getattr(agent.link, "framework_message", None) if agent is not None else None
        if agent is None or agent.state != "active" or deliver is None:
            log.warning("Dropping framework message of %s for executor %s", fw.framework_id, executor_id)
            return 202
        deliver(fw.framework_id, executor_id, body.get("data"))
        return 202

    def _call_ignored(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        log.info("Ignoring %s call of framework %s", call.get("type"), fw.framework_id)
        return 202
