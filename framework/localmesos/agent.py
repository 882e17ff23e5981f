"""A localmesos agent: runs command tasks as real processes, the way a Mesos 1.11 agent does.

Why this module exists: mesopress keeps its data in persistent volumes and must survive task death, agent
restarts and host reboots. Those paths can only be tested against an agent that really starts processes in
Mesos-like sandboxes, keeps volume data on disk, checkpoints its state and delivers status updates reliably
(facts §3.5, §3.7, §3.9). ``executor`` does the host mechanics, ``fetcher`` fills the sandbox from
``command.uris``, ``healthcheck`` makes the health decisions and ``checks`` runs ``TaskInfo.check``; this
module is the agent's bookkeeping:

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

import base64
import heapq
import itertools
import logging
import queue
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from localmesos import checkpoint, checks, executor, fetcher, healthcheck
from localmesos.taskstates import TERMINAL_STATES

log = logging.getLogger(__name__)

Json = dict[str, Any]
TaskKey = tuple[str, str]

DEFAULT_KILL_GRACE = 3.0  # the command executor's default KillPolicy grace period
MAX_UPDATE_RETRY = 600.0  # status update retries back off up to 10 minutes (facts §0)
HEALTH_REASON = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
CHECK_REASON = "REASON_TASK_CHECK_STATUS_UPDATED"
LAUNCH_FAILED = "REASON_CONTAINER_LAUNCH_FAILED"
KILLED_DURING_LAUNCH = "REASON_TASK_KILLED_DURING_LAUNCH"
EXECUTOR_TERMINATED = "REASON_EXECUTOR_TERMINATED"
PROCESS_EXIT_WAIT = 10.0


class MasterLink(Protocol):
    """What an agent calls on the master (implemented by master.Master)."""

    def register_agent(self, agent: Any, agent_id: str | None, info: Json) -> str: ...
    def status_update(self, agent_id: str, framework_id: str, status: Json) -> None: ...
    def agent_disconnected(self, agent_id: str) -> None: ...


def is_refusal(exc: BaseException) -> bool:
    """True for the master's ``AgentRefused`` (matched by name so the agent does not import master.py)."""
    return type(exc).__name__ == "AgentRefused"


def new_uuid() -> str:
    """A status update uuid: 16 random bytes, standard base64 (as on the wire)."""
    return base64.b64encode(uuid.uuid4().bytes).decode("ascii")


def make_status(
    task_id: str, state: str, agent_id: str | None, executor_id: str, timestamp: float, **fields: Any
) -> Json:
    """A TaskStatus JSON with a fresh uuid; ``fields`` with a None value are left out."""
    status: Json = {
        "task_id": {"value": task_id},
        "state": state,
        "source": fields.pop("source", "SOURCE_EXECUTOR"),
        "executor_id": {"value": executor_id},
        "timestamp": timestamp,
        "uuid": new_uuid(),
    }
    if agent_id is not None:
        status["agent_id"] = {"value": agent_id}
    status.update({k: v for k, v in fields.items() if v is not None})
    return status


def has_capability(framework_info: Json, capability: str) -> bool:
    """Whether FrameworkInfo JSON lists ``capability`` (e.g. "PARTITION_AWARE")."""
    return any(c.get("type") == capability for c in framework_info.get("capabilities") or [])


def grace_seconds(kill_policy: Json | None) -> float | None:
    """``kill_policy.grace_period.nanoseconds`` in seconds, or None when not given."""
    nanos = ((kill_policy or {}).get("grace_period") or {}).get("nanoseconds")
    return None if nanos is None else max(0.0, int(nanos) / 1e9)


class _Halted(Exception):
    """Raised inside the worker to leave its loop (the agent was refused by the master)."""


