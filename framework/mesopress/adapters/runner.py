"""The scheduler process' one deciding thread: events in order through the core, effects out to the driver.

Why it exists: pymesos, kazoo and the HTTP server each call us on their own threads; the core must see one
event at a time (architecture habit 10). Everything enters one queue; one loop thread takes it out, calls
`core.handle`, runs the effects and publishes `core.snapshot()` for the HTTP API. A Tick enters every
second. Leadership (docs/scheduler.md, docs/zookeeper-layout.md) is wired here:

- elected: bind the store to the fence, build and `load()` a fresh core, start a pymesos driver with the
  *stored* framework id and failover=True; only the leader ever subscribes;
- deposed ("suspended", "lost", "stopped"): stop acting at once, on the leadership thread itself (the
  store is unbound, the driver generation is bumped so queued events are dropped, the driver is stopped
  with failover); the loop then joins the old driver. Kazoo makes us contend again after "lost";
- a Mesos ERROR or a crashed driver thread: stop that driver with failover, start a new one after a pause.
The driver is never stopped without failover; only the uninstall's Teardown effect tears the framework down.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from mesopress import effects, events
from mesopress.adapters.driver import EffectExecutor, EventScheduler
from mesopress.adapters.election import Leadership
from mesopress.scheduler_commands import IdentityChanged
from mesopress.state.persister import Fence, StoreError
from mesopress.state.store import StateStore

log = logging.getLogger(__name__)
TICK_SECONDS = 1.0
RESTART_SECONDS = 3.0
REFUSED_SECONDS = 30.0  # a scheduler started with another role or principal: the settings will not change
WATCH_SECONDS = 0.5
_ACTING = (effects.Accept, effects.Kill, effects.Teardown)


class Core(Protocol):
    def load(self) -> None: ...
    def handle(self, event: events.Event) -> list[effects.Effect]: ...
    def snapshot(self) -> dict[str, Any]: ...


CoreFactory = Callable[[StateStore], Core]
DriverFactory = Callable[[str | None, EventScheduler], Any]


class Runner:
    """Leadership + core + driver for one scheduler process; `start()`, `submit()`, `status()`, `stop()`."""

    def __init__(
        self,
        store: StateStore,
        leadership_factory: Callable[[Callable[[Fence], None], Callable[[str], None]], Leadership],
        core_factory: CoreFactory,
        driver_factory: DriverFactory,
        identity: str,
        clock: Callable[[], float] = time.time,
        describe: Callable[[], dict[str, Any]] = dict,
    ) -> None:
        self.store = store
        self.identity = identity
        self.leadership = leadership_factory(self._on_elected, self._on_deposed)
        self._core_factory = core_factory
        self._driver_factory = driver_factory
        self._clock = clock
        self._describe = describe
        self._queue: queue.Queue[tuple[str, int, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._gen = 0
        self._acting = False
        self._core: Core | None = None
        self._driver: Any = None
        self._retired: list[Any] = []
        self._restart_at: float | None = None
        self._uninstalled = False
        self.subscribed = False
        self.framework_id: str | None = None
        self.snapshot: dict[str, Any] = {}
        self.refused: str | None = None  # elected but refusing to act (IdentityChanged): why
        self._thread = threading.Thread(target=self._loop, name="scheduler loop", daemon=True)
        # what a standby reports; refreshed by a watcher so the API never waits for ZooKeeper
        self._seen: dict[str, str | None] = {"leader": None, "framework_id": None}
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="leader watcher", daemon=True)
        # pod -> node -> live wsrep sample for /v1/galera; cli.wire sets the Galera monitor's
        self.galera_samples: Callable[[], dict[str, Any]] = dict
        # live schedulers' API URLs, this one first, for /v1/endpoints; cli.wire sets adapters.schedulers'
        self.schedulers: Callable[[], list[str]] = list

    # -- outside threads -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        self.leadership.start()
        self._watcher.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Release leadership (stopping the driver with failover) and end the loop."""
        if self._thread.ident is None:
            return  # never started
        self._stopping.set()
        self.leadership.stop()
        self._queue.put(("stop", 0, None))
        self._thread.join(timeout)

    @property
    def is_leader(self) -> bool:
        return self._acting

    def submit(self, kind: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
        """Run an operator command on the loop thread and return the core's answer."""
        answers: queue.Queue[Any] = queue.Queue()
        self._queue.put(("command", 0, events.Command(kind, dict(args), answers.put)))
        try:
            return answers.get(timeout=timeout)
        except queue.Empty:
            return {"error": f"error running {kind}: no answer within {timeout:.0f}s"}

    def secret(self, name: str) -> str | None:
        """A generated secret of the leading core (None on a standby), for an adapter on another thread;
        a plain dict read (secrets are only ever added), never logged."""
        core = self._core if self._acting else None
        return getattr(core, "secrets", {}).get(name) if core is not None else None

    def driver_crashed(self) -> None:
        """The pymesos IO thread died (its exception reached the main thread): start a new driver."""
        self._queue.put(("crashed", 0, None))

    def status(self) -> dict[str, Any]:
        return {
            "identity": self.identity,
            "role": "leader" if self._acting else "standby",
            "leader": self.identity if self._acting else self._seen["leader"],
            "framework_id": self.framework_id if self._acting else self._seen["framework_id"],
            "subscribed": self._acting and self.subscribed,
            "refused": self.refused,
        }

    def _watch(self) -> None:
        while True:
            if not self._acting:
                leader, framework_id = self.leadership.current_leader(), _stored_id(self.store)
                self._seen = {"leader": leader, "framework_id": framework_id}
            if self._stopping.wait(WATCH_SECONDS):
                return

    def config(self) -> dict[str, Any]:
        """Target and deployed configuration for /v1/config (the routes hide secrets)."""
        return self._describe()

    def _on_elected(self, fence: Fence) -> None:
        self._queue.put(("elected", 0, fence))

    def _on_deposed(self, reason: str) -> None:
        """On the leadership thread: stop acting now, before anything else is handled."""
        with self._lock:
            was_acting, self._acting = self._acting, False
            self.store.unbind()
            self._gen += 1
            driver, self._driver = self._driver, None
        if was_acting:
            log.warning(
                "%s deposed (%s): stopped acting, driver stopped with failover", self.identity, reason
            )
        self._retire(driver)
        self._queue.put(("deposed", 0, reason))

    def _sink(self, gen: int) -> Callable[[events.Event], None]:
        return lambda event: self._queue.put(("event", gen, event))

    # -- the loop thread -------------------------------------------------------------------------
    def _loop(self) -> None:
        next_tick = time.monotonic() + TICK_SECONDS
        while True:
            try:
                kind, gen, payload = self._queue.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                kind, gen, payload = "tick", 0, None
            if kind == "stop":
                self._join_retired()
                return
            try:
                self._dispatch(kind, gen, payload)
            except Exception:  # the loop must outlive any bug in the core or the store
                log.exception("error handling %s %s", kind, type(payload).__name__)
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + TICK_SECONDS
                self._tick()

    def _dispatch(self, kind: str, gen: int, payload: Any) -> None:
        if kind == "event":
            if gen == self._gen and self._acting:
                self._handle(payload)
        elif kind == "command":
            self._command(payload)
        elif kind == "elected":
            self._elected(payload)
        elif kind == "deposed":
            self._core, self.subscribed = None, False
            self._join_retired()
        elif kind == "crashed" and self._acting:
            self._restart_driver("the driver thread died")

    def _tick(self) -> None:
        if self._acting and self._restart_at is not None and time.monotonic() >= self._restart_at:
            self._restart_at = None
            self._start_driver()
        if self._acting:
            self._handle(events.Tick(self._clock()))

    def _command(self, command: events.Command) -> None:
        if not self._acting or self._core is None:
            if command.reply is not None:
                command.reply({"error": "this scheduler is not the leader"})
            return
        self._handle(command)

    def _handle(self, event: events.Event) -> None:
        assert self._core is not None
        results = self._core.handle(event)
        self._observe(event)
        executor = EffectExecutor(self._driver)
        for effect in results:
            if isinstance(effect, effects.Reply) or (self._acting and self._driver is not None):
                executor.run(effect)
            if isinstance(effect, effects.Teardown):  # the executor stopped the driver
                self._uninstalled, self.subscribed = True, False
                self._retire(self._swap_driver(None))
        self.snapshot = self._core.snapshot()

    def _observe(self, event: events.Event) -> None:
        if isinstance(event, events.Subscribed):
            self.subscribed, self.framework_id = True, event.framework_id
            log.debug("subscribed as framework %s", event.framework_id)
        elif isinstance(event, events.Disconnected):
            self.subscribed = False
        elif isinstance(event, events.MesosError):
            log.error("Mesos error: %s", event.message)
            self._restart_driver(f"Mesos error {event.message!r}")

    def _elected(self, fence: Fence) -> None:
        if self.leadership.fence != fence:
            return  # deposed again before we got here
        self._retire(self._swap_driver(None))
        self.store.bind(fence)
        try:
            self.store.initialize()
            core = self._core_factory(self.store)
            core.load()
        except IdentityChanged as err:  # the operator's to fix: no traceback, nothing acts
            self.refused = str(err)
            log.error("refusing to act: %s; checking again in %.0fs", err, REFUSED_SECONDS)
            self._retry_elected(fence, REFUSED_SECONDS)
            return
        except Exception as err:  # StoreError, or a bug in load(): say so and try again
            log.exception("error taking the lead: %s; trying again", err)
            self._retry_elected(fence, RESTART_SECONDS)
            return
        with self._lock:
            if self.leadership.fence != fence:
                self.store.unbind()
                return
            self._core, self.snapshot, self._acting = core, core.snapshot(), True
            self.refused = None
        self._start_driver()

    def _retry_elected(self, fence: Fence, seconds: float) -> None:
        retry = threading.Timer(seconds, self._on_elected, args=(fence,))
        retry.daemon = True
        retry.start()

    def _start_driver(self) -> None:
        if self._uninstalled or getattr(self._core, "finished", False):
            log.info("uninstalled: not subscribing again")
            return
        self.framework_id = _stored_id(self.store)
        with self._lock:
            if not self._acting:
                return
            self._gen += 1
            driver = self._driver_factory(self.framework_id, EventScheduler(self._sink(self._gen)))
            self._driver = driver
        log.info("%s leads: subscribing with framework id %s", self.identity, self.framework_id or "(new)")
        driver.start()

    def _restart_driver(self, why: str) -> None:
        log.warning("stopping the driver with failover (%s); a new one starts in %.0fs", why, RESTART_SECONDS)
        self.subscribed = False
        self._retire(self._swap_driver(None))
        self._join_retired()
        self._restart_at = time.monotonic() + RESTART_SECONDS

    def _swap_driver(self, new: Any) -> Any:
        with self._lock:
            self._gen += 1
            old, self._driver = self._driver, new
        return old

    def _retire(self, driver: Any) -> None:
        if driver is not None:
            try:
                driver.stop(failover=True)
            except Exception:
                log.exception("error stopping the driver")
            self._retired.append(driver)

    def _join_retired(self) -> None:
        while self._retired:
            driver = self._retired.pop()
            try:
                driver.join()
            except Exception:
                log.exception("error joining a stopped driver")


def _stored_id(store: StateStore) -> str | None:
    try:
        return store.framework_id()
    except StoreError:
        return None
