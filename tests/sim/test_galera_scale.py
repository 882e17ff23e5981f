"""Galera scaling by configuration on the core: 3 -> 5 -> 3 -> 5, and what a scale-down must never do."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from galera_sim import SERVICE_FILE, deploy, galera_sim, launch_on, node_config, ready
from simulation import Sim, of, op_types

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.model import config
from mesopress.state.memory import MemoryPersister


def sized(size: int) -> Any:
    return config.load(
        SERVICE_FILE.replace("kind: galera", f"kind: galera\n    galera: {{size: {size}}}"), {}, {}
    )


def update(sim: Sim, size: int) -> dict[str, Any]:
    return update_to(sim, sized(size).service)


def update_to(sim: Sim, service: Any) -> dict[str, Any]:
    command = ev.Command("update_config", {"service": service}, lambda _: None)
    [reply] = of(sim.send(command), fx.Reply)
    return dict(reply.value)


def grow_to_five(sim: Sim) -> None:
    deploy(sim)
    assert update(sim, 5)["ok"] is True
    for agent, name in ((4, "galera-3"), (5, "galera-4")):
        assert node_config(sim, launch_on(sim, agent))["node"] == name
        ready(sim, name, agent)


def step(sim: Sim, name: str) -> dict[str, Any]:
    plan = sim.core.snapshot()["plans"]["decommission"]
    return next(s for ph in plan["phases"] for s in ph["steps"] if s["target"] == name)


def endpoint_names(sim: Sim) -> set[str]:
    return {e["instance"] for e in sim.core.snapshot()["endpoints"]["galera"]}


def remove(sim: Sim, name: str, agent: int) -> str:
    """Drive one removal to its end: drain, kill, clean-up through an offer, forget. Its volume id."""
    pid = sim.pod(name)["persistence_ids"]["mysql-data"]
    task = sim.task_of(name)
    assert name not in endpoint_names(sim)  # drained: out of the endpoints before any kill
    kills = of(sim.tick(sim.settings.drain_seconds), fx.Kill)
    assert [k.task_id for k in kills] == [task]
    assert kills[0].grace_period == 60.0  # the Galera kind's kill_grace_period: a clean leave
    assert sim.pod(name)["goal"] == "DECOMMISSIONED"
    effects = sim.status(task, "TASK_KILLED", agent)
    assert sim.pod(name)["status"] == "DECOMMISSIONED" and of(effects, fx.Revive)
    assert sim.core.pending()  # offers keep coming until the volume is destroyed
    [accept] = of(sim.offers(agent), fx.Accept)
    assert op_types(accept) == ["DESTROY", "UNRESERVE"]
    assert accept.operations[0]["destroy"]["volumes"][0]["disk"]["persistence"]["id"] == pid
    assert sim.agents[agent].held == []  # cpus, mem, ports and the disk: all unreserved
    sim.tick(sim.settings.reservation_timeout + 1)
    assert sim.store.pod(name) is None and sim.store.reservation(pid) is None  # forgotten
    assert step(sim, name)["status"] == "COMPLETE"
    return pid


def test_scale_3_to_5_to_3_removes_the_highest_nodes_one_at_a_time_then_5_again_gets_fresh_volumes() -> None:
    sim = galera_sim()
    grow_to_five(sim)
    assert update(sim, 3)["ok"] is True
    assert step(sim, "galera-4")["status"] == "STARTED"  # draining
    assert step(sim, "galera-3")["status"] == "PENDING"  # one at a time, highest index first
    assert not of(sim.tick(1), fx.Kill) and "galera-3" in endpoint_names(sim)
    old = [remove(sim, "galera-4", 5)]
    sim.tick(1)
    assert "galera-3" not in endpoint_names(sim)  # its turn came: drained now
    old.append(remove(sim, "galera-3", 4))
    assert {p["instance"] for p in sim.core.snapshot()["pods"]} == {"galera-0", "galera-1", "galera-2"}
    assert sim.core.snapshot()["plans"]["decommission"]["status"] == "COMPLETE"
    assert not sim.core.pending()
    assert update(sim, 5)["ok"] is True
    fourth = node_config(sim, launch_on(sim, 4))
    assert fourth["node"] == "galera-3" and fourth["bootstrap"] is False and len(fourth["peers"]) == 4
    assert sim.pod("galera-3")["persistence_ids"]["mysql-data"] not in old  # a fresh volume
    ready(sim, "galera-3", 4)
    launch_on(sim, 5)
    assert sim.pod("galera-4")["persistence_ids"]["mysql-data"] not in old


def test_peers_of_a_later_launch_leave_out_the_removed_nodes() -> None:
    sim = galera_sim()
    grow_to_five(sim)
    update(sim, 3)
    remove(sim, "galera-4", 5)
    sim.tick(1)
    remove(sim, "galera-3", 4)
    sim.status(sim.task_of("galera-1"), "TASK_FAILED", 2, reason="REASON_COMMAND_EXECUTOR_FAILED")
    [accept] = of(sim.offers(2), fx.Accept)
    task = next(t for op in accept.operations if op["type"] == "LAUNCH" for t in op["launch"]["task_infos"])
    assert len(node_config(sim, task)["peers"]) == 3


def test_a_node_is_not_removed_while_a_node_that_stays_is_not_ready() -> None:
    sim = galera_sim()
    grow_to_five(sim)
    sim.status(sim.task_of("galera-1"), "TASK_FAILED", 2, reason="REASON_COMMAND_EXECUTOR_FAILED")
    update(sim, 3)
    assert step(sim, "galera-4")["status"] == "WAITING" and "galera-1" in step(sim, "galera-4")["reason"]
    assert not of(sim.tick(sim.settings.drain_seconds + 1), fx.Kill)
    assert sim.pod("galera-4")["goal"] == "RUNNING"
    launch_on(sim, 2)  # galera-1 relaunches in place and is Synced again
    ready(sim, "galera-1", 2)
    sim.tick(1)
    assert of(sim.tick(sim.settings.drain_seconds), fx.Kill)  # now the removal goes on
    assert sim.pod("galera-4")["goal"] == "DECOMMISSIONED"


def test_refused_sizes_change_nothing() -> None:
    sim = galera_sim()
    deploy(sim)
    with pytest.raises(config.ConfigError, match="galera.size: 4 is even"):
        sized(4)  # a service file is refused at load already
    before = sim.core.snapshot()
    pod = sized(3).service.pods[0]
    even = update_to(sim, dataclasses.replace(sized(3).service, pods=(dataclasses.replace(pod, count=4),)))
    assert even["ok"] is False and any("galera.size: 4 is even" in r for r in even["reasons"])
    one = update_to(sim, dataclasses.replace(sized(3).service, pods=(dataclasses.replace(pod, count=1),)))
    assert one["ok"] is False and any("galera.size: 1 is below 3" in r for r in one["reasons"])
    after = sim.core.snapshot()
    assert after["pods"] == before["pods"] and after["config"] == before["config"]
    assert [e for e in sim.tick(60) if isinstance(e, fx.Kill)] == []


def test_a_new_leader_in_the_middle_of_a_removal_finishes_it() -> None:
    persister = MemoryPersister()
    sim = galera_sim(persister)
    grow_to_five(sim)
    update(sim, 3)
    task = sim.task_of("galera-4")
    sim.tick(4)  # draining since the update; a new leader takes over (it reads the same file: size 3)
    other = galera_sim(persister, holder="h2")
    other.agents, other.offered, other.now = sim.agents, sim.offered, sim.now
    other.subscribe()
    assert "galera-4" not in endpoint_names(other)
    assert not of(other.tick(4), fx.Kill)  # the drain counts from the stored moment: 2 s left
    [kill] = of(other.tick(2), fx.Kill)
    assert kill.task_id == task
    other.status(task, "TASK_KILLED", 5)
    third = galera_sim(persister, holder="h3")  # and another one while the volume waits for clean-up
    third.agents, third.offered, third.now = other.agents, other.offered, other.now
    third.subscribe()
    assert third.core.pending()
    assert op_types(of(third.offers(5), fx.Accept)[0]) == ["DESTROY", "UNRESERVE"]
    third.tick(third.settings.reservation_timeout + 1)
    assert third.store.pod("galera-4") is None
    third.tick(1)
    assert "galera-3" not in endpoint_names(third)  # the next one is being drained
