"""The pymesos edge: callbacks become events, effects become driver calls.

Why it exists: pymesos calls back on its IO thread, and an exception escaping a callback aborts that thread
(mesos-facts 5.7). So `EventScheduler` decides nothing: every callback converts its payload into a plain
event from `mesopress.events`, hands it to `sink` and swallows (logs) anything that goes wrong. The core
runs on the runner's loop thread; what it returns is carried out here by `EffectExecutor`, which also
decides nothing: it maps each effect to one call.

Trade-offs, each forced by a pymesos 0.3.15 limitation:
- `killTask` sends no agent_id and `reconcileTasks` drops it, so KILL and RECONCILE are built here and sent
  with the driver's internal `_send` (the same connection, lock and headers as every other call);
- the driver is built with `implicit_acknowledgements=False`: the core acknowledges explicitly, after the
  update's consequences are stored;
- `error()` also stops the driver with failover at once, because otherwise pymesos re-subscribes after the
  master closed the stream and loops (mesos-facts 5.8); the runner does the rest;
- pymesos installs a SIGINT handler when imported, so this module must first be imported in the main thread.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Mapping
from typing import Any

from pymesos import MesosSchedulerDriver
from pymesos import process as pymesos_process

from mesopress import effects, events
from mesopress.settings import Settings, framework_info

log = logging.getLogger(__name__)
Sink = Callable[[events.Event], None]


def _value(obj: Any) -> str:
    """A Mesos id as text: {"value": "x"} or "x"."""
    return str(obj.get("value", "")) if isinstance(obj, Mapping) else str(obj or "")


class EventScheduler:
    """A pymesos Scheduler whose callbacks only enqueue events; it never raises into pymesos."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def _put(self, make: Callable[[], events.Event | None]) -> None:
        try:
            event = make()
            if event is not None:
                self._sink(event)
        except Exception:  # never let anything reach the pymesos IO thread
            log.exception("error converting a Mesos callback into an event")

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        self._put(lambda: events.Subscribed(_value(framework_id)))

    def reregistered(self, driver: Any, master_info: Any) -> None:
        self._put(lambda: events.Subscribed(str(driver.framework_id or "")))

    def disconnected(self, driver: Any) -> None:
        self._put(events.Disconnected)

    def processHeartBeat(self, driver: Any) -> None:  # noqa: N802 - pymesos name
        pass

    def resourceOffers(self, driver: Any, offers: list[dict[str, Any]]) -> None:  # noqa: N802
        self._put(lambda: events.Offers(tuple(offers)))

    def inverseOffers(self, driver: Any, offers: list[dict[str, Any]]) -> None:  # noqa: N802
        log.info("ignoring %d inverse offers (maintenance is not supported)", len(offers))

    def offerRescinded(self, driver: Any, offer_id: Any) -> None:  # noqa: N802
        self._put(lambda: events.Rescinded(_value(offer_id)))

    def inverseOfferRescinded(self, driver: Any, offer_id: Any) -> None:  # noqa: N802
        pass

    def statusUpdate(self, driver: Any, status: dict[str, Any]) -> None:  # noqa: N802
        self._put(lambda: events.Status(status))

    def operationStatusUpdate(self, driver: Any, status: dict[str, Any]) -> None:  # noqa: N802
        log.info("ignoring operation status %s (operations carry no ids)", status.get("state"))

    def frameworkMessage(self, driver: Any, executor_id: Any, agent_id: Any, data: Any) -> None:  # noqa: N802
        pass

    def slaveLost(self, driver: Any, agent_id: Any) -> None:  # noqa: N802
        self._put(lambda: events.AgentLost(_value(agent_id)))

    def executorLost(self, driver: Any, executor_id: Any, agent_id: Any, status: Any) -> None:  # noqa: N802
        log.info("executor %s on agent %s lost (%s)", _value(executor_id), _value(agent_id), status)

    def error(self, driver: Any, message: str) -> None:
        self._put(lambda: events.MesosError(str(message)))
        try:  # the master closed the stream: do not let pymesos re-subscribe in a loop
            driver.stop(failover=True)
        except Exception:
            log.exception("error stopping the driver after a Mesos error")


