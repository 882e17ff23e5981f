"""Failures: transient ones relaunch in place on the same volume; permanent ones replace elsewhere."""

from __future__ import annotations

from simulation import Sim, of, op_types

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.offers import samples


def deployed(count: int = 3) -> Sim:
    sim = Sim()
    sim.subscribe()
    for i in range(count):
        sim.offers(i + 1)
        sim.run(f"db-{i}", i + 1)
    return sim


def test_task_killed_relaunches_in_place_with_same_persistence_id() -> None:
    sim = deployed(1)
    pid = sim.pod("db-0")["persistence_ids"]["data"]
    old = sim.task_of("db-0")
    effects = sim.status(old, "TASK_FAILED", 1)
    assert sim.pod("db-0")["status"] == "FAILED"
    assert of(effects, fx.Revive)
    [accept] = of(sim.offers(1), fx.Accept)
    assert op_types(accept) == ["LAUNCH"]
    [task] = accept.operations[0]["launch"]["task_infos"]
    vols = [r["disk"]["persistence"]["id"] for r in task["resources"] if "disk" in r]
    assert vols == [pid]
    assert sim.task_of("db-0") != old
    assert sim.pod("db-0")["persistence_ids"]["data"] == pid


def test_agent_reboot_under_new_id_relaunches_on_the_volume() -> None:
    sim = deployed(1)
    pid = sim.pod("db-0")["persistence_ids"]["data"]
    sim.status(sim.task_of("db-0"), "TASK_LOST", 1, reason="REASON_AGENT_REMOVED", uuid=False)
    assert sim.pod("db-0")["status"] == "UNREACHABLE"
    sim.move_agent(1, 9)
    [accept] = of(sim.offers(9), fx.Accept)
    assert op_types(accept) == ["LAUNCH"]
    assert accept.operations[0]["launch"]["task_infos"][0]["agent_id"]["value"] == samples.agent_id(9)
    pod = sim.pod("db-0")
    assert pod["agent_id"] == samples.agent_id(9) and pod["persistence_ids"]["data"] == pid
    accepts = of(sim.log, fx.Accept)
    assert [op_types(a) for a in accepts] == [["RESERVE", "CREATE", "LAUNCH"], ["LAUNCH"]]  # no new volume


def test_stale_update_of_old_task_is_killed_not_followed() -> None:
    sim = deployed(1)
    old = sim.task_of("db-0")
    sim.status(old, "TASK_FAILED", 1)
    sim.offers(1)
    effects = sim.status(old, "TASK_RUNNING", 1)
    assert fx.Kill(old, samples.agent_id(1)) in effects


def test_agent_gone_replaces_elsewhere_and_cleans_up_when_agent_returns() -> None:
    sim = deployed(3)
    old_pid = sim.pod("db-1")["persistence_ids"]["data"]
    sim.status(sim.task_of("db-1"), "TASK_GONE_BY_OPERATOR", 2, reason="REASON_AGENT_REMOVED_BY_OPERATOR")
    pod = sim.pod("db-1")
    assert pod["status"] == "REPLACING" and pod["replacement"]
    assert sim.core.snapshot()["state"]["gone_agents"] == [samples.agent_id(2)]
    # the old agent's resources are protected until the new footprint is stored
    [accept] = of(sim.offers(4), fx.Accept)
    assert op_types(accept) == ["RESERVE", "CREATE", "LAUNCH"]
    new_pid = sim.pod("db-1")["persistence_ids"]["data"]
    assert new_pid != old_pid
    assert sim.store.reservation(old_pid)["status"] == "ORPHANED"
    sim.run("db-1", 4)
    assert sim.pod("db-1")["status"] == "READY"
    # the old host comes back under a new id with the old volume: destroyed + unreserved
    sim.move_agent(2, 7)
    [accept] = of(sim.offers(7), fx.Accept)
    assert op_types(accept) == ["DESTROY", "UNRESERVE"]
    assert accept.operations[0]["destroy"]["volumes"][0]["disk"]["persistence"]["id"] == old_pid
    assert sim.store.reservation(old_pid)["status"] == "DESTROY_SENT"
    assert sim.agents[7].held == []
    sim.tick(sim.settings.reservation_timeout + 1)
    assert sim.store.reservation(old_pid) is None  # forgotten: nothing left


def test_unreachable_deadline_counts_from_stored_time_across_restart() -> None:
    sim = deployed(2)
    since = sim.now - 100
    nanos = int(since * 1e9)
    sim.status(
        sim.task_of("db-1"),
        "TASK_UNREACHABLE",
        2,
        reason="REASON_AGENT_REMOVED",
        uuid=False,
        unreachable_time={"nanoseconds": nanos},
    )
    assert sim.pod("db-1")["unreachable_since"] == since
    sim.tick(400)  # 500 s unreachable: not yet
    assert sim.pod("db-1")["status"] == "UNREACHABLE"
    # failover: a new leader on the same store keeps counting from the stored moment
    new = Sim(persister=sim.persister, now=sim.now, holder="h2")
    new.agents = sim.agents
    new.subscribe()
    new.tick(99)
    assert new.pod("db-1")["status"] == "UNREACHABLE"
    new.tick(2)  # 601 s
    assert new.pod("db-1")["status"] == "REPLACING"
    # the old leader is fenced: it acts on nothing
    assert not of(sim.offers(5), fx.Accept)


