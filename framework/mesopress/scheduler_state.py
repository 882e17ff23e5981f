"""The core's view of its stored state, and transactions that change it all-or-nothing.

Why this module exists: "record before you send" means every decision is staged first, written to the
store in one fenced `Batch`, and only then turned into effects for Mesos. A `Txn` runs the instance and
reservation machines on staged copies, collects the batch and the effects, and on `commit` either
merges everything into the `World` and hands back the effects, or (Fenced, StoreUnavailable) drops
it all so that nothing acts on an unrecorded decision.

Records (under pods/ and reservations/, docs/zookeeper-layout.md):
- ``pods/<instance>``: ``{"state": InstanceState.to_dict(), "footprint": Footprint.to_dict() | None}``;
  the footprint is kept until a new one replaces it, so a replaced instance's old volume becomes
  garbage only once the replacement's footprint is stored;
- ``pods/<instance>/tasks/<task-id>``: the intended TaskInfo, its agent and last status;
- ``reservations/<persistence-id>``: ``ReservationState.to_dict()``;
- ``pods/<instance>`` also holds ``config_hash``, ``drain_since`` and ``unreserved`` (scale-down, rolling
  restart);
  a decommissioned instance's records are deleted (`Txn.forget`);
- ``recovery/agents/<agent-id>``: agents marked gone; ``recovery/uninstall/state``: uninstall started.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

from mesopress import effects as fx
from mesopress.machines import instance as im
from mesopress.machines import instance_events as ie
from mesopress.machines import reservation as rv
from mesopress.machines.result import Result
from mesopress.offers.requests import Footprint
from mesopress.plans.plan import Plan
from mesopress.state.persister import StoreError
from mesopress.state.store import Batch, StateStore

log = logging.getLogger("mesopress.scheduler")


@dataclasses.dataclass
class PodRecord:
    """An instance's machine state and footprint, the hash of the configuration its task was launched
    with (`plans.rollout.config_hash`; "" before the first launch) and, while it is drained before a
    kill (scale-down, rolling restart), the moment it left the endpoints. `unreserved`: once
    decommissioned, an ACCEPT has released its reservations (UNRESERVE sent), so it may be forgotten."""

    state: im.InstanceState
    footprint: Footprint | None = None
    config_hash: str = ""
    drain_since: float | None = None
    unreserved: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.to_dict(),
            "footprint": self.footprint.to_dict() if self.footprint else None,
            "config_hash": self.config_hash,
            "drain_since": self.drain_since,
            "unreserved": self.unreserved,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PodRecord:
        fp = data.get("footprint")
        return cls(
            im.InstanceState.from_dict(data["state"]),
            Footprint.from_dict(fp) if fp else None,
            str(data.get("config_hash") or ""),
            data.get("drain_since"),
            bool(data.get("unreserved", False)),
        )


@dataclasses.dataclass
class World:
    """Everything the core knows, mirrored from the store (changed only by a committed `Txn`)."""

    pods: dict[str, PodRecord] = dataclasses.field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # instance -> task record
    reservations: dict[str, rv.ReservationState] = dataclasses.field(default_factory=dict)
    gone_agents: set[str] = dataclasses.field(default_factory=set)
    uninstalling: bool = False
    plans: dict[str, Plan] = dataclasses.field(default_factory=dict)

    def instances(self) -> dict[str, im.InstanceState]:
        return {name: record.state for name, record in self.pods.items()}

    def footprints(self) -> list[Footprint]:
        return [r.footprint for r in self.pods.values() if r.footprint is not None]


def load(store: StateStore) -> World:
    """Read pods, tasks, reservations, gone agents and plans from the store."""
    world = World()
    for name, data in store.pods().items():
        if "state" in data:
            world.pods[name] = PodRecord.from_dict(data)
            current = world.pods[name].state.task_id
            task = store.task(name, current) if current else None
            if task is not None:
                world.tasks[name] = task
    world.reservations = {pid: rv.ReservationState.from_dict(r) for pid, r in store.reservations().items()}
    world.gone_agents = set(store.recovery_entries("agents"))
    world.uninstalling = store.recovery("uninstall", "state") is not None
    world.plans = {name: Plan.from_dict(p) for name, p in store.plan_statuses().items()}
    return world


def kill_grace(task: dict[str, Any] | None, task_id: str) -> float | None:
    """The grace period (seconds) of the stored task's KillPolicy, sent again with its KILL."""
    if not task or task.get("task_id") != task_id:
        return None
    policy = (task.get("task_info") or {}).get("kill_policy") or {}
    nanos = (policy.get("grace_period") or {}).get("nanoseconds")
    return float(nanos) / 1e9 if isinstance(nanos, int | float) else None


