"""SchedulerCore: events in, effects out; the only place where the pure pieces' decisions are combined.

Why this module exists: a stateful framework must decide the same way whether it runs against a real
master, localmesos or a test. The core never calls a driver, a clock or ZooKeeper directly: it is given
a `StateStore` (fenced writes), a `clock` and `new_uuid`, handles one `events.Event` at a time on one
thread, and returns `effects.Effect` values that the runner carries out. Every acting effect is
returned only after the decision behind it was committed (see `scheduler_state.Txn`). `handle` never
raises: a malformed or unexpected event is logged and dropped, so the scheduler keeps going.

Topic modules: `scheduler_offers` (OFFERS), `scheduler_status` (UPDATE, timers, reconciliation),
`scheduler_commands` (operator commands), `scheduler_plans` (deploy/recovery/uninstall plans),
`scheduler_snapshot` (the API view), `scheduler_state` (stored state and transactions),
`scheduler_kinds` (the per-pod-kind hook). docs/scheduler.md describes the design.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mesopress import effects as fx
from mesopress import events as ev
from mesopress import (
    scheduler_artifacts,
    scheduler_commands,
    scheduler_galera,
    scheduler_offers,
    scheduler_plans,
    scheduler_scaling,
    scheduler_snapshot,
    scheduler_state,
    scheduler_status,
)
from mesopress.kinds.galera import GaleraKind
from mesopress.model import ids
from mesopress.model.specs import ServiceSpec
from mesopress.offers.requests import Context, Footprint
from mesopress.plans.plan import Plan, next_candidates
from mesopress.scheduler_kinds import DefaultKind, PodKind
from mesopress.settings import Settings
from mesopress.state.persister import StoreError
from mesopress.state.store import StateStore

log = logging.getLogger("mesopress.scheduler")


class SchedulerCore:
    """The decision maker; single-threaded (only the runner's loop calls `handle`)."""

    def __init__(
        self,
        settings: Settings,
        service: ServiceSpec,
        store: StateStore,
        clock: Callable[[], float] = time.time,
        new_uuid: Callable[[], str] = ids.random_uuid,
        kinds: Mapping[str, PodKind] | None = None,
        max_refusals: int = 20,
        new_token: Callable[[], str] = scheduler_artifacts.new_token,
        doc: Mapping[str, Any] | None = None,
        kinds_for: Callable[[ServiceSpec], Mapping[str, PodKind]] | None = None,
    ) -> None:
        self.settings, self.service, self.store = settings, service, store
        self.clock, self.new_uuid, self.new_token = clock, new_uuid, new_token
        self.secrets: dict[str, str] = {}  # generated service secrets; never logged
        self.galera: dict[str, Any] = {}  # recovery/galera records (scheduler_galera)
        self.kinds_for = kinds_for  # the pod kinds of a spec (cli.pod_kinds); None: `kinds` as given
        if kinds is None and kinds_for is not None:
            kinds = kinds_for(service)
        self.kinds: dict[str, PodKind] = dict(kinds or {})
        # the service file `service` was built from (kinds' defaults filled in), checked against the
        # stored target at load (scheduler_commands.take_file); then the running target's
        self.target_doc: dict[str, Any] | None = dict(doc) if doc is not None else None
        self.config_version: str | None = None  # the stored target configuration's version
        self.refused: dict[str, Any] | None = None  # an edited service file refused at load: why
        self.max_refusals = max_refusals
        self.world = scheduler_state.World()
        self.deploy_plan = Plan("deploy")
        self.loaded = self.finished = self.subscribed = False
        self.framework_id: str | None = None
        self.offers_wanted: bool | None = None  # None: unknown (say it at the next chance)
        self.waiting: dict[str, list[str]] = {}
        self.unanswered: set[str] = set()
        self.reconcile_due = self.last_full_reconcile = 0.0
        self.reconcile_backoff = scheduler_status.RETRY_MIN

    def load(self) -> None:
        """Read everything from the store (once elected, before the driver starts); raises StoreError."""
        if self.store.uninstalled():
            self.loaded = self.finished = True
            log.warning("the service was uninstalled: staying idle (remove this scheduler's Marathon app)")
            return
        self.world = scheduler_state.load(self.store)
        self.framework_id = self.store.framework_id()
        scheduler_commands.check_identity(self)
        scheduler_commands.take_file(self)
        scheduler_commands.ensure_instances(self)
        self.secrets = scheduler_artifacts.load_secrets(self.store)
        scheduler_artifacts.ensure_secrets(self)
        scheduler_artifacts.prune(self, self.clock())
        scheduler_galera.load(self)
        self.deploy_plan = scheduler_plans.build_deploy(self, self.world.plans.get("deploy"))
        self.loaded = True
        log.info(
            "state loaded: %d pod instances, %d reservations",
            len(self.world.pods),
            len(self.world.reservations),
        )

    def handle(self, event: ev.Event) -> list[fx.Effect]:
        """Decide what `event` means; never raises."""
        try:
            now = float(event.now) if isinstance(event, ev.Tick) else self.clock()
            effects = self._dispatch(event, now)
        except Exception as err:  # noqa: BLE001 - the loop must survive anything an event carries
            log.exception("error handling %s: %s; event dropped", type(event).__name__, err)
            return self._fallback(event, err)
        if self.loaded and not self.finished and not isinstance(event, ev.Disconnected | ev.MesosError):
            try:
                effects += scheduler_plans.drive(self, now)
                effects += scheduler_galera.drive(self, now)
                effects = self._offer_flow(effects)
            except Exception as err:  # noqa: BLE001 - the event's own effects are already recorded
                log.exception("error driving the plans after %s: %s", type(event).__name__, err)
        return effects

    def _fallback(self, event: ev.Event, err: Exception) -> list[fx.Effect]:
        """What is still owed after a failed event: offers are declined, commands answered."""
        if isinstance(event, ev.Command):
            return [fx.Reply(event.reply, {"ok": False, "error": f"error handling command: {err}"})]
        if isinstance(event, ev.Offers):
            try:
                offer_ids = [str(o["id"]["value"]) for o in scheduler_offers.valid_offers(event.offers)]
            except Exception:  # noqa: BLE001
                return []
            return [fx.Decline(offer_ids, self.settings.decline_short_seconds)] if offer_ids else []
        return []

    def snapshot(self) -> dict[str, Any]:
        """An immutable plain-data view for the HTTP API (plans, pods, state); `config` also holds the
        target's version and, after an edited service file was refused at load, `refused`."""
        view = scheduler_snapshot.build(self)
        view["config"] = dict(view.get("config") or {}, version=self.config_version)
        if self.refused is not None:
            view["config"]["refused"] = copy.deepcopy(self.refused)
        return view

    def _dispatch(self, event: ev.Event, now: float) -> list[fx.Effect]:
        if self.finished or not self.loaded:
            return self._refuse(event)
        if isinstance(event, ev.Subscribed):
            return self._subscribed(str(event.framework_id), now)
        if isinstance(event, ev.Offers):
            offers = scheduler_offers.valid_offers(event.offers)
            return scheduler_offers.handle(self, offers, now) if offers else []
        if isinstance(event, ev.Status):
            return scheduler_status.handle(self, event.status, now)
        if isinstance(event, ev.Tick):
            return scheduler_status.deadlines(self, now) + self._timer(now)
        if isinstance(event, ev.Command):
            return scheduler_commands.handle(self, event, now)
        return self._notice(event)

    def _refuse(self, event: ev.Event) -> list[fx.Effect]:
        why = "finished (uninstalled)" if self.finished else "not loaded"
        log.warning("ignoring %s: the scheduler is %s", type(event).__name__, why)
        if isinstance(event, ev.Offers):
            ids_ = [str(o["id"]["value"]) for o in scheduler_offers.valid_offers(event.offers)]
            return [fx.Decline(ids_, self.settings.decline_long_seconds)] if ids_ else []
        if isinstance(event, ev.Command):
            return [fx.Reply(event.reply, {"ok": False, "error": f"the scheduler is {why}"})]
        return []

    def _notice(self, event: ev.Event) -> list[fx.Effect]:
        if isinstance(event, ev.Disconnected):
            self.subscribed = False
            log.warning("disconnected from the master; waiting to subscribe again")
        elif isinstance(event, ev.MesosError):
            log.error("the master sent an error: %s", event.message)
            if "Framework has been removed" in str(event.message):
                self._forget_framework_id()
        elif isinstance(event, ev.Rescinded):
            log.info("offer %s rescinded", event.offer_id)
        elif isinstance(event, ev.AgentLost):
            tasks = scheduler_status.tasks_to_reconcile(self, event.agent_id)
            log.warning("agent %s lost; reconciling its %d tasks", event.agent_id, len(tasks))
            return [fx.Reconcile(tuple(tasks))] if tasks else []
        else:
            log.warning("ignoring an unexpected event: %.200r", event)
        return []

    def _forget_framework_id(self) -> None:
        """The master removed our framework (failover timeout passed, or a teardown): its id can never
        subscribe again and its tasks were killed. Reservations and volumes belong to the role and stay,
        so we subscribe as a new framework and the instances relaunch in place on them."""
        try:
            self.store.clear_framework_id()
        except StoreError as err:
            log.error("error clearing the removed framework id: %s; will retry on the next error", err)
            return
        log.warning("framework %s was removed by the master: subscribing anew", self.framework_id)
        self.framework_id, self.subscribed = None, False

    def _subscribed(self, framework_id: str, now: float) -> list[fx.Effect]:
        if framework_id != self.framework_id:
            try:
                self.store.set_framework_id(framework_id)
            except StoreError as err:
                log.error("error storing framework id %s: %s; not acting", framework_id, err)
                return []
            self.framework_id = framework_id
        self.subscribed = True
        self.offers_wanted = None
        log.info("subscribed as framework %s", framework_id)
        return scheduler_status.full_reconcile(self, now)

    def _timer(self, now: float) -> list[fx.Effect]:
        return scheduler_status.reconcile_timer(self, now) if self.subscribed else []

    def _offer_flow(self, effects: list[fx.Effect]) -> list[fx.Effect]:
        """REVIVE when work appears (new relaunch or replacement work always revives: offers of its
        agent may sit behind a long decline filter), SUPPRESS when nothing waits; at most one of each."""
        revive = any(isinstance(e, fx.Revive) for e in effects)
        effects = [e for e in effects if not isinstance(e, fx.Revive)]
        if not self.subscribed:
            return effects
        pending = self.pending()
        if pending == self.offers_wanted and not (revive and pending):
            return effects
        self.offers_wanted = pending
        log.info("%s offers: %s", "reviving" if pending else "suppressing", self._pending_text())
        return effects + ([fx.Revive()] if pending else [fx.Suppress()])

    def pending(self) -> bool:
        """Does anything wait for an offer (a launch, relaunch, replacement, or uninstall clean-up)?"""
        if self.world.uninstalling:
            return not self.finished
        # an unreachable instance's reservation may come back under a new agent id (reboot): keep
        # offers coming so ReservationSeen can relaunch it in place (runtime fix, see issue 3 report)
        unreachable = any(r.state.status.value == "UNREACHABLE" for r in self.world.pods.values())
        return unreachable or bool(scheduler_offers.waiting_names(self) or self._cleaning())

    def _cleaning(self) -> list[str]:
        """Decommissioned instances whose volume or reservations wait for an offer of their agent."""
        return scheduler_scaling.awaiting_offers(self, scheduler_plans.gone_agents(self, self.clock()))

    def _pending_text(self) -> str:
        if self.world.uninstalling:
            return "uninstall in progress"
        names = scheduler_offers.waiting_names(self) + scheduler_offers.watched_names(self)
        names += [f"{n} (clean-up)" for n in self._cleaning()]
        return ", ".join(names) + " waiting" if names else "nothing waits for resources"

    # Helpers the topic modules use.
    def kind(self, pod: str) -> PodKind:
        return self.kinds.get(pod) or DefaultKind()

    def context(self, footprints: Iterable[Footprint]) -> Context:
        s = self.settings
        return Context(
            self.service.name,
            self.service.role,
            self.service.principal,
            tuple(footprints),
            self.new_uuid,
            s.decline_long_seconds,
            s.decline_short_seconds,
        )

    def deploy_candidates(self) -> set[str]:
        return {step.target for step in next_candidates(self.deploy_plan)}

    def endpoints(self) -> dict[str, dict[str, Any]]:
        """Footprints of the instances holding resources, without those drained or being removed."""
        return {
            n: r.footprint.to_dict()
            for n, r in self.world.pods.items()
            if r.footprint is not None and not scheduler_scaling.leaving(r)
        }

    def apply_service(self, service: ServiceSpec) -> None:
        """Take an accepted configuration: new instances appear, the deploy plan follows the counts, kinds
        render from the new pod settings; the decommission and rollout plans follow at the next drive."""
        self.take_service(service)
        scheduler_commands.ensure_instances(self)
        self.deploy_plan = scheduler_plans.build_deploy(self, self.deploy_plan)

    def take_service(self, service: ServiceSpec) -> None:
        """Run `service` from now on: the pod kinds follow it (built anew by `kinds_for`, else each
        Galera kind renders galera.json from the pod's new `galera:` section)."""
        self.service = service
        if self.kinds_for is not None:
            self.kinds = dict(self.kinds_for(service))
            return
        for pod in service.pods:
            kind = self.kinds.get(pod.name)
            if isinstance(kind, GaleraKind):
                self.kinds[pod.name] = dataclasses.replace(kind, settings=json.loads(pod.kind_settings))