def test_one_replacement_at_a_time() -> None:
    sim = deployed(3)
    sim.status(sim.task_of("db-0"), "TASK_GONE_BY_OPERATOR", 1, reason="REASON_AGENT_REMOVED_BY_OPERATOR")
    sim.status(sim.task_of("db-1"), "TASK_GONE_BY_OPERATOR", 2, reason="REASON_AGENT_REMOVED_BY_OPERATOR")
    assert [sim.pod(n)["status"] for n in ("db-0", "db-1")] == ["REPLACING", "LOST_PERMANENTLY"]
    steps = sim.core.snapshot()["plans"]["recovery"]["phases"][1]["steps"]
    assert any("one at a time" in s["reason"] for s in steps)
    sim.offers(4)
    sim.run("db-0", 4)
    assert sim.pod("db-1")["status"] == "REPLACING"


def test_operator_replace_of_running_instance() -> None:
    sim = deployed(3)
    replies: list[object] = []
    task = sim.task_of("db-0")
    effects = sim.send(ev.Command("replace", {"instance": "db-0"}, replies.append))
    assert fx.Kill(task, samples.agent_id(1)) in effects
    assert of(effects, fx.Reply)[0].value["ok"]
    sim.status(task, "TASK_KILLED", 1)
    assert sim.pod("db-0")["status"] == "REPLACING"
    [accept] = of(sim.offers(1, 4), fx.Accept)
    assert sim.offered[accept.offer_ids[0]] == 4  # never back on the failed agent
    [cleanup] = of(sim.offers(1), fx.Accept)  # the old volume goes once the new footprint is stored
    assert op_types(cleanup) == ["DESTROY", "UNRESERVE"]
    bad = sim.send(ev.Command("replace", {"instance": "nope-9"}))
    assert not of(bad, fx.Reply)[0].value["ok"]


def test_launch_not_seen_is_retried_by_deadline() -> None:
    sim = Sim()
    sim.subscribe()
    [accept] = of(sim.offers(1), fx.Accept)  # the ACCEPT is lost: no status ever comes
    first_pid = sim.pod("db-0")["persistence_ids"]["data"]
    sim.agents[1].held.clear()
    sim.agents[1].tasks.clear()
    sim.tick(60)
    assert sim.pod("db-0")["status"] == "LAUNCHING"
    effects = sim.tick(61)
    assert sim.pod("db-0")["status"] == "PENDING_RESERVE"
    assert of(effects, fx.Revive)
    [again] = of(sim.offers(1), fx.Accept)
    assert op_types(again) == ["RESERVE", "CREATE", "LAUNCH"]
    assert sim.pod("db-0")["persistence_ids"]["data"] != first_pid
    sim.tick(121)
    assert sim.store.reservation(first_pid) is None  # never seen orphan expires


def test_lost_instance_whose_agent_returns_before_its_turn_is_not_replaced() -> None:
    sim = deployed(3)
    for i in (0, 1):
        sim.status(
            sim.task_of(f"db-{i}"), "TASK_UNREACHABLE", i + 1, reason="REASON_AGENT_REMOVED", uuid=False
        )
    sim.tick(601)
    assert [sim.pod(n)["status"] for n in ("db-0", "db-1")] == ["REPLACING", "LOST_PERMANENTLY"]
    task = sim.task_of("db-1")
    sim.status(task, "TASK_RUNNING", 2, reason="REASON_AGENT_REREGISTERED", uuid=False)
    pod = sim.pod("db-1")
    assert pod["status"] == "READY" and pod["task_id"] == task and not pod["replacement"]


def test_unreachable_instance_revives_offers_even_when_suppressed() -> None:
    sim = deployed(3)
    assert sim.core.snapshot()["state"]["offers"] == "suppressed"
    effects = sim.status(
        sim.task_of("db-2"), "TASK_UNREACHABLE", 3, reason="REASON_AGENT_REMOVED", uuid=False
    )
    assert of(effects, fx.Revive)
    sim.move_agent(3, 8)
    [accept] = of(sim.offers(8), fx.Accept)
    assert op_types(accept) == ["LAUNCH"]


def test_a_removed_framework_id_is_forgotten_and_instances_relaunch_under_a_new_one() -> None:
    sim = Sim()
    sim.subscribe("fw-old")
    sim.offers(1)
    sim.run("db-0", 1)
    assert sim.store.framework_id() == "fw-old"
    sim.send(ev.MesosError("Framework has been removed"))
    assert sim.store.framework_id() is None
    effects = sim.subscribe("fw-new")
    assert sim.store.framework_id() == "fw-new"
    assert of(effects, fx.Reconcile)  # the old tasks are reconciled; the master answers for them
    sim.status(sim.task_of("db-0"), "TASK_GONE", 1)
    assert [op_types(a) for a in of(sim.offers(1), fx.Accept)] == [["LAUNCH"]]  # in place, same volume