class Txn:
    """Staged changes + the effects they allow; nothing is visible until `commit` succeeds."""

    def __init__(self, world: World, now: float) -> None:
        self.world = world
        self.now = now
        self.pods: dict[str, PodRecord] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.reservations: dict[str, rv.ReservationState | None] = {}
        self.gone: set[str] = set()
        self.batch = Batch()
        self.effects: list[fx.Effect] = []
        self.revive = False
        self.after: list[Callable[[World], None]] = []
        self.forgotten: set[str] = set()

    def pod(self, name: str) -> PodRecord:
        if name not in self.pods:
            current = self.world.pods.get(name)
            self.pods[name] = dataclasses.replace(current) if current else PodRecord(im.InstanceState(name))
        return self.pods[name]

    def reservation(self, pid: str) -> rv.ReservationState | None:
        return self.reservations[pid] if pid in self.reservations else self.world.reservations.get(pid)

    def instance(self, name: str, event: ie.Event) -> Result[im.InstanceState]:
        """Run the instance machine; on SUCCESS stage the state and run its effects (in order)."""
        record = self.pod(name)
        result = im.transition(record.state, event, self.now)
        if not result.ok:
            log.debug("%s: %s", name, result.reason)
            return result
        unreachable = im.Status.UNREACHABLE
        if result.state.status is unreachable and record.state.status is not unreachable:
            self.revive = True  # its reservation may come back in an offer, maybe under a new agent id
        record.state = result.state
        log.info("%s -> %s: %s", name, result.state.status.value, result.reason)
        for effect in result.effects:
            self._instance_effect(record, effect)
        return result

    def _instance_effect(self, record: PodRecord, effect: Any) -> None:
        if isinstance(effect, ie.Kill) and effect.task_id:
            grace = kill_grace(self.world.tasks.get(record.state.name), effect.task_id)
            self.effects.append(fx.Kill(effect.task_id, effect.agent_id, grace))
        elif isinstance(effect, ie.Relaunch | ie.Replace):
            self.revive = True
        elif isinstance(effect, ie.DestroyOld) and record.footprint is not None:
            for pid in record.footprint.persistence_ids.values():
                self.reserve_event(pid, rv.Orphan(effect.reason))

    def reserve_event(self, pid: str, event: rv.Event) -> Result[rv.ReservationState] | None:
        """Run a reservation machine; Forget deletes its record, Retry asks for offers again."""
        state = self.reservation(pid)
        if state is None:
            return None
        result = rv.transition(state, event, self.now)
        if not result.ok:
            return result
        self.reservations[pid] = result.state
        log.info("reservation %s -> %s: %s", pid, result.state.status.value, result.reason)
        for effect in result.effects:
            if isinstance(effect, rv.Forget):
                self.reservations[pid] = None
            elif isinstance(effect, rv.Retry):
                self.revive = True
        return result

    def new_reservation(self, pid: str, instance: str, agent_id: str) -> None:
        self.reservations[pid] = rv.ReservationState(pid, instance, since=self.now)
        self.reserve_event(pid, rv.Reserve(agent_id))

    def forget(self, name: str, pids: tuple[str, ...] = ()) -> None:
        """Delete an instance's records (pod, tasks) and the given reservation records: a decommissioned
        instance leaves nothing a later scale-up could reuse."""
        self.forgotten.add(name)
        self.pods.pop(name, None)
        self.tasks.pop(name, None)
        for pid in pids:
            if self.reservation(pid) is not None:
                self.reservations[pid] = None

    def put_task(self, instance: str, record: dict[str, Any]) -> None:
        self.tasks[instance] = record

    def mark_gone(self, agent_id: str) -> None:
        if agent_id and agent_id not in self.world.gone_agents:
            self.gone.add(agent_id)

    def _build(self) -> Batch:
        batch = Batch(self.batch.ops)
        for name, record in self.pods.items():
            batch.put_pod(name, record.to_dict())
        for name, task in self.tasks.items():
            old = self.world.tasks.get(name)
            if old and old["task_id"] != task["task_id"]:
                batch.delete_task(name, old["task_id"])
            batch.put_task(name, task["task_id"], task)
        for pid, res in self.reservations.items():
            _ = batch.delete_reservation(pid) if res is None else batch.put_reservation(pid, res.to_dict())
        for agent in self.gone:
            batch.put_recovery("agents", agent, {"gone_since": self.now})
        for name in sorted(self.forgotten):
            batch.delete_pod(name)
        return batch

    def commit(self, store: StateStore) -> list[fx.Effect] | None:
        """Write everything in one batch; the effects on success, None (and nothing changed) on failure."""
        try:
            store.commit(self._build())
        except StoreError as err:
            log.warning("error recording decisions: %s; sending nothing", err)
            return None
        self._merge()
        return list(self.effects) + ([fx.Revive()] if self.revive else [])

    def _merge(self) -> None:
        world = self.world
        world.pods.update(self.pods)
        world.tasks.update(self.tasks)
        for pid, res in self.reservations.items():
            if res is None:
                world.reservations.pop(pid, None)
            else:
                world.reservations[pid] = res
        world.gone_agents |= self.gone
        for name in self.forgotten:
            world.pods.pop(name, None)
            world.tasks.pop(name, None)
        for hook in self.after:
            hook(world)
