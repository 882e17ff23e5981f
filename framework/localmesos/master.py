"""The localmesos master: one object holding frameworks, agents, offers and tasks, answering the v1
scheduler calls and the agents' messages the way a Mesos 1.11 master does.

Why this module exists: mesopress must be tested against something that behaves like Mesos, strictly. The
master is where Mesos' observable behaviour lives (status codes, event order, offers and filters, ACCEPT
semantics, failover, agent loss). This file holds the public entry points, the lock and the timers; the
behaviour is split by topic into mixins:

- ``master_frameworks``: SUBSCRIBE, failover, TEARDOWN, REVIVE/SUPPRESS, UPDATE_FRAMEWORK
- ``master_offers``: allocation rounds (via the pure ``allocator``), offers, RESCIND, DECLINE
- ``master_accept``: ACCEPT, in Mesos' order
- ``master_tasks``: status updates, KILL, ACKNOWLEDGE, RECONCILE and the other per-task calls
- ``master_agents``: agent (re-)registration, disconnection, unreachable, gone; the registry file
- ``master_state``: the /state document

Threading (docs/localmesos.md): one ``RLock`` guards everything; HTTP threads, agent threads and the timer
thread all take it. Time comes from the injected ``clock``/``wallclock`` so tests drive it with ``tick()``.
"""

from __future__ import annotations

import collections
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localmesos import ids
from localmesos.allocator import Filters
from localmesos.master_accept import AcceptMixin
from localmesos.master_agents import AgentsMixin
from localmesos.master_frameworks import FrameworksMixin
from localmesos.master_model import (
    COMPLETED_FRAMEWORKS_KEPT,
    AgentRec,
    AgentRefused,
    CallError,
    FrameworkRec,
    OfferRec,
    Subscription,
    value,
)
from localmesos.master_offers import OffersMixin
from localmesos.master_registry import Registry
from localmesos.master_state import StateMixin
from localmesos.master_tasks import TasksMixin
from localmesos.resources import Resources

__all__ = ["AgentRefused", "CallError", "Master", "MasterConfig", "Subscription"]

log = logging.getLogger("localmesos.master")

TICK_INTERVAL = 0.1

# call type -> handler method; each returns the HTTP status of a success
_HANDLERS = {
    "TEARDOWN": "_call_teardown",
    "ACCEPT": "_call_accept",
    "DECLINE": "_call_decline",
    "ACCEPT_INVERSE_OFFERS": "_call_ignored",
    "DECLINE_INVERSE_OFFERS": "_call_ignored",
    "REVIVE": "_call_revive",
    "SUPPRESS": "_call_suppress",
    "KILL": "_call_kill",
    "SHUTDOWN": "_call_shutdown",
    "ACKNOWLEDGE": "_call_acknowledge",
    "ACKNOWLEDGE_OPERATION_STATUS": "_call_acknowledge_operation_status",
    "RECONCILE": "_call_reconcile",
    "RECONCILE_OPERATIONS": "_call_reconcile_operations",
    "MESSAGE": "_call_message",
    "REQUEST": "_call_ignored",
    "UPDATE_FRAMEWORK": "_call_update_framework",
}


@dataclass
class MasterConfig:
    work_dir: Path  # registry.json lives here
    hostname: str = "127.0.0.1"
    port: int = 5050
    allocation_interval: float = 1.0
    heartbeat_interval: float = 15.0
    agent_unreachable_timeout: float = 75.0  # disconnected agent -> unreachable (facts §3.9)
    agent_reregister_timeout: float = 600.0  # after a master restart, agents that did not come back
    offer_timeout: float | None = None
    credentials: dict[str, str] | None = None  # principal -> secret; None = no authentication
    version: str = "1.11.0"


def master_info(master_id: str, hostname: str, port: int, version: str) -> dict[str, Any]:
    """MasterInfo JSON; ``ip`` is the IPv4 as a uint32 in network byte order read natively (facts §4.1)."""
    address = hostname if _is_ipv4(hostname) else "127.0.0.1"
    packed = socket.inet_aton(address)
    return {
        "id": master_id,
        "ip": struct.unpack("=I", packed)[0],
        "port": port,
        "pid": f"master@{address}:{port}",
        "hostname": hostname,
        "version": version,
        "address": {"hostname": hostname, "ip": address, "port": port},
        "capabilities": [{"type": "AGENT_UPDATE"}, {"type": "AGENT_DRAINING"}, {"type": "QUOTA_V2"}],
    }


def _is_ipv4(text: str) -> bool:
    try:
        socket.inet_aton(text)
    except OSError:
        return False
    return text.count(".") == 3


