"""Rolling restarts on the core: one Galera node at a time, each Synced (READY) before the next."""

from __future__ import annotations

from typing import Any

from galera_sim import SERVICE_FILE, deploy, galera_sim, node_config, ready
from simulation import Sim, of

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.model import config
from mesopress.state.memory import MemoryPersister

AGENTS = {"galera-0": 1, "galera-1": 2, "galera-2": 3}


def service(section: str) -> Any:
    text = SERVICE_FILE.replace("kind: galera", f"kind: galera\n    galera: {section}")
    return config.load(text, {}, {}).service


TUNED = service("{size: 3, options: {max_connections: '200'}}")


def update(sim: Sim, spec: Any) -> None:
    [reply] = of(sim.send(ev.Command("update_config", {"service": spec}, lambda _: None)), fx.Reply)
    assert reply.value["ok"] is True, reply.value


def steps(sim: Sim) -> dict[str, str]:
    plan = sim.core.snapshot()["plans"]["rollout"]
    return {s["target"]: s["status"] for ph in plan["phases"] for s in ph["steps"]}


def restart(sim: Sim, name: str) -> dict[str, Any]:
    """Drain, restart (kill), relaunch in place and Synced: the relaunched node's config."""
    agent = AGENTS[name]
    endpoints = {e["instance"] for e in sim.core.snapshot()["endpoints"]["galera"]}
    assert name not in endpoints  # drained first
    [kill] = of(sim.tick(sim.settings.drain_seconds), fx.Kill)
    assert kill.task_id == sim.task_of(name) and sim.pod(name)["goal"] == "RUNNING"
    sim.status(kill.task_id, "TASK_KILLED", agent)
    assert sim.pod(name)["status"] == "FAILED"
    [accept] = of(sim.offers(agent), fx.Accept)
    assert [op["type"] for op in accept.operations] == ["LAUNCH"]  # in place: same reservation, volume
    task = next(t for op in accept.operations for t in op["launch"]["task_infos"])
    cfg = node_config(sim, task)
    ready(sim, name, agent)
    return cfg


def test_a_changed_setting_restarts_the_nodes_one_at_a_time_each_ready_before_the_next() -> None:
    sim = galera_sim()
    deploy(sim)
    assert steps(sim) == {}
    update(sim, TUNED)
    assert steps(sim) == {"galera-0": "STARTED", "galera-1": "PENDING", "galera-2": "PENDING"}
    [kill] = of(sim.tick(sim.settings.drain_seconds), fx.Kill)
    sim.status(kill.task_id, "TASK_KILLED", 1)
    assert not of(sim.tick(60), fx.Kill)  # galera-1 waits while galera-0 is not READY again
    [accept] = of(sim.offers(1), fx.Accept)
    task = next(t for op in accept.operations for t in op["launch"]["task_infos"])
    first = node_config(sim, task)
    assert first["options"] == {"max_connections": "200"} and first["bootstrap"] is False
    sim.run("galera-0", 1)
    assert not of(sim.tick(60), fx.Kill)  # RUNNING is not Synced
    sim.status(sim.task_of("galera-0"), "TASK_RUNNING", 1, check_status={"command": {"exit_code": 0}})
    sim.tick(1)
    for name in ("galera-1", "galera-2"):
        assert restart(sim, name)["options"] == {"max_connections": "200"}
        sim.tick(1)
    assert set(steps(sim).values()) == {"COMPLETE"}
    assert not of(sim.tick(600), fx.Kill)


def test_scaling_alone_restarts_nothing() -> None:
    sim = galera_sim()
    deploy(sim)
    update(sim, service("{size: 5}"))
    assert steps(sim) == {}
    assert not of(sim.tick(600), fx.Kill)


def test_a_new_leader_in_the_middle_of_a_rollout_goes_on_from_the_stored_state() -> None:
    persister = MemoryPersister()
    sim = galera_sim(persister)
    deploy(sim)
    update(sim, TUNED)
    restart(sim, "galera-0")
    sim.tick(1)
    other = galera_sim(persister, holder="h2")  # started with the new file
    other.core.apply_service(TUNED)
    other.agents, other.offered, other.now = sim.agents, sim.offered, sim.now
    other.subscribe()
    assert steps(other)["galera-0"] == "COMPLETE" and steps(other)["galera-1"] in ("STARTED", "PENDING")
    restart(other, "galera-1")
    other.tick(1)
    assert restart(other, "galera-2")["options"] == {"max_connections": "200"}
    other.tick(1)
    assert set(steps(other).values()) == {"COMPLETE"}


def test_an_update_reverted_while_a_node_drains_brings_it_back_without_a_restart() -> None:
    sim = galera_sim()
    deploy(sim)
    update(sim, TUNED)
    assert "galera-0" not in {e["instance"] for e in sim.core.snapshot()["endpoints"]["galera"]}
    update(sim, service("{size: 3}"))
    sim.tick(1)
    assert "galera-0" in {e["instance"] for e in sim.core.snapshot()["endpoints"]["galera"]}
    assert not of(sim.tick(600), fx.Kill)
