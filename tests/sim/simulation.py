"""A simulated cluster for the scheduler core: a MemoryPersister-backed store, no driver, ticks.

`Sim` keeps a small model of what each agent holds (reservations and volumes made by the ACCEPTs the
core sends, and which of them running tasks use) so that later offers look like Mesos': a volume in use
is not offered, a free one is, on whatever agent id now holds it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.model.specs import PodSpec, PortSpec, ServiceSpec, VolumeSpec
from mesopress.offers import labels, samples
from mesopress.scheduler import SchedulerCore
from mesopress.settings import Settings
from mesopress.state.memory import MemoryPersister
from mesopress.state.store import StateStore

DB = PodSpec("db", 3, 1.0, 1024, "run-db", ports=(PortSpec("sql"),), volumes=(VolumeSpec("data", 1000),))
SERVICE = ServiceSpec("site", "mesopress", "mesopress", "root", (DB,))
SETTINGS = Settings(unreachable_timeout=600, reservation_timeout=120, reconcile_interval=300)


def _key(resource: dict[str, Any]) -> tuple[str, str, str]:
    top = labels.top_reservation(resource) or {}
    rid = labels.from_labels(top.get("labels")).get("mesopress_resource_id", "")
    pid = ((resource.get("disk") or {}).get("persistence") or {}).get("id", "")
    return resource["name"], rid, pid


class Agent:
    def __init__(self) -> None:
        self.held: list[dict[str, Any]] = []
        self.tasks: dict[str, list[dict[str, Any]]] = {}

    def apply(self, op: dict[str, Any]) -> None:
        kind = op["type"]
        if kind == "RESERVE":
            self.held += op["reserve"]["resources"]
        elif kind == "CREATE":
            for vol in op["create"]["volumes"]:
                plain = {k: v for k, v in vol.items() if k != "disk"}
                self._remove(_key(plain))
                self.held.append(vol)
        elif kind == "DESTROY":
            for vol in op["destroy"]["volumes"]:
                self._remove(_key(vol))
                self.held.append({k: v for k, v in vol.items() if k != "disk"})
        elif kind == "UNRESERVE":
            for res in op["unreserve"]["resources"]:
                self._remove(_key(res))
        elif kind == "LAUNCH":
            for task in op["launch"]["task_infos"]:
                self.tasks[task["task_id"]["value"]] = task["resources"]

    def _remove(self, key: tuple[str, str, str]) -> None:
        self.held = [r for r in self.held if _key(r) != key]

    def free(self) -> list[dict[str, Any]]:
        used = {_key(r)[1:] for rs in self.tasks.values() for r in rs}
        return [r for r in self.held if _key(r)[1:] not in used]


class Sim:
    def __init__(
        self,
        service: ServiceSpec = SERVICE,
        persister: MemoryPersister | None = None,
        settings: Settings = SETTINGS,
        now: float = 1000.0,
        holder: str = "h1",
    ) -> None:
        self.persister = persister or MemoryPersister()
        self.store = StateStore(self.persister)
        self.store.bind(self.persister.claim(holder, b"{}"))
        self.store.initialize()
        self.now = now
        self.service, self.settings = service, settings
        self.core = SchedulerCore(
            settings, service, self.store, clock=lambda: self.now, new_uuid=samples.counting_uuids(holder)
        )
        self.core.load()
        self.agents: dict[int, Agent] = {}
        self.offer_ids = itertools.count(1)
        self.log: list[fx.Effect] = []
        self.offered: dict[str, int] = {}

    def send(self, event: ev.Event) -> list[fx.Effect]:
        effects = self.core.handle(event)
        self.log += effects
        for effect in effects:
            if isinstance(effect, fx.Accept):
                agent = self.agents.setdefault(self.offered[effect.offer_ids[0]], Agent())
                for op in effect.operations:
                    agent.apply(dict(op))
        return effects

    def subscribe(self, framework_id: str = "fw-1") -> list[fx.Effect]:
        return self.send(ev.Subscribed(framework_id))

    def make_offer(self, agent: int, **kw: Any) -> dict[str, Any]:
        n = next(self.offer_ids)
        held = self.agents.setdefault(agent, Agent()).free()
        offer = samples.offer(n, agent=agent, extra=held, **kw)
        self.offered[offer["id"]["value"]] = agent
        return offer

    def offers(self, *agents: int, **kw: Any) -> list[fx.Effect]:
        return self.send(ev.Offers([self.make_offer(a, **kw) for a in agents]))

    def status(
        self, task_id: str, state: str, agent: int, reason: str = "", uuid: bool = True, **extra: Any
    ) -> list[fx.Effect]:
        body: dict[str, Any] = {
            "task_id": {"value": task_id},
            "state": state,
            "agent_id": {"value": samples.agent_id(agent)},
            **extra,
        }
        if reason:
            body["reason"] = reason
        if uuid:
            body["uuid"] = "dXVpZA=="
        if state not in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"):
            for a in self.agents.values():
                a.tasks.pop(task_id, None)
        return self.send(ev.Status(body))

    def tick(self, seconds: float) -> list[fx.Effect]:
        self.now += seconds
        return self.send(ev.Tick(self.now))

    def pod(self, name: str) -> dict[str, Any]:
        return next(p for p in self.core.snapshot()["pods"] if p["instance"] == name)

    def task_of(self, name: str) -> str:
        return str(self.pod(name)["task_id"])

    def run(self, name: str, agent: int) -> None:
        """The task of `name` reports STAGING, STARTING, RUNNING on `agent` (acked, readiness: running)."""
        for state in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"):
            self.status(self.task_of(name), state, agent)

    def move_agent(self, old: int, new: int) -> None:
        """An agent host rebooted and registered under a new id, keeping reservations and volumes."""
        agent = self.agents.pop(old)
        agent.tasks.clear()
        self.agents[new] = agent


def of(effects: Iterable[fx.Effect], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def op_types(accept: fx.Accept) -> list[str]:
    return [op["type"] for op in accept.operations]
