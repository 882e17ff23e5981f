"""A task's life on the agent: run, fetch, launch, exit, acknowledge, kill, and its reliable updates.

Why this module exists: the agent's handlers for the master's task calls, the status update manager (per
task an in-order queue; only its head is sent, re-sent with doubling backoff until acknowledged by uuid,
facts §0) and the kill path (SIGTERM, grace period, SIGKILL) are the bulk of what an agent does. They are
a mixin of ``Agent`` that uses the agent's state (``_tasks``, ``_timers``, ``_master``, ...), kept apart
from the agent's lifecycle and actor plumbing in ``agent.py``.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

from localmesos import checkpoint, checks, executor, volumes
from localmesos.agent_helpers import run_fetch, wait_process
from localmesos.agent_protocol import (
    EXECUTOR_TERMINATED,
    KILLED_DURING_LAUNCH,
    LAUNCH_FAILED,
    Json,
    MasterLink,
    TaskKey,
    grace_seconds,
    has_capability,
    make_status,
)
from localmesos.agent_task import AgentTask, Halted
from localmesos.taskstates import TERMINAL_STATES

log = logging.getLogger(__name__)


class AgentRuns:
    """Task handlers, status update manager and kill path of an ``Agent`` (a mixin: see the module
    docstring)."""

    # --- handlers (worker thread) ---------------------------------------------------------------

    def _on_resend(self) -> None:
        for t in list(self._tasks.values()):
            t.retry_interval = 0.0
            if t.updates:
                self._send_head(t)

    def _on_reregister(self, master: MasterLink) -> None:
        self._master = master
        agent_id = self._register(master, self.agent_id)
        if agent_id is None:
            self._halt()
            raise Halted
        if agent_id != self.agent_id:
            log.warning("agent %s: re-registered as %s (was %s)", self.name, agent_id, self.agent_id)
            self.agent_id = agent_id
            checkpoint.write_json(self._meta / "agent.json", {"id": agent_id})
        self._on_resend()

    def _on_run_task(self, framework_id: str, framework_info: Json, task: Json) -> None:
        info = dict(framework_info)
        info.setdefault("id", {"value": framework_id})
        t = AgentTask(framework_id, task, info, str(uuid.uuid4()), executor.task_user(task, info))
        if t.key in self._tasks:
            log.warning("agent %s: ignoring duplicate task %s", self.name, t.key)
            return
        with self._state_lock:
            self._tasks[t.key] = t
        if "command" not in task:
            self._enqueue(t, self._status(t, "TASK_FAILED", message="localmesos runs command tasks only"))
            return
        try:
            sandbox, user = executor.create_sandbox(
                self.work_dir, str(self.agent_id), framework_id, t.task_id, t.container_id, t.user
            )
        except executor.LaunchError as exc:
            self._drop(t, str(exc))
            return
        t.sandbox, t.host_user = str(sandbox), user
        uris = t.task["command"].get("uris") or []
        if uris:
            self._start_fetch(t, sandbox, uris)
            return
        self._enqueue(t, self._status(t, "TASK_STARTING"))
        self._launch(t, sandbox, user)

    def _start_fetch(self, t: AgentTask, sandbox: Path, uris: list[Json]) -> None:
        """Run the fetcher on a helper thread, as the containerizer does before the executor starts: the
        framework hears nothing (no TASK_STARTING) until the fetch is done."""
        t.fetching = True
        self._save(t)
        args = (uris, sandbox, t.host_user, self._fetch_timeout, self._inbox, t.key, t.container_id)
        self._spawn_helper(run_fetch, *args, name=f"fetch-{t.task_id}")

    def _on_fetched(self, key: TaskKey, container_id: str, error: str | None) -> None:
        t = self._tasks.get(key)
        if t is None or t.container_id != container_id or not t.fetching or t.sandbox is None:
            return
        t.fetching = False
        if error is None:
            self._enqueue(t, self._status(t, "TASK_STARTING"))
            self._launch(t, Path(t.sandbox), t.host_user)
            return
        message = (
            "Failed to launch container: Failed to fetch all URIs for container "
            f"'{container_id}': exited with status 1 ({error})"
        )
        log.warning("agent %s: task %s: %s", self.name, t.task_id, message)
        status = self._status(t, "TASK_FAILED", source="SOURCE_AGENT", reason=LAUNCH_FAILED, message=message)
        self._enqueue(t, status)

    def _launch(self, t: AgentTask, sandbox: Path, user: executor.User | None) -> None:
        command = t.task["command"]
        argv, program = executor.command_argv(command)
        endpoint = f"{self.hostname}:{self.port}"
        env = executor.task_env(
            sandbox, str(self.agent_id), t.framework_id, t.task_id, t.task_id, endpoint, command
        )
        t.launch = executor.Launch(argv=argv, executable=program, cwd=sandbox, env=env, user=user)
        try:
            volumes.link_volumes(sandbox, self.work_dir, t.task.get("resources") or [], user)
            proc = executor.spawn(t.launch, sandbox / "stdout", sandbox / "stderr")
        except (OSError, subprocess.SubprocessError) as exc:
            self._enqueue(
                t, self._status(t, "TASK_FAILED", message=f"Failed to launch task subprocess: {exc}")
            )
            return
        t.proc, t.pid, t.exited = proc, proc.pid, False
        t.start_ticks = executor.start_ticks(proc.pid)
        self._spawn_helper(wait_process, proc, self._inbox, t.key, t.container_id, name=f"wait-{t.task_id}")
        self._enqueue(t, self._status(t, "TASK_RUNNING"))
        self._start_health(t)
        self._start_checks(t)

    def _drop(self, t: AgentTask, message: str) -> None:
        """The container could not be created: TASK_DROPPED (partition-aware) or TASK_LOST, like Mesos."""
        state = "TASK_DROPPED" if has_capability(t.framework_info, "PARTITION_AWARE") else "TASK_LOST"
        status = self._status(t, state, source="SOURCE_AGENT", reason=EXECUTOR_TERMINATED, message=message)
        self._enqueue(t, status)

    def _on_exited(self, key: TaskKey, container_id: str, returncode: int) -> None:
        t = self._tasks.get(key)
        if t is None or t.container_id != container_id or t.exited:
            return
        t.exited, t.proc = True, None
        t.kill_token += 1
        self._stop_probes(t)
        if t.killing:
            state = "TASK_KILLED"
        else:
            state = "TASK_FINISHED" if returncode == 0 else "TASK_FAILED"
        healthy = False if t.unhealthy else None
        status = self._status(t, state, message=executor.exit_message(returncode), healthy=healthy)
        if t.framework_id in self._shutting_down:
            self._send_once_and_forget(t, status)
            return
        self._enqueue(t, status)

    def _on_acknowledge(self, framework_id: str, task_id: str, uuid_: str) -> None:
        t = self._tasks.get((framework_id, task_id))
        if t is None or not t.updates or t.updates[0].get("uuid") != uuid_:
            log.info("agent %s: ignoring unexpected acknowledgement for task %s", self.name, task_id)
            return
        t.updates.popleft()
        t.retry_token += 1
        t.retry_interval = 0.0
        if not t.updates and t.state in TERMINAL_STATES:
            self._forget(t)
            return
        self._save(t)
        if t.updates:
            self._send_head(t)

    def _on_kill_task(self, framework_id: str, task_id: str, kill_policy: Json | None) -> None:
        t = self._tasks.get((framework_id, task_id))
        if t is not None and t.fetching:
            self._kill_during_fetch(t)
            return
        if t is None or t.exited:
            return
        grace = grace_seconds(kill_policy)
        if grace is None:
            grace = grace_seconds(t.task.get("kill_policy"))
        self._kill(t, self._kill_grace if grace is None else grace)

    def _kill_during_fetch(self, t: AgentTask) -> None:
        """A kill before the executor started: the agent itself reports TASK_KILLED (Slave::killTask)."""
        t.fetching = False
        message = "Killed before delivery to the executor"
        status = self._status(
            t, "TASK_KILLED", source="SOURCE_AGENT", reason=KILLED_DURING_LAUNCH, message=message
        )
        self._enqueue(t, status)

    def _on_kill_processes(self, task_id: str) -> None:
        for t in list(self._tasks.values()):
            if t.task_id == task_id and not t.exited:
                executor.signal_session(t.pid, signal.SIGKILL)

    def _on_shutdown_framework(self, framework_id: str) -> None:
        self._shutting_down.add(framework_id)
        for t in [t for t in self._tasks.values() if t.framework_id == framework_id]:
            if t.exited:
                self._forget(t)
            else:
                self._kill(t, self._shutdown_grace)
        self._finish_shutdown(framework_id)

    def _on_checkpoint_resources(self, total: list[Json]) -> None:
        old, self._total = self._total, total
        checkpoint.write_json(self._meta / "resources.json", total)
        old_volumes = {v.path: v for v in volumes.volumes_of(self.work_dir, old)}
        new_volumes = {v.path: v for v in volumes.volumes_of(self.work_dir, total)}
        for path in new_volumes.keys() - old_volumes.keys():
            volumes.ensure_volume(new_volumes[path])
        for path in old_volumes.keys() - new_volumes.keys():
            log.info("agent %s: deleting destroyed volume %s", self.name, path)
            volumes.delete_volume(old_volumes[path])

    # --- status updates -------------------------------------------------------------------------

    def _status(self, t: AgentTask, state: str, **fields: Any) -> Json:
        return self._status_for(t, self.agent_id, state, **fields)

    def _status_for(self, t: AgentTask, agent_id: str | None, state: str, **fields: Any) -> Json:
        executor_source = fields.get("source", "SOURCE_EXECUTOR") == "SOURCE_EXECUTOR"
        if executor_source and t.pid is not None:
            fields["container_status"] = {"container_id": {"value": t.container_id}, "executor_pid": t.pid}
        kind = (t.task.get("check") or {}).get("type")
        if executor_source and kind in checks.KINDS:
            fields.setdefault("check_status", checks.empty_status(kind))
        return make_status(t.task_id, state, agent_id, t.task_id, self._wallclock(), **fields)

    def _enqueue(self, t: AgentTask, status: Json) -> None:
        t.updates.append(status)
        t.state, t.latest = status["state"], status
        self._save(t)
        if len(t.updates) == 1:
            self._send_head(t)

    def _send_head(self, t: AgentTask) -> None:
        t.retry_token += 1
        token, key = t.retry_token, t.key
        interval = t.retry_interval or self._retry
        t.retry_interval = min(interval * 2, self._max_retry)
        self._call("status_update", self.agent_id, t.framework_id, t.updates[0])
        self._schedule(interval, lambda: self._retry_head(key, token))

    def _retry_head(self, key: TaskKey, token: int) -> None:
        t = self._tasks.get(key)
        if t is not None and t.retry_token == token and t.updates:
            self._send_head(t)

    def _send_once_and_forget(self, t: AgentTask, status: Json) -> None:
        t.state = status["state"]
        self._call("status_update", self.agent_id, t.framework_id, status)
        self._forget(t)
        self._finish_shutdown(t.framework_id)

    def _finish_shutdown(self, framework_id: str) -> None:
        if not any(t.framework_id == framework_id for t in self._tasks.values()):
            self._shutting_down.discard(framework_id)

    def _save(self, t: AgentTask) -> None:
        checkpoint.write_json(self._task_file(t.key), t.to_json())

    def _forget(self, t: AgentTask) -> None:
        t.retry_token += 1
        checkpoint.remove(self._task_file(t.key))
        with self._state_lock:
            self._tasks.pop(t.key, None)

    # --- killing --------------------------------------------------------------------------------

    def _kill(self, t: AgentTask, grace: float) -> None:
        deadline = self._clock() + grace
        if t.killing:
            if deadline < t.kill_deadline:
                self._arm_escalation(t, grace, deadline)
            return
        t.killing = True
        self._stop_probes(t)
        if has_capability(t.framework_info, "TASK_KILLING_STATE"):
            self._enqueue(t, self._status(t, "TASK_KILLING"))
        executor.signal_session(t.pid, signal.SIGTERM)
        self._arm_escalation(t, grace, deadline)

    def _arm_escalation(self, t: AgentTask, grace: float, deadline: float) -> None:
        t.kill_token += 1
        t.kill_deadline = deadline
        token, key = t.kill_token, t.key
        self._schedule(grace, lambda: self._escalate(key, token))

    def _escalate(self, key: TaskKey, token: int) -> None:
        t = self._tasks.get(key)
        if t is not None and t.kill_token == token and not t.exited:
            log.info("agent %s: grace period over, SIGKILL to task %s", self.name, t.task_id)
            executor.signal_session(t.pid, signal.SIGKILL)
