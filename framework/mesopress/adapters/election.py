"""Leader election among any number of scheduler processes, on kazoo's Lock recipe.

Why it exists: only one scheduler may subscribe to Mesos and write state; the others wait, serve the API
and know who leads. We use kazoo's Lock rather than its Election wrapper (`with lock: func()` on a thread
blocked for the whole term) because the fence needs our node's name and we release on our own terms. The
recipe gives us the ordering (ephemeral sequential `<uuid>__lock__<seq>` nodes
under <root>/leader/election, data = our "host:port"); this module adds what the recipe leaves to us:

- a fencing epoch: once our node is first in line we `claim()` through the persister, which bumps the
  epoch node's version; the resulting `Fence` goes with every write (see adapters.zkstore);
- session handling, as the recipe's docs advise: the connection listener only enqueues the new state
  (it runs on kazoo's connection thread and must never block); one worker thread handles everything in
  order and is the only caller of `on_elected(fence)` / `on_deposed(reason)`:
    SUSPENDED while leading -> on_deposed("suspended"): stop acting, the lead may come back;
    CONNECTED again, same session, our node and epoch intact -> on_elected(same fence);
    LOST (session expired) -> on_deposed("lost"): stop the driver with failover, never TEARDOWN;
      we then contend again automatically, on the client's new session;
    stop() while leading -> on_deposed("stopped").
  Both callbacks should only enqueue into the scheduler core's loop.

Ordering: a leader cut off from ZooKeeper notices within about 2/3 of the session timeout (kazoo's ping
deadline) and reports "suspended", while a successor can be elected only after the server expires the
session, i.e. after the full timeout. If a leader misses even that (a frozen process), its writes still
fail with Fenced.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import CancelledError, KazooException
from kazoo.protocol.states import KazooState

from mesopress.adapters.zkstore import ZkPersister
from mesopress.state.persister import Fence, StoreError

log = logging.getLogger(__name__)


@dataclass
class _Term:
    """One acquisition of the lock: it ends when we lose, leave, or fail to claim."""

    lock: Any
    ended: threading.Event = field(default_factory=threading.Event)


class Leadership:
    """Contend for leadership of one service; report elections and depositions through callbacks."""

    def __init__(
        self,
        client: KazooClient,
        persister: ZkPersister,
        identity: str,
        on_elected: Callable[[Fence], None],
        on_deposed: Callable[[str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.persister = persister
        self.identity = identity
        self._on_elected = on_elected
        self._on_deposed = on_deposed
        self._clock = clock
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stopping = threading.Event()
        self._term: _Term | None = None
        self._state = "standby"
        self.fence: Fence | None = None
        self._threads = [
            threading.Thread(target=self._contend_loop, name=f"contender {identity}", daemon=True),
            threading.Thread(target=self._work_loop, name=f"leadership {identity}", daemon=True),
        ]

    @property
    def is_leader(self) -> bool:
        return self._state == "leading"

    def start(self) -> None:
        """Begin contending; returns at once."""
        self.persister.ensure_root()
        self.client.add_listener(self._on_state)
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Leave the election (releasing the lead if we hold it) and wait up to `timeout` for our threads.

        With ZooKeeper unreachable a thread may still be waiting for it; stopping the client ends it.
        """
        self._stopping.set()
        self.client.remove_listener(self._on_state)
        self._events.put(("stop", None))
        term = self._term
        if term is not None:
            term.lock.cancel()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    def current_leader(self) -> str | None:
        """The identity of the leader that holds the current epoch, or None during an election."""
        try:
            info = json.loads(self.persister.leader_info() or b"{}")
            alive = self.persister.holder_alive(info["holder"])
            return str(info["leader"]) if alive else None
        except (StoreError, ValueError, KeyError, TypeError):
            return None

    def contenders(self) -> list[str]:
        """Identities of all contenders, the leader (or next leader) first."""
        lock = self.client.Lock(self.persister.election_path)
        return [str(c) for c in self.persister.call("listing contenders", lock.contenders)]

    def _on_state(self, state: str) -> None:
        self._events.put(("state", state))

    def _contend_loop(self) -> None:
        while not self._stopping.is_set():
            term = _Term(self.client.Lock(self.persister.election_path, self.identity))
            self._term = term
            if self._stopping.is_set():  # stop() may have cancelled the previous term only
                break
            try:
                acquired = term.lock.acquire()
            except CancelledError:
                break
            except Exception as err:  # keep contending whatever happens
                log.warning("error contending for leadership as %s: %r", self.identity, err)
                acquired = False
            if not acquired:
                self._stopping.wait(1.0)  # back off before contending again
                continue
            self._events.put(("acquired", term))
            term.ended.wait()
            self._release(term)

    def _release(self, term: _Term) -> None:
        try:
            term.lock.release()
        except KazooException as err:  # the node goes with the session anyway
            log.info("error releasing the election node of %s: %r", self.identity, err)

    def _work_loop(self) -> None:
        while True:
            kind, value = self._events.get()
            try:
                self._handle(kind, value)
            except Exception:  # the worker must outlive any callback or ZooKeeper error
                log.exception("error handling leadership event %s %s", kind, value)
            if kind == "stop":
                return

    def _handle(self, kind: str, value: Any) -> None:
        if kind == "stop":
            self._depose("stopped")
        elif kind == "acquired":
            self._claim(value)
        elif value == KazooState.SUSPENDED and self._state == "leading":
            self._state = "suspended"
            self._on_deposed("suspended")
        elif value == KazooState.CONNECTED and self._state == "suspended":
            self._resume()
        elif value == KazooState.LOST:
            self._depose("lost")

    def _claim(self, term: _Term) -> None:
        if self._stopping.is_set() or term is not self._term:
            term.ended.set()
            return
        holder = f"{self.persister.election_path}/{term.lock.node}"
        info = {"leader": self.identity, "holder": holder, "elected_at": self._clock()}
        try:
            self.fence = self.persister.claim(holder, json.dumps(info).encode())
        except StoreError as err:
            log.warning("error claiming leadership as %s: %s; contending again", self.identity, err)
            term.ended.set()
            return
        self._state = "leading"
        log.info("%s elected leader at epoch %s", self.identity, self.fence.epoch)
        self._on_elected(self.fence)

    def _resume(self) -> None:
        fence = self.fence
        if (
            fence is not None
            and self.persister.holder_alive(fence.holder)
            and self.persister.epoch() == fence.epoch
        ):
            self._state = "leading"
            self._on_elected(fence)
        else:
            self._depose("lost")

    def _depose(self, reason: str) -> None:
        was_leader = self._state != "standby"
        self._state, self.fence = "standby", None
        term = self._term
        if term is not None and (was_leader or reason == "stopped"):
            term.ended.set()
        if was_leader:
            log.info("%s deposed: %s", self.identity, reason)
            self._on_deposed(reason)
