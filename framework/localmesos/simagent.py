"""A simulated agent: the ``Agent`` interface without processes, for 10,000-agent benchmarks.

Why this module exists: scale tests need thousands of agents registering, taking tasks and failing, which
real processes and a thread per agent cannot give on one machine. A ``SimAgent`` answers like an agent
running command tasks that start at once and run until killed: run_task -> TASK_STARTING, TASK_RUNNING;
kill -> TASK_KILLED; a host crash (``stop``) makes its live tasks TASK_FAILED (REASON_EXECUTOR_TERMINATED)
on the next ``start``. Trade-offs, for memory and CPU: one shared worker thread and queue serve every
SimAgent; updates are sent once (not retried; acknowledgements are accepted and ignored); nothing is
written to disk (the agent id and resources survive ``stop``/``start`` in memory only).

Like ``Agent``, the lifecycle methods block (they run on the shared worker) and must not be called while
holding the master lock.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localmesos.agent_protocol import EXECUTOR_TERMINATED, Json, MasterLink, TaskKey, is_refusal, make_status

log = logging.getLogger(__name__)

_KILLED_MESSAGE = "Command terminated with signal Terminated"
_CRASHED_MESSAGE = "Command terminated with signal Killed"


class _SharedWorker:
    """One daemon thread draining one queue of calls for all SimAgents (started on first use)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def post(self, fn: Callable[..., None], *args: Any) -> None:
        if self._thread is None:
            self._start()
        self._queue.put((fn, args))

    def call(self, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` on the worker and wait for it (re-raising its exception)."""
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                fn(*args)
            except BaseException as exc:  # handed back to the caller
                failure.append(exc)
            finally:
                done.set()

        self.post(run)
        done.wait()
        if failure:
            raise failure[0]

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="simagents", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            fn, args = self._queue.get()
            try:
                fn(*args)
            except Exception:
                log.exception("simagent: error in %s", getattr(fn, "__name__", fn))


_WORKER = _SharedWorker()


class SimAgent:
    """A simulated agent with the same constructor, ``AgentLink`` methods and lifecycle as ``Agent``."""

    __slots__ = (
        "name",
        "hostname",
        "port",
        "agent_id",
        "_master",
        "_total",
        "_attributes",
        "_tasks",
        "_crashed",
        "_running",
        "_refused",
    )

    def __init__(
        self,
        name: str,
        work_dir: Path | None,
        resources: list[Json],
        attributes: list[Json],
        master: MasterLink,
        hostname: str = "127.0.0.1",
        port: int = 5051,
        status_update_retry: float = 10.0,
        executor_shutdown_grace: float = 5.0,
        **_ignored: Any,
    ) -> None:
        self.name = name
        self.hostname = hostname
        self.port = port
        self.agent_id: str | None = None
        self._master = master
        self._total = resources
        self._attributes = attributes
        self._tasks: dict[TaskKey, tuple[Json, Json, str]] | None = None  # key -> (task, framework, state)
        self._crashed = False
        self._running = False
        self._refused = False

    # --- views ----------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    @property
    def refused(self) -> bool:
        return self._refused

    @property
    def total(self) -> list[Json]:
        return [dict(r) for r in self._total]

    def task_states(self) -> dict[TaskKey, str]:
        return {key: entry[2] for key, entry in dict(self._tasks or {}).items()}

    @property
    def master(self) -> MasterLink:
        return self._master

    @master.setter
    def master(self, master: MasterLink) -> None:
        self._master = master

    # --- AgentLink ------------------------------------------------------------------------------

    def run_task(self, framework_id: str, framework_info: Json, task: Json) -> None:
        _WORKER.post(self._run_task, framework_id, framework_info, task)

    def kill_task(self, framework_id: str, task_id: str, kill_policy: Json | None) -> None:
        _WORKER.post(self._end_task, (framework_id, task_id), "TASK_KILLED", _KILLED_MESSAGE)

    def acknowledge(self, framework_id: str, task_id: str, uuid: str) -> None:
        """Accepted and ignored: a SimAgent sends each update once."""

    def checkpoint_resources(self, total: list[Json]) -> None:
        _WORKER.post(self._set_total, [dict(r) for r in total])

    def shutdown_framework(self, framework_id: str) -> None:
        _WORKER.post(self._shutdown_framework, framework_id)

    def reregister(self, master: MasterLink) -> None:
        _WORKER.post(self._reregister, master)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        _WORKER.call(self._start)

    def stop(self) -> None:
        _WORKER.call(self._stop)

    def reboot(self) -> None:
        _WORKER.call(self._stop)
        _WORKER.call(self._forget)
        _WORKER.call(self._start)

    def kill_task_processes(self, task_id: str) -> None:
        _WORKER.post(self._kill_processes, task_id)

    # --- worker-side handlers -------------------------------------------------------------------

    def _start(self) -> None:
        if self._running:
            return
        failed = self._fail_crashed_tasks()
        self._refused = False
        try:
            agent_id = self._master.register_agent(self, self.agent_id, self._info())
        except Exception as exc:
            if not is_refusal(exc):
                raise
            log.error("simagent %s: refused by the master (%s); staying stopped", self.name, exc)
            self._refused = True
            return
        if self.agent_id is not None and agent_id != self.agent_id:
            self._tasks, failed = None, []
        self.agent_id = agent_id
        self._running = True
        for key, status in failed:
            self._send(key[0], status)
            self._drop(key)

    def _stop(self) -> None:
        if not self._running:
            return
        self._running = False
        self._crashed = bool(self._tasks)
        if self.agent_id is not None:
            self._call("agent_disconnected", self.agent_id)

    def _forget(self) -> None:
        self.agent_id = None
        self._tasks = None
        self._crashed = False

    def _fail_crashed_tasks(self) -> list[tuple[TaskKey, Json]]:
        if not self._crashed or not self._tasks:
            return []
        self._crashed = False
        failed = []
        for key, (task, framework, _) in list(self._tasks.items()):
            self._tasks[key] = (task, framework, "TASK_FAILED")
            status = self._status(
                key[1], "TASK_FAILED", source="SOURCE_AGENT", message="Abnormal executor termination"
            )
            status["reason"] = EXECUTOR_TERMINATED
            failed.append((key, status))
        return failed

    def _info(self) -> Json:
        tasks = self._tasks or {}
        frameworks = {key[0]: framework for key, (_, framework, _) in tasks.items()}
        return {
            "hostname": self.hostname,
            "port": self.port,
            "resources": self.total,
            "attributes": list(self._attributes),
            "tasks": [{"framework_id": k[0], "task": t, "state": s} for k, (t, _, s) in tasks.items()],
            "frameworks": list(frameworks.values()),
        }

    def _reregister(self, master: MasterLink) -> None:
        self._master = master
        if not self._running:
            return
        try:
            self.agent_id = master.register_agent(self, self.agent_id, self._info())
        except Exception as exc:
            if not is_refusal(exc):
                raise
            log.error("simagent %s: refused by the master (%s); stopping", self.name, exc)
            self._running, self._refused, self._tasks = False, True, None

    def _run_task(self, framework_id: str, framework_info: Json, task: Json) -> None:
        if not self._running:
            return
        task_id = str(task["task_id"]["value"])
        if self._tasks is None:
            self._tasks = {}
        info = dict(framework_info)
        info.setdefault("id", {"value": framework_id})
        self._tasks[(framework_id, task_id)] = (task, info, "TASK_RUNNING")
        self._send(framework_id, self._status(task_id, "TASK_STARTING"))
        self._send(framework_id, self._status(task_id, "TASK_RUNNING"))

    def _end_task(self, key: TaskKey, state: str, message: str) -> None:
        if not self._running or not self._tasks or key not in self._tasks:
            return
        self._drop(key)
        self._send(key[0], self._status(key[1], state, message=message))

    def _shutdown_framework(self, framework_id: str) -> None:
        for key in [k for k in self._tasks or {} if k[0] == framework_id]:
            self._end_task(key, "TASK_KILLED", _KILLED_MESSAGE)

    def _kill_processes(self, task_id: str) -> None:
        for key in [k for k in self._tasks or {} if k[1] == task_id]:
            self._end_task(key, "TASK_FAILED", _CRASHED_MESSAGE)

    def _set_total(self, total: list[Json]) -> None:
        self._total = total

    def _drop(self, key: TaskKey) -> None:
        if self._tasks is not None:
            self._tasks.pop(key, None)
            if not self._tasks:
                self._tasks = None

    def _status(self, task_id: str, state: str, **fields: Any) -> Json:
        return make_status(task_id, state, self.agent_id, task_id, time.time(), **fields)

    def _send(self, framework_id: str, status: Json) -> None:
        self._call("status_update", self.agent_id, framework_id, status)

    def _call(self, method: str, *args: Any) -> None:
        try:
            getattr(self._master, method)(*args)
        except Exception:
            log.exception("simagent %s: error calling master.%s", self.name, method)
