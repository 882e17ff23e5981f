"""Garbage collection, uninstall, and never touching anyone else's resources."""

from __future__ import annotations

from simulation import Sim, of, op_types

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.offers import samples


def test_labelled_unowned_resources_are_released_foreign_ones_never_touched(sim: Sim) -> None:
    sim.subscribe()
    sim.offers(1)
    sim.run("db-0", 1)
    stray = [
        samples.volume(500, "db-7", "db-7.disk.x", "site.db-7.data.x", service="site"),
        samples.reserved("cpus", 0.5, "db-7", "db-7.cpus.x", service="site"),
    ]
    foreign = [samples.foreign("cpus", 1.0), samples.foreign("mem", 64, label_service="other")]
    offer = samples.offer(100, agent=5, cpus=0.1, extra=stray + foreign)
    sim.offered[offer["id"]["value"]] = 5
    [accept] = of(sim.send(ev.Offers([offer])), fx.Accept)
    assert op_types(accept) == ["DESTROY", "UNRESERVE"]
    released = accept.operations[1]["unreserve"]["resources"]
    tags = [r["reservations"][-1].get("labels", {}) for r in released]
    assert all(any(x["value"] == "site" for x in t["labels"]) for t in tags)
    assert len(released) == 2  # the plain disk of the volume and the cpus; nothing foreign
    text = repr(accept.operations)
    assert "other" not in text and "STATIC" not in text


def test_own_resources_of_live_instances_are_never_garbage(sim: Sim) -> None:
    sim.subscribe()
    sim.offers(1)
    sim.run("db-0", 1)
    sim.status(sim.task_of("db-0"), "TASK_FAILED", 1)
    effects = sim.offers(1)
    assert [op_types(a) for a in of(effects, fx.Accept)] == [["LAUNCH"]]
    assert len(sim.agents[1].held) == 4  # cpus, mem, ports, volume: all kept


def uninstall(sim: Sim) -> list[fx.Effect]:
    replies: list[object] = []
    effects = sim.send(ev.Command("uninstall", {}, replies.append))
    assert of(effects, fx.Reply)[0].value == {"ok": True}
    return effects


def test_uninstall_kills_destroys_unreserves_deletes_state_then_teardown() -> None:
    sim = Sim()
    sim.subscribe()
    for i in range(3):
        sim.offers(i + 1)
        sim.run(f"db-{i}", i + 1)
    effects = uninstall(sim)
    kills = of(effects, fx.Kill)
    assert len(kills) == 3 and of(effects, fx.Revive)
    for i in range(3):
        sim.status(kills[i].task_id, "TASK_KILLED", i + 1)
    assert {sim.pod(f"db-{i}")["status"] for i in range(3)} == {"DECOMMISSIONED"}
    accepts = of(sim.offers(1, 2, 3), fx.Accept)
    assert [op_types(a) for a in accepts] == [["DESTROY", "UNRESERVE"]] * 3
    assert all(a.held == [] for a in sim.agents.values())
    effects = sim.tick(sim.settings.reservation_timeout + 1)
    assert of(effects, fx.Teardown)
    snap = sim.core.snapshot()
    assert snap["uninstall"] == {"started": True, "finished": True, "warnings": []}
    assert sim.store.pods() == {} and sim.store.reservations() == {}
    assert sim.send(ev.Offers([sim.make_offer(1)])) == [fx.Decline([samples.offer_id(7)], 3600.0)]


def test_uninstall_with_a_gone_agent_finishes_and_reports_what_it_could_not_clean() -> None:
    sim = Sim()
    sim.subscribe()
    for i in range(2):
        sim.offers(i + 1)
        sim.run(f"db-{i}", i + 1)
    gone_pid = sim.pod("db-1")["persistence_ids"]["data"]
    sim.status(sim.task_of("db-1"), "TASK_GONE_BY_OPERATOR", 2, reason="REASON_AGENT_REMOVED_BY_OPERATOR")
    effects = uninstall(sim)
    [kill] = of(effects, fx.Kill)
    sim.status(kill.task_id, "TASK_KILLED", 1)
    sim.offers(1)
    effects = sim.tick(sim.settings.reservation_timeout + 1)
    assert of(effects, fx.Teardown)
    warnings = sim.core.snapshot()["uninstall"]["warnings"]
    assert any(gone_pid in w and "agent gone" in w for w in warnings)
    assert sim.store.pods() == {}


def test_uninstall_plan_is_visible_while_it_runs(sim: Sim) -> None:
    sim.subscribe()
    sim.offers(1)
    sim.run("db-0", 1)
    uninstall(sim)
    plan = sim.core.snapshot()["plans"]["uninstall"]
    assert [p["name"] for p in plan["phases"]] == [
        "kill-tasks",
        "destroy-volumes",
        "unreserve",
        "delete-state",
    ]
    assert plan["status"] != "COMPLETE"


def test_a_standby_taking_over_after_an_uninstall_stays_idle() -> None:
    sim = Sim()
    sim.subscribe()
    sim.offers(1)
    sim.run("db-0", 1)
    [kill] = of(uninstall(sim), fx.Kill)
    sim.status(kill.task_id, "TASK_KILLED", 1)
    sim.offers(1)
    assert of(sim.tick(sim.settings.reservation_timeout + 1), fx.Teardown)
    assert sim.store.uninstalled()
    standby = Sim(persister=sim.persister, holder="h2")  # a new leader on the same ZooKeeper state
    assert standby.core.finished
    effects = standby.send(ev.Offers([standby.make_offer(1)]))
    assert not of(effects, fx.Accept)
    assert standby.store.pods() == {}
