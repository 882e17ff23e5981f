"""A localmesos agent: runs command tasks as real processes, the way a Mesos 1.11 agent does.

Why this module exists: mesopress keeps its data in persistent volumes and must survive task death, agent
restarts and host reboots. Those paths can only be tested against an agent that really starts processes in
Mesos-like sandboxes, keeps volume data on disk, checkpoints its state and delivers status updates reliably
(facts §3.5, §3.7, §3.9). ``executor`` does the host mechanics, ``fetcher`` fills the sandbox from
``command.uris``, ``healthcheck`` makes the health decisions and ``checks`` runs ``TaskInfo.check``. The
agent's bookkeeping is split by responsibility: this module holds the ``Agent`` class (state, AgentLink,
lifecycle, actor plumbing, registration and recovery); ``agent_runs`` its task handlers, status update
manager and kill path; ``agent_probes`` its health checks and checks; ``agent_helpers`` the bodies of its
helper threads; ``agent_task`` the per-task record; ``agent_protocol`` MasterLink and TaskStatus building
(shared with ``simagent``).

- **Actor.** Every ``AgentLink`` method only enqueues; one worker thread per agent handles the inbox and a
  timer heap (status-update retries, kill escalation, health checks, checks). Fetches and probes run on
  helper threads that post their results back to the inbox. Calls to the master are made from
  the worker thread (or from ``start``/``stop``) while holding no lock. One waiter thread per task ``wait()``s
  for its process (we keep processes as our children: PID 1 here reaps late).
- **Status update manager.** Per task an in-order queue; only its head is sent, and re-sent with doubling
  backoff (``status_update_retry`` up to 10 min) until acknowledged by uuid.
- **Checkpoints** under ``<work_dir>/meta``: ``agent.json`` (id), ``resources.json`` (total incl.
  reservations and volumes), ``tasks/<frameworkId>/<taskId>.json`` (task, latest state, pid, unacked
  updates). ``stop()`` is a host crash: processes die, checkpoints stay; ``start()`` reports the tasks that
  were live as TASK_FAILED (REASON_EXECUTOR_TERMINATED) through the queues.

Lifecycle methods (``start``/``stop``/``reboot``) block and call the master: never call them while holding
the master lock.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localmesos import checkpoint, executor, fetcher, volumes
from localmesos.agent_probes import AgentProbes
from localmesos.agent_protocol import (
    DEFAULT_KILL_GRACE,
    EXECUTOR_TERMINATED,
    MAX_UPDATE_RETRY,
    PROCESS_EXIT_WAIT,
    Json,
    MasterLink,
    TaskKey,
    is_refusal,
)
from localmesos.agent_runs import AgentRuns
from localmesos.agent_task import AgentTask, Halted
from localmesos.taskstates import TERMINAL_STATES

log = logging.getLogger(__name__)


class Agent(AgentRuns, AgentProbes):
    """One agent; see the module docstring and docs/localmesos.md for the interface."""

    def __init__(
        self,
        name: str,
        work_dir: Path,
        resources: list[Json],
        attributes: list[Json],
        master: MasterLink,
        hostname: str = "127.0.0.1",
        port: int = 5051,
        status_update_retry: float = 10.0,
        executor_shutdown_grace: float = 5.0,
        *,
        max_update_retry: float = MAX_UPDATE_RETRY,
        kill_grace: float = DEFAULT_KILL_GRACE,
        fetch_timeout: float = fetcher.DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.work_dir = Path(work_dir)
        self.hostname = hostname
        self.port = port
        self.agent_id: str | None = None
        self._initial = [dict(r) for r in resources]
        self._attributes = [dict(a) for a in attributes]
        self._master = master
        self._retry = status_update_retry
        self._max_retry = max(max_update_retry, status_update_retry)
        self._shutdown_grace = executor_shutdown_grace
        self._kill_grace = kill_grace
        self._fetch_timeout = fetch_timeout
        self._clock = clock
        self._wallclock = wallclock
        self._life = threading.Lock()  # serializes start/stop/reboot (never taken by master-called paths)
        self._state_lock = threading.Lock()  # guards the _tasks dict for snapshots from other threads
        self._thread: threading.Thread | None = None
        self._inbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]] = queue.SimpleQueue()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._helpers: list[threading.Thread] = []
        self._tasks: dict[TaskKey, AgentTask] = {}
        self._shutting_down: set[str] = set()
        self._total: list[Json] = [dict(r) for r in resources]
        self._refused = False

    # --- read-only views (any thread) -----------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between a successful ``start()`` and ``stop()`` (False after a refusal)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def refused(self) -> bool:
        """True when the master refused this agent (marked gone)."""
        return self._refused

    @property
    def total(self) -> list[Json]:
        """The agent's current total resources (as last checkpointed)."""
        return [dict(r) for r in self._total]

    def task_states(self) -> dict[TaskKey, str]:
        """{(framework_id, task_id): latest state} of the tasks the agent still tracks."""
        with self._state_lock:
            return {key: t.state for key, t in self._tasks.items()}

    def sandbox(self, framework_id: str, task_id: str) -> Path | None:
        """The sandbox directory of a tracked task, if it has one."""
        with self._state_lock:
            t = self._tasks.get((framework_id, task_id))
        return Path(t.sandbox) if t and t.sandbox else None

    def volume_path(self, resource: Json) -> Path | None:
        """Where the data of a persistent volume resource lives on this host."""
        volume = volumes.volume_of(self.work_dir, resource)
        return volume.path if volume else None

    @property
    def master(self) -> MasterLink:
        """The master this agent registers with; set it while stopped to point ``start()`` elsewhere."""
        return self._master

    @master.setter
    def master(self, master: MasterLink) -> None:
        self._master = master

    # --- AgentLink (called by the master; never block) ------------------------------------------

    def run_task(self, framework_id: str, framework_info: Json, task: Json) -> None:
        self._post("run_task", framework_id, framework_info, task)

    def kill_task(self, framework_id: str, task_id: str, kill_policy: Json | None) -> None:
        self._post("kill_task", framework_id, task_id, kill_policy)

    def acknowledge(self, framework_id: str, task_id: str, uuid: str) -> None:
        self._post("acknowledge", framework_id, task_id, uuid)

    def checkpoint_resources(self, total: list[Json]) -> None:
        self._post("checkpoint_resources", [dict(r) for r in total])

    def shutdown_framework(self, framework_id: str) -> None:
        self._post("shutdown_framework", framework_id)

    def reregister(self, master: MasterLink) -> None:
        self._post("reregister", master)

    # --- lifecycle (called by cluster.py; blocking) ---------------------------------------------

    def start(self) -> None:
        """Recover from ``meta/``, register with the master, then deliver pending updates."""
        with self._life:
            if self.running:
                return
            self._inbox = queue.SimpleQueue()
            self._timers = []
            self._refused = False
            old_id = checkpoint.read_json(self._meta / "agent.json", {}).get("id")
            self._total = checkpoint.read_json(self._meta / "resources.json", self._initial)
            self._ensure_volumes()
            self._tasks = self._recover_tasks(old_id)
            agent_id = self._register(self._master, old_id)
            if agent_id is None:
                return
            if old_id is not None and agent_id != old_id:
                log.warning(
                    "agent %s: registered as %s instead of %s; dropping old tasks",
                    self.name,
                    agent_id,
                    old_id,
                )
                self._purge_tasks()
            self.agent_id = agent_id
            checkpoint.write_json(self._meta / "agent.json", {"id": agent_id})
            executor.agent_dir(self.work_dir, agent_id)
            self._thread = threading.Thread(target=self._run, args=(self._inbox,), name=f"{self.name}-worker")
            self._thread.daemon = True
            self._thread.start()
            self._post("resend")

    def stop(self) -> None:
        """Host crash: SIGKILL every task, stop timers, tell the master; ``meta/`` is kept."""
        with self._life:
            thread = self._thread
            if thread is None:
                return
            self._inbox.put(("halt", ()))
            thread.join()
            self._thread = None
            self._join_helpers()
            agent_id, refused = self.agent_id, self._refused
        if agent_id is not None and not refused:
            self._call("agent_disconnected", agent_id)

    def reboot(self) -> None:
        """Host reboot: ``stop()``, forget the agent id and its tasks (keep resources and volumes), start."""
        self.stop()
        with self._life:
            checkpoint.remove(self._meta / "agent.json")
            shutil.rmtree(self._meta / "tasks", ignore_errors=True)
            self.agent_id = None
        self.start()

    def kill_task_processes(self, task_id: str) -> None:
        """Fault: SIGKILL the task's process group; its exit is reported as TASK_FAILED."""
        self._post("kill_processes", task_id)

    # --- plumbing -------------------------------------------------------------------------------

    @property
    def _meta(self) -> Path:
        return self.work_dir / "meta"

    def _task_file(self, key: TaskKey) -> Path:
        return self._meta / "tasks" / key[0] / f"{key[1]}.json"

    def _post(self, name: str, *args: Any) -> None:
        self._inbox.put((name, args))

    def _call(self, method: str, *args: Any) -> Any:
        try:
            return getattr(self._master, method)(*args)
        except Exception:
            log.exception("agent %s: error calling master.%s", self.name, method)
            return None

    def _schedule(self, delay: float, fn: Callable[[], None]) -> None:
        heapq.heappush(self._timers, (self._clock() + max(0.0, delay), next(self._seq), fn))

    def _spawn_helper(self, target: Callable[..., None], *args: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=f"{self.name}-{name}", daemon=True)
        self._helpers = [h for h in self._helpers if h.is_alive()]
        self._helpers.append(thread)
        thread.start()

    def _join_helpers(self) -> None:
        deadline = time.monotonic() + PROCESS_EXIT_WAIT
        for thread in self._helpers:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._helpers = [h for h in self._helpers if h.is_alive()]

    def _run(self, inbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]]) -> None:
        while True:
            message = self._next(inbox)
            if message is not None:
                name, args = message
                if name == "halt":
                    self._halt()
                    return
                try:
                    getattr(self, f"_on_{name}")(*args)
                except Halted:
                    return
                except Exception:
                    log.exception("agent %s: error handling %s", self.name, name)
            self._fire_timers()

    def _next(
        self, inbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]]
    ) -> tuple[str, tuple[Any, ...]] | None:
        timeout = None if not self._timers else max(0.0, self._timers[0][0] - self._clock())
        try:
            return inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def _fire_timers(self) -> None:
        while self._timers and self._timers[0][0] <= self._clock():
            _, _, fn = heapq.heappop(self._timers)
            try:
                fn()
            except Exception:
                log.exception("agent %s: error in timer", self.name)

    # --- registration and recovery --------------------------------------------------------------

    def _register(self, master: MasterLink, agent_id: str | None) -> str | None:
        try:
            return master.register_agent(self, agent_id, self._info())
        except Exception as exc:
            if not is_refusal(exc):
                raise
            log.error("agent %s: the master refused agent %s (%s); staying stopped", self.name, agent_id, exc)
            self._refused = True
            return None

    def _info(self) -> Json:
        tasks, frameworks = [], {}
        with self._state_lock:
            tracked = list(self._tasks.values())
        for t in tracked:
            head = t.updates[0] if t.updates else {}
            tasks.append(
                {
                    "framework_id": t.framework_id,
                    "task": t.task,
                    "state": t.state,
                    "status": t.latest,
                    "status_update_state": head.get("state"),
                    "status_update_uuid": head.get("uuid"),
                }
            )
            frameworks[t.framework_id] = t.framework_info
        return {
            "hostname": self.hostname,
            "port": self.port,
            "resources": self.total,
            "attributes": [dict(a) for a in self._attributes],
            "tasks": tasks,
            "frameworks": list(frameworks.values()),
        }

    def _recover_tasks(self, agent_id: str | None) -> dict[TaskKey, AgentTask]:
        tasks: dict[TaskKey, AgentTask] = {}
        for path in sorted((self._meta / "tasks").glob("*/*.json")):
            try:
                t = AgentTask.from_json(checkpoint.read_json(path))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("agent %s: ignoring unreadable task checkpoint %s: %s", self.name, path, exc)
                continue
            tasks[t.key] = t
            if t.state in TERMINAL_STATES:
                continue
            executor.kill_leftover(t.pid, t.start_ticks)
            status = self._status_for(t, agent_id, "TASK_FAILED", source="SOURCE_AGENT")
            status.update(reason=EXECUTOR_TERMINATED, message="Abnormal executor termination")
            t.updates.append(status)
            t.state, t.latest = "TASK_FAILED", status
            checkpoint.write_json(path, t.to_json())
        return tasks

    def _purge_tasks(self) -> None:
        with self._state_lock:
            self._tasks = {}
        shutil.rmtree(self._meta / "tasks", ignore_errors=True)

    def _ensure_volumes(self) -> None:
        for volume in volumes.volumes_of(self.work_dir, self._total):
            volumes.ensure_volume(volume)

    def _halt(self) -> None:
        """Kill every task process group (and health check), wait for them, drop in-memory state."""
        tasks = list(self._tasks.values())
        for t in tasks:
            t.kill_token += 1
            self._stop_probes(t)
            if not t.exited:
                executor.signal_session(t.pid, signal.SIGKILL)
        for t in tasks:
            proc = t.proc
            if proc is not None:
                try:
                    proc.wait(timeout=PROCESS_EXIT_WAIT)
                except subprocess.TimeoutExpired:
                    log.error("agent %s: task %s survived SIGKILL", self.name, t.task_id)
        self._timers = []
        with self._state_lock:
            self._tasks = {}
        self._shutting_down.clear()