@dataclass
class _Task:
    """One command task (its executor id is its task id) and its status update stream."""

    framework_id: str
    task: Json
    framework_info: Json
    container_id: str
    user: str | None
    state: str = "TASK_STAGING"
    sandbox: str | None = None
    pid: int | None = None
    start_ticks: int | None = None
    updates: deque[Json] = field(default_factory=deque)
    latest: Json | None = None  # the latest status generated (sent or not)
    # runtime only (not checkpointed)
    proc: subprocess.Popen[bytes] | None = None
    launch: executor.Launch | None = None
    exited: bool = True
    killing: bool = False
    kill_deadline: float = 0.0
    kill_token: int = 0
    unhealthy: bool = False
    retry_interval: float = 0.0
    retry_token: int = 0
    health: healthcheck.HealthTracker | None = None
    health_token: int = 0
    check_lock: threading.Lock = field(default_factory=threading.Lock)
    check_procs: set[subprocess.Popen[bytes]] = field(default_factory=set)  # health check and check probes
    host_user: executor.User | None = None
    fetching: bool = False  # the fetcher is filling the sandbox; the command has not started
    check: checks.CheckPolicy | None = None
    check_result: Json | None = None  # the latest CheckStatusInfo (starts empty)
    check_token: int = 0

    @property
    def task_id(self) -> str:
        return str(self.task["task_id"]["value"])

    @property
    def key(self) -> TaskKey:
        return (self.framework_id, self.task_id)

    def to_json(self) -> Json:
        return {
            "framework_id": self.framework_id,
            "task": self.task,
            "framework_info": self.framework_info,
            "container_id": self.container_id,
            "user": self.user,
            "state": self.state,
            "sandbox": self.sandbox,
            "pid": self.pid,
            "start_ticks": self.start_ticks,
            "updates": list(self.updates),
            "latest": self.latest,
        }

    @classmethod
    def from_json(cls, data: Json) -> _Task:
        fields_ = {k: data.get(k) for k in ("sandbox", "pid", "start_ticks", "latest")}
        return cls(
            framework_id=data["framework_id"],
            task=data["task"],
            framework_info=data["framework_info"],
            container_id=data["container_id"],
            user=data.get("user"),
            state=data["state"],
            updates=deque(data.get("updates") or []),
            **fields_,
        )


