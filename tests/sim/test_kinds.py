"""The pod-kind hook: environment computed at launch, rollout strategy, readiness, extra phases."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simulation import SERVICE, SETTINGS, Sim, of

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.machines.instance import InstanceState
from mesopress.model.specs import PodSpec
from mesopress.plans.plan import Phase, Step, Strategy
from mesopress.scheduler import SchedulerCore
from mesopress.scheduler_kinds import DefaultKind


class PeersKind(DefaultKind):
    """Like a Galera node: tells each new task where its running peers are."""

    def task_environment(
        self,
        pod: PodSpec,
        instance: str,
        instances: Mapping[str, InstanceState],
        endpoints: Mapping[str, Any],
    ) -> Mapping[str, str]:
        peers = sorted(
            f"{fp['hostname']}:{fp['ports']['sql']}" for n, fp in endpoints.items() if n != instance
        )
        return {"PEERS": ",".join(peers)}

    def extra_plan_phases(self, pod: PodSpec, instances: Mapping[str, InstanceState]) -> tuple[Phase, ...]:
        return (Phase("bootstrap", (Step("check", reason="shown only"),)),)


def env_of(accept: fx.Accept) -> dict[str, str]:
    [task] = accept.operations[-1]["launch"]["task_infos"]
    return {v["name"]: v["value"] for v in task["command"]["environment"]["variables"]}


def test_kind_environment_wins_and_sees_peers() -> None:
    sim = Sim()
    sim.core.kinds["db"] = PeersKind()
    sim.subscribe()
    [first] = of(sim.offers(1), fx.Accept)
    assert env_of(first)["PEERS"] == "" and env_of(first)["MESOPRESS_INSTANCE"] == "db-0"
    sim.run("db-0", 1)
    [second] = of(sim.offers(2), fx.Accept)
    assert env_of(second)["PEERS"] == f"node1:{sim.pod('db-0')['ports']['sql']}"
    phases = [p["name"] for p in sim.core.snapshot()["plans"]["deploy"]["phases"]]
    assert phases == ["db", "bootstrap"]


def test_parallel_kind_launches_every_instance_at_once() -> None:
    sim = Sim()
    sim.core = SchedulerCore(
        SETTINGS, SERVICE, sim.store, clock=lambda: sim.now, kinds={"db": DefaultKind(Strategy.PARALLEL)}
    )
    sim.core.load()
    sim.subscribe()
    assert len(of(sim.offers(1, 2, 3), fx.Accept)) == 3


def test_disconnected_stops_offer_flow_until_subscribed_again(sim: Sim) -> None:
    sim.subscribe()
    assert sim.send(ev.Disconnected()) == []
    assert sim.core.snapshot()["state"]["subscribed"] is False
    assert of(sim.subscribe(), fx.Revive)
