"""One localmesos cluster: a master, N agents, the HTTP server and (optionally) the ZooKeeper contender.

Why this module exists: tests, the CLI and the single-machine mode all need the same wiring and the same
fault injection (stop/start/reboot an agent, mark it gone, restart the master, kill a task's processes),
and they must all stop everything they started. The parts themselves know nothing of each other's
lifecycle; this module owns it.

Wiring order matters: the HTTP server binds first (port 0 picks a free port) so that the master's
``MasterInfo`` carries the real port; the master starts before the agents register with it; the ZooKeeper
znode is created last, once the master can answer. Stopping goes in reverse: the znode first (detectors see
"no master"), then the agents (their task processes are killed: nothing is left behind), then the master
(closing every event stream), then the server. A master restart keeps the server, its port, the work
directory and the registry, and builds a new ``Master``; running agents re-register with it and frameworks
re-subscribe by themselves.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localmesos.agent_spec import agent_hostname, agent_resources_of, check_port_ceiling, parse_attributes
from localmesos.server import LocalMesosServer
from localmesos.server_protocol import FaultError
from localmesos.taskstates import TERMINAL_STATES
from localmesos.zk import MasterContender, parse_zk_url

log = logging.getLogger("localmesos.cluster")

DEFAULT_AGENT_RESOURCES = "cpus:4;mem:4096;disk:20000;ports:[31000-31999]"
AGENT_BASE_PORT = 5051


class ClusterError(Exception):
    """A fault or lookup the cluster cannot carry out; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# --- the cluster ----------------------------------------------------------------------------------