def build_driver(settings: Settings, framework_id: str | None, sched: EventScheduler) -> Any:
    """A MesosSchedulerDriver for the stored framework id; never tears down unless told to."""
    return MesosSchedulerDriver(
        sched,
        framework_info(settings, framework_id),
        settings.master,
        use_addict=False,
        implicit_acknowledgements=False,
        principal=settings.principal,
        secret=settings.secret or None,
        failover=True,
    )


class EffectExecutor:
    """Carries one effect out on a driver; errors are logged (the next reconciliation repairs them)."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def run(self, effect: effects.Effect) -> None:
        try:
            self._run(effect)
        except Exception as err:
            log.warning("error running %s: %r", type(effect).__name__, err)

    def _run(self, effect: effects.Effect) -> None:
        d = self.driver
        if isinstance(effect, effects.Accept):
            d.acceptOffers(_ids(effect.offer_ids), list(effect.operations), _filters(effect.refuse_seconds))
        elif isinstance(effect, effects.Decline):
            d.declineOffer(_ids(effect.offer_ids), _filters(effect.refuse_seconds))
        elif isinstance(effect, effects.Kill):
            kill = _task_ref(effect.task_id, effect.agent_id)
            if effect.grace_period is not None:  # Call.Kill.kill_policy overrides the TaskInfo's
                kill["kill_policy"] = {"grace_period": {"nanoseconds": int(effect.grace_period * 1e9)}}
            self._call("KILL", "kill", kill)
        elif isinstance(effect, effects.Reconcile):
            tasks = [_task_ref(_value(t.get("task_id")), _value(t.get("agent_id"))) for t in effect.tasks]
            self._call("RECONCILE", "reconcile", {"tasks": tasks})
        elif isinstance(effect, effects.Revive):
            d.reviveOffers()
        elif isinstance(effect, effects.Suppress):
            d.suppressOffers()
        elif isinstance(effect, effects.Acknowledge):
            d.acknowledgeStatusUpdate(dict(effect.status))
        elif isinstance(effect, effects.Teardown):
            log.warning("uninstall finished: tearing the framework down")
            self._call("TEARDOWN")
            d.stop(failover=True)  # already torn down; stop without a second TEARDOWN
        elif isinstance(effect, effects.Reply) and effect.reply is not None:
            effect.reply(effect.value)

    def _call(self, kind: str, key: str = "", body: dict[str, Any] | None = None) -> None:
        """Send a call pymesos builds wrongly; skipped (like pymesos' own) while not connected."""
        framework_id = self.driver.framework_id
        if not self.driver.connected or not framework_id:
            log.info("not connected: %s skipped", kind)
            return
        call: dict[str, Any] = {"type": kind, "framework_id": {"value": framework_id}}
        if key:
            call[key] = body or {}
        self.driver._send(call)


def _ids(offer_ids: Any) -> list[dict[str, str]]:
    return [{"value": _value(o)} for o in offer_ids]


def _filters(refuse_seconds: float) -> dict[str, float]:
    return {"refuse_seconds": float(refuse_seconds)}


def _task_ref(task_id: str, agent_id: str) -> dict[str, Any]:
    ref: dict[str, Any] = {"task_id": {"value": task_id}}
    if agent_id:
        ref["agent_id"] = {"value": agent_id}
    return ref


def install_signal_handlers(
    on_stop: Callable[[str], None], on_crash: Callable[[BaseException], None]
) -> None:
    """SIGTERM/SIGINT -> on_stop(name); a crashed driver thread (pymesos' interrupt_main) -> on_crash(error).

    Main thread only, after pymesos was imported: pymesos replaced the SIGINT handler on import and reports
    an IO-thread abort as a SIGINT with the exception kept in `pymesos.process._exc_info`.
    """

    def handle(signum: int, frame: Any) -> None:
        crash = pymesos_process._exc_info
        if signum == signal.SIGINT and crash is not None:
            pymesos_process._exc_info = None
            on_crash(crash[1])
            return
        on_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
