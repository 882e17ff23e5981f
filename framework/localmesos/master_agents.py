"""Agents in the localmesos master: registration, re-registration, disconnection, unreachability, "gone",
and the registry file that survives a master restart (facts §3.9).

Why this module exists: what happens to tasks when their agent disappears — and comes back — is the core
of every stateful framework's recovery logic (mesopress relaunches Galera nodes on their reservations).
Mesos sends different states and reasons for each case (disconnected, unreachable, marked gone,
re-registered) and remembers unreachable and gone agents in its replicated registry; localmesos keeps the
same memory in ``<work_dir>/registry.json`` (``master_registry.py``), so a restarted master still refuses
gone agents and waits for the others to re-register.
Methods run with the master lock held (they are mixed into ``Master``).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from localmesos import ids
from localmesos.master_model import (
    AgentRec,
    AgentRefused,
    FrameworkRec,
    TaskRec,
    capabilities_of,
    for_framework,
    is_terminal,
    master_status,
    roles_of,
    update_event,
    value,
)
from localmesos.resources import Resources

log = logging.getLogger("localmesos.master")


class AgentsMixin:
    """MasterLink agent calls, agent timeouts and the operator's mark-gone."""

    # -- registration ----------------------------------------------------------------------------
    def register_agent(self, agent: Any, agent_id: str | None, info: dict[str, Any]) -> str:
        """Register (``agent_id`` None) or re-register an agent; returns its id. Raises AgentRefused."""
        with self.lock:
            if agent_id is not None and agent_id in self.registry.gone:
                log.warning("Refusing agent %s: it was marked gone", agent_id)
                raise AgentRefused(f"Agent {agent_id} has been marked gone")
            if agent_id is None:
                agent_id = ids.agent_id(self.master_id, self.registry.agent_counter)
                self.registry.agent_counter += 1
                rec = self._admit(agent, agent_id, info)
                log.info("Registered agent %s at %s:%s", agent_id, rec.hostname, rec.port)
            else:
                rec = self._readmit(agent, agent_id, info)
            self._allocate_round([rec.agent_id])
            return agent_id

    def _admit(self, link: Any, agent_id: str, info: dict[str, Any]) -> AgentRec:
        previous = self.agents.get(agent_id)
        rec = AgentRec(
            agent_id=agent_id,
            link=link,
            hostname=str(info.get("hostname") or "127.0.0.1"),
            port=int(info.get("port") or 5051),
            attributes=copy.deepcopy(list(info.get("attributes") or [])),
            total=Resources(info.get("resources") or []).unallocate(),
            registered_time=self.wallclock(),
            name=info.get("name") or getattr(link, "name", None),
        )
        if previous is not None:
            rec.tasks, rec.executors, rec.frameworks = previous.tasks, previous.executors, previous.frameworks
        self.agents[agent_id] = rec
        if agent_id not in self.registry.admitted:
            self.registry.admit(agent_id)
            self.registry.dirty = True  # flushed by tick()/stop(); losing it only forgets an admission
        self.recovering.discard(agent_id)
        self.totals_cache = None
        self._invalidate(rec)
        return rec

    def _readmit(self, link: Any, agent_id: str, info: dict[str, Any]) -> AgentRec:
        previous = self.agents.get(agent_id)
        if previous is not None and previous.state in ("active", "disconnected"):
            return self._reregister_known(link, previous, info)
        recovered = agent_id in self.recovering
        unreachable = agent_id in self.registry.unreachable
        rec = self._admit(link, agent_id, info)
        log.info(
            "Re-admitted %s agent %s with %d tasks",
            "recovered" if recovered else "unreachable" if unreachable else "unknown",
            agent_id,
            len(info.get("tasks") or []),
        )
        for fw_info in info.get("frameworks") or []:
            self._recover_framework(rec, fw_info)
        message = None
        if not recovered:
            message = "Unreachable agent re-reregistered" if unreachable else "Unknown agent reregistered"
        self._readd_tasks(rec, info.get("tasks") or [], message)
        for fw in self.frameworks.values():
            for task_id in [t for t, task in fw.unreachable_tasks.items() if task.agent_id == agent_id]:
                del fw.unreachable_tasks[task_id]
        return rec

    def _reregister_known(self, link: Any, previous: AgentRec, info: dict[str, Any]) -> AgentRec:
        """An agent the master still holds came back: reconcile its tasks with the master's view; the
        master's checkpointed resources win and are sent back to the agent (Mesos reconcileKnownSlave)."""
        self._rescind_agent_offers(previous)
        total = previous.total
        rec = self._admit(link, previous.agent_id, info)
        log.info("Agent %s re-registered with %d tasks", rec.agent_id, len(info.get("tasks") or []))
        rec.total = total
        self._invalidate(rec)
        link.checkpoint_resources(total.to_json())
        for fw_info in info.get("frameworks") or []:
            self._recover_framework(rec, fw_info)
        reported = self._readd_tasks(rec, info.get("tasks") or [], None)
        self._drop_unreported(rec, reported)
        for task in rec.tasks.values():
            if task.kill_requested and not is_terminal(task.state):
                link.kill_task(task.framework_id, task.task_id, None)  # Mesos resends without the policy
        return rec

    def _recover_framework(self, agent: AgentRec, fw_info: dict[str, Any]) -> None:
        fid = value(fw_info.get("id"))
        if fid is None:
            return
        if fid in self.completed_ids:
            log.info("Telling agent %s to shut down completed framework %s", agent.agent_id, fid)
            agent.link.shutdown_framework(fid)
            return
        agent.frameworks[fid] = copy.deepcopy(fw_info)
        if fid not in self.frameworks:
            fw = FrameworkRec(fid, copy.deepcopy(fw_info), roles_of(fw_info), capabilities_of(fw_info))
            fw.recovered = True
            self.frameworks[fid] = fw
            log.info("Recovered framework %s from agent %s", fid, agent.agent_id)

    def _readd_tasks(self, agent: AgentRec, tasks: list[dict[str, Any]], message: str | None) -> set[tuple]:
        """Take the tasks an agent reports; with ``message``, tell each framework the task's current
        state (REASON_AGENT_REREGISTERED)."""
        reported: set[tuple] = set()
        for entry in tasks:
            fid = entry.get("framework_id")
            fid = value(fid) if isinstance(fid, dict) else fid
            fw = self.frameworks.get(fid or "")
            if fw is None:
                continue
            task_info = entry.get("task") or {}
            task_id = value(task_info.get("task_id")) or ""
            state = entry.get("state") or "TASK_RUNNING"
            reported.add((fw.framework_id, task_id))
            rec = self._task_from_report(agent, fw, task_info, state)
            rec.status = entry.get("status") or rec.status
            # the update the agent still waits to see acknowledged (reconciliation reports its state)
            rec.status_update_state = entry.get("status_update_state")
            rec.status_uuid = entry.get("status_update_uuid")
            fw.unreachable_tasks.pop(task_id, None)
            if any(t.task_id == task_id for t in fw.completed_tasks):
                kept = [t for t in fw.completed_tasks if t.task_id != task_id]
                fw.completed_tasks.clear()
                fw.completed_tasks.extend(kept)
            if message is not None:
                self._send_reregistered(fw, rec, message)
        return reported

    def _task_from_report(
        self, agent: AgentRec, fw: FrameworkRec, task_info: dict[str, Any], state: str
    ) -> TaskRec:
        task_id = value(task_info.get("task_id")) or ""
        rec = agent.tasks.get((fw.framework_id, task_id))
        if rec is None:
            resources = Resources(task_info.get("resources") or [])
            roles = {r.get("allocation_info", {}).get("role") for r in task_info.get("resources") or []}
            role = next((r for r in roles if r), fw.roles[0] if fw.roles else "*")
            if None in roles:
                resources = resources.unallocate().allocate(role)
            executor_id = value((task_info.get("executor") or {}).get("executor_id"))
            rec = TaskRec(fw.framework_id, agent.agent_id, task_id, copy.deepcopy(task_info), resources, role)
            rec.executor_id = executor_id
        rec.state = state
        rec.released = is_terminal(state)
        rec.unreachable_time = None
        agent.tasks[(fw.framework_id, task_id)] = rec
        fw.tasks[task_id] = rec
        return rec

    def _send_reregistered(self, fw: FrameworkRec, task: TaskRec, message: str) -> None:
        status = master_status(
            task.task_id, task.state, "REASON_AGENT_REREGISTERED", message, self.wallclock(), task.agent_id
        )
        if task.executor_id is not None:
            status["executor_id"] = {"value": task.executor_id}
        for key in ("healthy", "check_status", "container_status"):
            if key in (task.status or {}):
                status[key] = task.status[key]
        self._send(fw, update_event(status))

    def _drop_unreported(self, agent: AgentRec, reported: set[tuple]) -> None:
        """Tasks the master thinks run on the agent but the agent does not know: lost."""
        for key, task in list(agent.tasks.items()):
            if key in reported or is_terminal(task.state):
                continue
            fw = self.frameworks.get(task.framework_id)
            state = "TASK_DROPPED" if fw is not None and fw.partition_aware else "TASK_LOST"
            self._master_update(task, state, "REASON_RECONCILIATION", "Task is unknown to the agent")
            self._forget_task(task)

    def _master_update(self, task: TaskRec, state: str, reason: str, message: str, **extra: Any) -> None:
        """Record a master-generated state change of ``task`` and tell its framework (no uuid)."""
        fw = self.frameworks.get(task.framework_id)
        pa = fw is not None and fw.partition_aware
        status = master_status(
            task.task_id, for_framework(state, pa), reason, message, self.wallclock(), task.agent_id
        )
        if task.executor_id is not None:
            status["executor_id"] = {"value": task.executor_id}
        status.update(extra)
        self._update_task(task, status)
        self._send(fw, update_event(status))

    # -- loss ------------------------------------------------------------------------------------
    def agent_disconnected(self, agent_id: str) -> None:
        """The agent stopped or its connection broke (facts §3.9)."""
        with self.lock:
            try:
                self._agent_disconnected(agent_id)
            except Exception:
                log.exception("Failed to process the disconnection of agent %s", agent_id)

    def _agent_disconnected(self, agent_id: str) -> None:
        agent = self.agents.get(agent_id)
        if agent is None or agent.state != "active":
            return
        log.info("Agent %s disconnected", agent_id)
        agent.state = "disconnected"
        agent.disconnected_at = self.clock()
        self.disconnected[agent_id] = agent.disconnected_at
        self.free_candidates.pop(agent_id, None)
        self.totals_cache = None
        self._rescind_agent_offers(agent)
        for task in list(agent.tasks.values()):
            fw = self.frameworks.get(task.framework_id)
            if fw is not None and not fw.checkpoint:
                message = f"Agent {agent.hostname} disconnected"
                self._master_update(task, "TASK_LOST", "REASON_AGENT_DISCONNECTED", message)
                self._forget_task(task)
        for fid, executor_id in list(agent.executors):
            fw = self.frameworks.get(fid)
            if fw is not None and not fw.checkpoint:
                del agent.executors[(fid, executor_id)]

    def _check_agents(self, now: float) -> None:
        timeout = self.config.agent_unreachable_timeout
        for agent_id, since in list(self.disconnected.items()):
            agent = self.agents.get(agent_id)
            if agent is None or agent.state != "disconnected":
                del self.disconnected[agent_id]
            elif now - since >= timeout:
                del self.disconnected[agent_id]
                self._mark_unreachable(agent, "health check timed out")
        if self.recovering and now >= self.recovery_deadline:
            for agent_id in sorted(self.recovering):
                log.info("Agent %s did not re-register in time; marking it unreachable", agent_id)
                self.registry.mark_unreachable(agent_id, self.wallclock())
            self.recovering.clear()
            self.registry.save()

    def _mark_unreachable(self, agent: AgentRec, cause: str) -> None:
        log.info("Marking agent %s unreachable: %s", agent.agent_id, cause)
        when = self.wallclock()
        agent.unreachable_time = when
        self.registry.mark_unreachable(agent.agent_id, when)
        self.registry.save()
        self._remove_agent(agent, "unreachable", f"Agent {agent.hostname} is unreachable: {cause}", when)

    def _remove_agent(self, agent: AgentRec, new_state: str, message: str, unreachable: float | None) -> None:
        """Mesos __removeSlave: every task of the agent gets TASK_UNREACHABLE (or, marked gone,
        TASK_GONE_BY_OPERATOR); non-PARTITION_AWARE frameworks get TASK_LOST. Then executors and
        offers go, and every framework gets a FAILURE event naming the agent."""
        agent.state = new_state
        self.free_candidates.pop(agent.agent_id, None)
        self.disconnected.pop(agent.agent_id, None)
        self.totals_cache = None
        for task in list(agent.tasks.values()):
            fw = self.frameworks.get(task.framework_id)
            pa = fw is not None and fw.partition_aware
            if unreachable is not None or not pa:
                state = "TASK_UNREACHABLE" if pa else "TASK_LOST"
                reason = "REASON_AGENT_REMOVED"
            else:
                state, reason = "TASK_GONE_BY_OPERATOR", "REASON_AGENT_REMOVED_BY_OPERATOR"
            extra = (
                {} if unreachable is None else {"unreachable_time": {"nanoseconds": int(unreachable * 1e9)}}
            )
            self._master_update(task, state, reason, message, **extra)
            if unreachable is not None or not pa:
                task.unreachable_time = unreachable
                self._move_unreachable(task)
            else:
                self._forget_task(task)
        agent.executors.clear()
        self._rescind_agent_offers(agent)
        self._announce_agent_lost(agent.agent_id)

    def _move_unreachable(self, task: TaskRec) -> None:
        fw = self.frameworks.get(task.framework_id)
        agent = self.agents.get(task.agent_id)
        if agent is not None:
            agent.tasks.pop((task.framework_id, task.task_id), None)
        if fw is not None:
            fw.tasks.pop(task.task_id, None)
            fw.unreachable_tasks[task.task_id] = task

    def _announce_agent_lost(self, agent_id: str) -> None:
        for fw in self.frameworks.values():
            self._send(fw, {"type": "FAILURE", "failure": {"agent_id": {"value": agent_id}}})

    def mark_agent_gone(self, agent_id: str) -> None:
        """Operator: the agent is gone for good; its tasks are gone, it is refused forever.
        Raises KeyError for an agent this master never knew."""
        with self.lock:
            if agent_id in self.registry.gone:
                return
            known = agent_id in self.agents or agent_id in self.registry.admitted
            if not known and agent_id not in self.registry.unreachable:
                raise KeyError(agent_id)
            log.info("Marking agent %s gone by operator", agent_id)
            self.registry.mark_gone(agent_id)
            self.registry.save()
            self.recovering.discard(agent_id)
            agent = self.agents.get(agent_id)
            if agent is not None and agent.state in ("active", "disconnected"):
                if agent.state == "active":
                    for fid in sorted({t.framework_id for t in agent.tasks.values()} | set(agent.frameworks)):
                        agent.link.shutdown_framework(fid)
                self._remove_agent(agent, "gone", "Agent has been marked gone", None)
            else:
                if agent is not None:
                    agent.state = "gone"
                self._gone_unreachable_tasks(agent_id)

    def _gone_unreachable_tasks(self, agent_id: str) -> None:
        """Tasks of an unreachable agent marked gone: TASK_GONE_BY_OPERATOR (PA) / TASK_LOST."""
        for fw in list(self.frameworks.values()):
            for task in [t for t in fw.unreachable_tasks.values() if t.agent_id == agent_id]:
                if fw.partition_aware:
                    state, reason = "TASK_GONE_BY_OPERATOR", "REASON_AGENT_REMOVED_BY_OPERATOR"
                else:
                    state, reason = "TASK_LOST", "REASON_AGENT_REMOVED"
                self._master_update(task, state, reason, "Agent has been marked gone")
                del fw.unreachable_tasks[task.task_id]
                fw.completed_tasks.append(task)