class Cluster:
    """One master + ``agents`` agents (real or simulated) + HTTP server (+ ZooKeeper contender)."""

    def __init__(
        self,
        work_dir: Path | str,
        agents: int = 3,
        port: int = 0,
        zk: str | None = None,
        credentials: dict[str, str] | None = None,
        agent_resources: str = DEFAULT_AGENT_RESOURCES,
        agent_attributes: str | None = None,
        allocation_interval: float = 1.0,
        simulate: bool = False,
        agent_unreachable_timeout: float = 75.0,
        status_update_retry: float = 10.0,
        heartbeat_interval: float = 15.0,
        distinct_hosts: bool = False,
    ) -> None:
        if agents < 0:
            raise ValueError("agents must be >= 0")
        if distinct_hosts and agents > 254:
            raise ValueError("distinct_hosts: at most 254 agents (127.0.0.1 to 127.0.0.254)")
        self.work_dir = Path(work_dir)
        self.agent_count = agents
        self.port = port
        self.zk = parse_zk_url(zk) if zk else None
        self.credentials = dict(credentials) if credentials else None
        self.agent_resources_spec = agent_resources
        self.agent_attributes = parse_attributes(agent_attributes)
        self.allocation_interval = allocation_interval
        self.simulate = simulate
        self.agent_unreachable_timeout = agent_unreachable_timeout
        self.status_update_retry = status_update_retry
        self.heartbeat_interval = heartbeat_interval
        self.distinct_hosts = distinct_hosts
        # validate the spec now, so that a bad --agent-resources fails before anything starts
        agent_resources_of(agent_resources, 0)
        if not simulate and agents > 0:
            check_port_ceiling(agent_resources_of(agent_resources, agents - 1), agents)
        self.master: Any = None
        self.server: LocalMesosServer | None = None
        self.contender: MasterContender | None = None
        self.agents: list[Any] = []
        self._down: set[str] = set()
        self._lock = threading.RLock()
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def master_url(self) -> str:
        """'127.0.0.1:PORT' of the master (valid after start())."""
        if self.server is None:
            raise RuntimeError("cluster not started")
        return self.server.address

    def start(self) -> Cluster:
        with self._lock:
            if self._started:
                return self
            self._started = True
            try:
                self._start()
            except BaseException:
                self.stop()
                raise
            return self

    def _start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.server = LocalMesosServer(None, port=self.port, credentials=self.credentials, faults=self.fault)
        self.port = self.server.port
        self.master = self._new_master()
        self.master.start()
        self.server.master = self.master
        self.server.start()
        for index in range(self.agent_count):
            agent = self._new_agent(index)
            self.agents.append(agent)
            agent.start()
        if self.zk is not None:
            self.contender = MasterContender(self.zk, self.master.info)
            self.contender.start()
        log.info("localmesos cluster up: master %s, %d agents", self.master_url, len(self.agents))

    def stop(self) -> None:
        """Stop everything that was started (znode, agents and their tasks, master, server). Idempotent."""
        with self._lock:
            self._started = False
            contender, self.contender = self.contender, None
            _quietly("stop the ZooKeeper contender", contender.stop if contender else None)
            for agent in reversed(self.agents):
                if agent.name not in self._down:
                    _quietly(f"stop {agent.name}", agent.stop)
            self.agents = []
            self._down.clear()
            master, self.master = self.master, None
            _quietly("stop the master", master.stop if master else None)
            server = self.server
            if server is not None:
                server.master = None
                _quietly("stop the HTTP server", server.stop)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- construction ----------------------------------------------------------------------------
    def _new_master(self) -> Any:
        from localmesos.master import Master, MasterConfig

        config = MasterConfig(
            work_dir=self.work_dir / "master",
            hostname="127.0.0.1",
            port=self.port,
            allocation_interval=self.allocation_interval,
            heartbeat_interval=self.heartbeat_interval,
            agent_unreachable_timeout=self.agent_unreachable_timeout,
            credentials=self.credentials,
        )
        config.work_dir.mkdir(parents=True, exist_ok=True)
        return Master(config)

    def _new_agent(self, index: int) -> Any:
        name = f"agent-{index}"
        kwargs: dict[str, Any] = {
            "name": name,
            "work_dir": self.work_dir / "agents" / name,
            "resources": agent_resources_of(self.agent_resources_spec, index),
            "attributes": [dict(a) for a in self.agent_attributes],
            "master": self.master,
            "hostname": agent_hostname(index, self.distinct_hosts),
            "port": AGENT_BASE_PORT + index,
            "status_update_retry": self.status_update_retry,
        }
        if self.simulate:
            from localmesos.simagent import SimAgent

            return SimAgent(**kwargs)
        from localmesos.agent import Agent

        return Agent(**kwargs)

    # -- lookups ---------------------------------------------------------------------------------
    def agent(self, name_or_id: str) -> Any:
        """The agent named ``agent-N`` or with that agent id; ClusterError(404) if none."""
        for agent in self.agents:
            if name_or_id in (agent.name, getattr(agent, "agent_id", None)):
                return agent
        raise ClusterError(404, f"unknown agent {name_or_id!r} (use a name like agent-0 or an agent id)")

    def _resolve(self, agent: Any) -> Any:
        return self.agent(agent) if isinstance(agent, str) else agent

    # -- faults ----------------------------------------------------------------------------------
    def stop_agent(self, agent: Any) -> None:
        """Host crash: kill the agent's task processes, the master sees it disconnect."""
        with self._lock:
            target = self._resolve(agent)
            if target.name not in self._down:
                target.stop()
                self._down.add(target.name)

    def start_agent(self, agent: Any) -> None:
        """Bring a stopped agent back (same work dir: same id, checkpointed resources and tasks)."""
        with self._lock:
            target = self._resolve(agent)
            if target.name in self._down:
                target.start()
                self._down.discard(target.name)

    def reboot_agent(self, agent: Any) -> None:
        """Host reboot: processes die, the agent comes back with a new id, keeping reservations/volumes."""
        with self._lock:
            target = self._resolve(agent)
            if target.name in self._down:
                target.start()
                self._down.discard(target.name)
            target.reboot()

    def mark_gone(self, agent: Any) -> None:
        """Operator 'mark gone' (MARK_AGENT_GONE): the agent is refused forever."""
        with self._lock:
            agent_id = self._agent_id(agent)
            try:
                self.master.mark_agent_gone(agent_id)
            except KeyError:
                raise ClusterError(404, f"unknown agent {agent_id!r}") from None

    def _agent_id(self, agent: Any) -> str:
        if isinstance(agent, str):
            try:
                found = self.agent(agent)
            except ClusterError:
                return agent  # an id the master may know (e.g. an agent that was rebooted)
        else:
            found = agent
        agent_id = getattr(found, "agent_id", None)
        if not agent_id:
            raise ClusterError(404, f"agent {found.name} has no agent id (not registered)")
        return str(agent_id)

    def kill_task(self, task_id: str) -> None:
        """SIGKILL the process group of a running task (the agent then reports TASK_FAILED)."""
        with self._lock:
            agent = self._agent_running(task_id)
            agent.kill_task_processes(task_id)

    def _agent_running(self, task_id: str) -> Any:
        for agent in self.agents:
            states = agent.task_states()
            if any(tid == task_id and state not in TERMINAL_STATES for (_, tid), state in states.items()):
                return agent
        raise ClusterError(404, f"unknown task {task_id!r} (no agent runs a live task with that id)")

    def restart_master(self) -> None:
        """Master failover in place: new Master, same port, work dir and registry; agents re-register."""
        with self._lock:
            old = self.master
            assert self.server is not None
            self.server.master = None
            old.stop()
            self.master = self._new_master()
            self.master.start()
            self.server.master = self.master
            for agent in self.agents:
                if agent.name in self._down or not agent.running:
                    # A stopped agent registers with its master on start(); there is no public setter
                    # for it (see the report), so point it at the new master directly.
                    agent._master = self.master
                else:
                    agent.reregister(self.master)
            if self.contender is not None:
                self.contender.update(self.master.info)
            log.info("master restarted on %s (new id %s)", self.master_url, self.master.info.get("id"))

    # -- the fault endpoint ----------------------------------------------------------------------
    def fault(self, request: dict[str, Any]) -> dict[str, Any]:
        """Handle ``POST /localmesos/v1/faults`` bodies ({"action": ..., ...}); raise FaultError."""
        action = request.get("action")
        handler = self._fault_handlers().get(str(action))
        if handler is None:
            known = ", ".join(sorted(self._fault_handlers()))
            raise FaultError(400, f"unknown fault action {action!r}; known actions: {known}")
        try:
            handler(request)
        except ClusterError as exc:
            raise FaultError(exc.status, exc.message) from None
        return {"ok": True, "action": action}

    def _fault_handlers(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        return {
            "kill-task": lambda r: self.kill_task(_field(r, "task_id", "kill-task")),
            "stop-agent": lambda r: self.stop_agent(_field(r, "agent", "stop-agent")),
            "start-agent": lambda r: self.start_agent(_field(r, "agent", "start-agent")),
            "reboot-agent": lambda r: self.reboot_agent(_field(r, "agent", "reboot-agent")),
            "mark-gone": lambda r: self.mark_gone(_field(r, "agent", "mark-gone")),
            "restart-master": lambda r: self.restart_master(),
        }



def _field(request: dict[str, Any], name: str, action: str) -> str:
    value = request.get(name)
    if not isinstance(value, str) or not value:
        raise ClusterError(
            400,
            f'fault {action!r} needs a string field {name!r}, e.g. {{"action": "{action}", "{name}": "..."}}',
        )
    return value


def _quietly(what: str, fn: Callable[[], None] | None) -> None:
    if fn is None:
        return
    try:
        fn()
    except Exception:
        log.exception("could not %s", what)