class Agent:
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
        self._tasks: dict[TaskKey, _Task] = {}
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
        volume = executor.volume_of(self.work_dir, resource)
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
                except _Halted:
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

    def _recover_tasks(self, agent_id: str | None) -> dict[TaskKey, _Task]:
        tasks: dict[TaskKey, _Task] = {}
        for path in sorted((self._meta / "tasks").glob("*/*.json")):
            try:
                t = _Task.from_json(checkpoint.read_json(path))
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
        for volume in executor.volumes_of(self.work_dir, self._total):
            executor.ensure_volume(volume)

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
            raise _Halted
        if agent_id != self.agent_id:
            log.warning("agent %s: re-registered as %s (was %s)", self.name, agent_id, self.agent_id)
            self.agent_id = agent_id
            checkpoint.write_json(self._meta / "agent.json", {"id": agent_id})
        self._on_resend()

    def _on_run_task(self, framework_id: str, framework_info: Json, task: Json) -> None:
        info = dict(framework_info)
        info.setdefault("id", {"value": framework_id})
        t = _Task(framework_id, task, info, str(uuid.uuid4()), executor.task_user(task, info))
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

    def _start_fetch(self, t: _Task, sandbox: Path, uris: list[Json]) -> None:
        """Run the fetcher on a helper thread, as the containerizer does before the executor starts: the
        framework hears nothing (no TASK_STARTING) until the fetch is done."""
        t.fetching = True
        self._save(t)
        args = (uris, sandbox, t.host_user, self._fetch_timeout, self._inbox, t.key, t.container_id)
        self._spawn_helper(_run_fetch, *args, name=f"fetch-{t.task_id}")

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

    def _launch(self, t: _Task, sandbox: Path, user: executor.User | None) -> None:
        command = t.task["command"]
        argv, program = executor.command_argv(command)
        endpoint = f"{self.hostname}:{self.port}"
        env = executor.task_env(
            sandbox, str(self.agent_id), t.framework_id, t.task_id, t.task_id, endpoint, command
        )
        t.launch = executor.Launch(argv=argv, executable=program, cwd=sandbox, env=env, user=user)
        try:
            executor.link_volumes(sandbox, self.work_dir, t.task.get("resources") or [], user)
            proc = executor.spawn(t.launch, sandbox / "stdout", sandbox / "stderr")
        except (OSError, subprocess.SubprocessError) as exc:
            self._enqueue(
                t, self._status(t, "TASK_FAILED", message=f"Failed to launch task subprocess: {exc}")
            )
            return
        t.proc, t.pid, t.exited = proc, proc.pid, False
        t.start_ticks = executor.start_ticks(proc.pid)
        self._spawn_helper(_wait_process, proc, self._inbox, t.key, t.container_id, name=f"wait-{t.task_id}")
        self._enqueue(t, self._status(t, "TASK_RUNNING"))
        self._start_health(t)
        self._start_checks(t)

    def _drop(self, t: _Task, message: str) -> None:
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

    def _kill_during_fetch(self, t: _Task) -> None:
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
        old_volumes = {v.path: v for v in executor.volumes_of(self.work_dir, old)}
        new_volumes = {v.path: v for v in executor.volumes_of(self.work_dir, total)}
        for path in new_volumes.keys() - old_volumes.keys():
            executor.ensure_volume(new_volumes[path])
        for path in old_volumes.keys() - new_volumes.keys():
            log.info("agent %s: deleting destroyed volume %s", self.name, path)
            executor.delete_volume(old_volumes[path])

    # --- status updates -------------------------------------------------------------------------

    def _status(self, t: _Task, state: str, **fields: Any) -> Json:
        return self._status_for(t, self.agent_id, state, **fields)

    def _status_for(self, t: _Task, agent_id: str | None, state: str, **fields: Any) -> Json:
        executor_source = fields.get("source", "SOURCE_EXECUTOR") == "SOURCE_EXECUTOR"
        if executor_source and t.pid is not None:
            fields["container_status"] = {"container_id": {"value": t.container_id}, "executor_pid": t.pid}
        kind = (t.task.get("check") or {}).get("type")
        if executor_source and kind in checks.KINDS:
            fields.setdefault("check_status", checks.empty_status(kind))
        return make_status(t.task_id, state, agent_id, t.task_id, self._wallclock(), **fields)

    def _enqueue(self, t: _Task, status: Json) -> None:
        t.updates.append(status)
        t.state, t.latest = status["state"], status
        self._save(t)
        if len(t.updates) == 1:
            self._send_head(t)

    def _send_head(self, t: _Task) -> None:
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

    def _send_once_and_forget(self, t: _Task, status: Json) -> None:
        t.state = status["state"]
        self._call("status_update", self.agent_id, t.framework_id, status)
        self._forget(t)
        self._finish_shutdown(t.framework_id)

    def _finish_shutdown(self, framework_id: str) -> None:
        if not any(t.framework_id == framework_id for t in self._tasks.values()):
            self._shutting_down.discard(framework_id)

    def _save(self, t: _Task) -> None:
        checkpoint.write_json(self._task_file(t.key), t.to_json())

    def _forget(self, t: _Task) -> None:
        t.retry_token += 1
        checkpoint.remove(self._task_file(t.key))
        with self._state_lock:
            self._tasks.pop(t.key, None)

    # --- killing --------------------------------------------------------------------------------

    def _kill(self, t: _Task, grace: float) -> None:
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

    def _arm_escalation(self, t: _Task, grace: float, deadline: float) -> None:
        t.kill_token += 1
        t.kill_deadline = deadline
        token, key = t.kill_token, t.key
        self._schedule(grace, lambda: self._escalate(key, token))

    def _escalate(self, key: TaskKey, token: int) -> None:
        t = self._tasks.get(key)
        if t is not None and t.kill_token == token and not t.exited:
            log.info("agent %s: grace period over, SIGKILL to task %s", self.name, t.task_id)
            executor.signal_session(t.pid, signal.SIGKILL)

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

    # --- health checks --------------------------------------------------------------------------

    def _start_health(self, t: _Task) -> None:
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

    def _schedule_check(self, t: _Task, delay: float) -> None:
        token, key = t.health_token, t.key
        self._schedule(delay, lambda: self._check_due(key, token))

    def _check_due(self, key: TaskKey, token: int) -> None:
        t = self._tasks.get(key)
        if t is None or t.health is None or t.health_token != token or t.exited or t.killing:
            return
        args = (t, t.health.policy, t.launch, self._inbox, token)
        self._spawn_helper(_run_health_check, *args, name=f"check-{t.task_id}")

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

    def _stop_probes(self, t: _Task) -> None:
        """Stop health checking and checking (Mesos pauses both on kill and exit); kill running probes."""
        with t.check_lock:
            t.health_token += 1
            t.check_token += 1
            procs = list(t.check_procs)
        for proc in procs:
            executor.signal_session(proc.pid, signal.SIGKILL)

    # --- checks (TaskInfo.check) ----------------------------------------------------------------

    def _start_checks(self, t: _Task) -> None:
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

    def _schedule_probe(self, t: _Task, delay: float) -> None:
        token, key = t.check_token, t.key
        self._schedule(delay, lambda: self._probe_due(key, token))

    def _probe_due(self, key: TaskKey, token: int) -> None:
        t = self._tasks.get(key)
        if t is None or t.check is None or t.check_token != token or t.exited or t.killing:
            return
        args = (t, t.check, t.launch, self._inbox, token)
        self._spawn_helper(_run_probe, *args, name=f"probe-{t.task_id}")

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