class Master(FrameworksMixin, OffersMixin, AcceptMixin, TasksMixin, AgentsMixin, StateMixin):
    """A Mesos-compatible master (see docs/localmesos.md for the interface)."""

    def __init__(
        self,
        config: MasterConfig,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        self.wallclock = wallclock
        self.lock = threading.RLock()
        self.master_id = ids.new_master_id()
        self.info = master_info(self.master_id, config.hostname, config.port, config.version)
        self.start_time = wallclock()
        self.frameworks: dict[str, FrameworkRec] = {}
        self.completed_frameworks: collections.deque[FrameworkRec] = collections.deque(
            maxlen=COMPLETED_FRAMEWORKS_KEPT
        )
        self.completed_ids: set[str] = set()
        self.agents: dict[str, AgentRec] = {}
        self.offers: dict[str, OfferRec] = {}
        self.filters = Filters()
        self.framework_counter = 0
        self.offer_counter = 0
        self.free_candidates: dict[str, None] = {}  # agents that may have free resources (ordered)
        self.free_cache: dict[str, Resources] = {}
        self.disconnected: dict[str, float] = {}  # agent id -> clock() when it disconnected
        self.totals_cache: dict[str, float] | None = None
        self.registry = Registry(Path(config.work_dir) / "registry.json")
        self.registry.load()
        self.recovering: set[str] = set(self.registry.admitted)
        self.recovery_deadline = clock() + config.agent_reregister_timeout
        self.next_allocation = clock() + config.allocation_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        log.info(
            "Master %s started (%d agents expected to re-register)", self.master_id, len(self.recovering)
        )

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the timer thread (allocation rounds, heartbeats, timeouts)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="localmesos-master-timer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(TICK_INTERVAL):
            self.tick()

    def stop(self) -> None:
        """Stop the timer thread and close every subscription (agents are left alone)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        with self.lock:
            self._guarded(lambda _now: self.registry.flush(), 0.0)
            for fw in self.frameworks.values():
                if fw.subscription is not None:
                    fw.subscription.close()

    def tick(self) -> None:
        """One pass of the timer work: timeouts, the allocation round when due, heartbeats."""
        with self.lock:
            now = self.clock()
            for step in (self._expire_offers, self._check_failovers, self._check_agents, self._heartbeats):
                self._guarded(step, now)
            self._guarded(lambda _now: self.registry.flush(), now)
            if now >= self.next_allocation:
                self.next_allocation = now + self.config.allocation_interval
                self.filters.expire(now)
                self._guarded(lambda _now: self._allocate_round(), now)

    @staticmethod
    def _guarded(step: Callable[[float], None], now: float) -> None:
        try:
            step(now)
        except Exception:
            log.exception("Master timer step %s failed", getattr(step, "__name__", step))

    # -- scheduler calls -------------------------------------------------------------------------
    def call(
        self, call: dict[str, Any], stream_id: str | None, principal: str | None
    ) -> tuple[int, dict[str, Any] | None]:
        """Handle a non-SUBSCRIBE call; returns (status, body). Refusals raise CallError (facts §1.3)."""
        with self.lock:
            call_type = call.get("type")
            if call_type == "SUBSCRIBE":
                raise CallError(400, "SUBSCRIBE must be sent through Master.subscribe")
            handler = _HANDLERS.get(call_type or "")
            if handler is None:
                raise CallError(501, f"Received an unexpected call type: {call_type}")
            fw = self._check_caller(call, stream_id, principal)
            try:
                status = getattr(self, handler)(fw, call)
            except CallError:
                raise
            except Exception:
                log.exception("Failed to process %s call of framework %s", call_type, fw.framework_id)
                status = 202
            return status, None

    def _check_caller(
        self, call: dict[str, Any], stream_id: str | None, principal: str | None
    ) -> FrameworkRec:
        framework_id = value(call.get("framework_id"))
        if framework_id is None:
            raise CallError(400, "Expecting 'framework_id' to be present")
        fw = self.frameworks.get(framework_id)
        if fw is None:
            raise CallError(400, "Framework cannot be found")
        if principal is not None and principal != fw.principal:
            raise CallError(
                400,
                f"Authenticated principal '{principal}' does not match principal '{fw.principal}' "
                "used by the framework",
            )
        if not fw.connected or fw.subscription is None:
            raise CallError(403, "Framework is not subscribed")
        if stream_id is None:
            raise CallError(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
        if stream_id != fw.subscription.stream_id:
            raise CallError(
                400,
                f"The stream ID '{stream_id}' included in this request didn't match the stream ID "
                f"currently associated with framework ID {framework_id}",
            )
        return fw
