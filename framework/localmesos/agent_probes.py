"""The agent's health checks and checks (``TaskInfo.health_check``, ``TaskInfo.check``) on its timers.

Why this module exists: Mesos' command executor runs health checks and checks beside the task and turns
their results into status updates (facts §3.5; docs/localmesos.md "Checks"). This mixin of ``Agent``
schedules probes on the agent's timer heap, runs them on helper threads (``agent_helpers``) and turns
results into updates through the agent's status update manager (``agent_runs``). It uses the agent's
state (``_tasks``, ``_schedule``, ``_enqueue``, ...) and is only meant to be mixed into ``Agent``.
"""

from __future__ import annotations

import logging
import signal

from localmesos import checks, executor, healthcheck
from localmesos.agent_helpers import run_health_check, run_probe
from localmesos.agent_protocol import (
    CHECK_REASON,
    HEALTH_REASON,
    Json,
    TaskKey,
    grace_seconds,
    new_uuid,
)
from localmesos.agent_task import AgentTask

log = logging.getLogger(__name__)


class AgentProbes:
    """Health checks and checks of an ``Agent``'s tasks (a mixin: see the module docstring)."""

    # --- health checks --------------------------------------------------------------------------

    def _start_health(self, t: AgentTask) -> None:
        check = t.task.get("health_check")
        if not check:
            return
        try:
            policy = healthcheck.HealthPolicy.from_json(check)
        except ValueError as exc:
            log.warning("agent %s: task %s: not health checking: %s", self.name, t.task_id, exc)
            return
        t.health = healthcheck.HealthTracker(policy, started=self._clock())
        self._schedule_check(t, policy.delay)

    def _schedule_check(self, t: AgentTask, delay: float) -> None:
        token, key = t.health_token, t.key
        self._schedule(delay, lambda: self._check_due(key, token))

    def _check_due(self, key: TaskKey, token: int) -> None:
        t = self._tasks.get(key)
        if t is None or t.health is None or t.health_token != token or t.exited or t.killing:
            return
        args = (t, t.health.policy, t.launch, self._inbox, token)
        self._spawn_helper(run_health_check, *args, name=f"check-{t.task_id}")

    def _on_health(self, key: TaskKey, token: int, ok: bool, message: str) -> None:
        t = self._tasks.get(key)
        if t is None or t.health is None or t.health_token != token or t.exited or t.killing:
            return
        if not ok:
            log.info("agent %s: task %s health check failed: %s", self.name, t.task_id, message)
        event = t.health.record(ok, self._clock())
        if event is not None:
            last_check = (t.latest or {}).get("check_status")
            status = self._status(
                t, "TASK_RUNNING", healthy=event.healthy, reason=HEALTH_REASON, check_status=last_check
            )
            self._enqueue(t, status)
            if event.kill:
                t.unhealthy = True
                grace = grace_seconds(t.task.get("kill_policy"))
                self._kill(t, self._kill_grace if grace is None else grace)
                return
        self._schedule_check(t, t.health.policy.interval)

    def _stop_probes(self, t: AgentTask) -> None:
        """Stop health checking and checking (Mesos pauses both on kill and exit); kill running probes."""
        with t.check_lock:
            t.health_token += 1
            t.check_token += 1
            procs = list(t.check_procs)
        for proc in procs:
            executor.signal_session(proc.pid, signal.SIGKILL)

    # --- checks (TaskInfo.check) ----------------------------------------------------------------

    def _start_checks(self, t: AgentTask) -> None:
        check = t.task.get("check")
        if not check:
            return
        try:
            policy = checks.CheckPolicy.from_json(check)
        except ValueError as exc:
            log.error("agent %s: task %s: failed to create checker: %s", self.name, t.task_id, exc)
            return
        t.check, t.check_result = policy, checks.empty_status(policy.kind)
        self._schedule_probe(t, policy.delay)

    def _schedule_probe(self, t: AgentTask, delay: float) -> None:
        token, key = t.check_token, t.key
        self._schedule(delay, lambda: self._probe_due(key, token))

    def _probe_due(self, key: TaskKey, token: int) -> None:
        t = self._tasks.get(key)
        if t is None or t.check is None or t.check_token != token or t.exited or t.killing:
            return
        args = (t, t.check, t.launch, self._inbox, token)
        self._spawn_helper(run_probe, *args, name=f"probe-{t.task_id}")

    def _on_check(self, key: TaskKey, token: int, result: Json) -> None:
        """A check result: a TASK_RUNNING update (copied from the latest one) only when it changed."""
        t = self._tasks.get(key)
        if t is None or t.check is None or t.check_token != token or t.exited or t.killing:
            return
        if result != t.check_result:
            t.check_result = result
            base = dict(t.latest or self._status(t, "TASK_RUNNING"))
            base.update(
                uuid=new_uuid(), timestamp=self._wallclock(), reason=CHECK_REASON, check_status=result
            )
            self._enqueue(t, base)
        self._schedule_probe(t, t.check.interval)