def _wait_process(
    proc: subprocess.Popen[bytes],
    inbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]],
    key: TaskKey,
    cid: str,
) -> None:
    """Waiter thread: reap the task process, kill what is left of its group, report the exit."""
    returncode = proc.wait()
    executor.signal_session(proc.pid, signal.SIGKILL)
    inbox.put(("exited", (key, cid, returncode)))


def _run_health_check(
    t: _Task,
    policy: healthcheck.HealthPolicy,
    launch: executor.Launch | None,
    inbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]],
    token: int,
) -> None:
    """Health check thread: run one probe (its process is registered with the task so that a kill or a
    halt can SIGKILL it) and post the result to the worker."""

    def register(proc: subprocess.Popen[bytes]) -> None:
        with t.check_lock:
            t.check_procs.add(proc)
            stale = t.health_token != token
        if stale:
            executor.signal_session(proc.pid, signal.SIGKILL)

    ok, message = healthcheck.run_check(policy, launch, register)
    with t.check_lock:
        t.check_procs = {p for p in t.check_procs if p.returncode is None}
    inbox.put(("health", (t.key, token, ok, message)))


def _run_fetch(
    uris: list[Json],
    sandbox: Path,
    user: executor.User | None,
    timeout: float,
    inbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]],
    key: TaskKey,
    cid: str,
) -> None:
    """Fetcher thread: fetch the URIs (its log goes to the sandbox's stderr, as mesos-fetcher's does) and
    post the outcome (None or the error naming the redacted URI) to the worker."""

    def note(line: str) -> None:
        with (sandbox / "stderr").open("a") as err:
            err.write(f"{line}\n")

    error: str | None = None
    try:
        fetcher.fetch_all(uris, sandbox, user, timeout, note)
    except fetcher.FetchError as exc:
        error = str(exc)
    except Exception as exc:  # an unexpected bug must still fail the launch, not hang the task
        log.exception("fetcher for task %s crashed", key[1])
        error = f"unexpected fetcher error: {type(exc).__name__}"
    inbox.put(("fetched", (key, cid, error)))


def _run_probe(
    t: _Task,
    policy: checks.CheckPolicy,
    launch: executor.Launch | None,
    inbox: queue.SimpleQueue[tuple[str, tuple[Any, ...]]],
    token: int,
) -> None:
    """Check thread: run one check probe (registered with the task so a kill or halt can SIGKILL it) and
    post its CheckStatusInfo to the worker."""

    def register(proc: subprocess.Popen[bytes]) -> None:
        with t.check_lock:
            t.check_procs.add(proc)
            stale = t.check_token != token
        if stale:
            executor.signal_session(proc.pid, signal.SIGKILL)

    result = checks.run_check(policy, launch, register)
    with t.check_lock:
        t.check_procs = {p for p in t.check_procs if p.returncode is None}
    inbox.put(("check", (t.key, token, result)))
