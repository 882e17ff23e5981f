"""Suppress/revive, reconciliation, fencing, configuration updates and malformed events."""

from __future__ import annotations

import dataclasses

from simulation import DB, SERVICE, Sim, of

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.model.specs import ConstraintSpec, PlacementSpec, VolumeSpec


def deployed(count: int = 3) -> Sim:
    sim = Sim()
    sim.subscribe()
    for i in range(count):
        sim.offers(i + 1)
        sim.run(f"db-{i}", i + 1)
    return sim


def test_suppress_when_done_and_revive_when_work_appears() -> None:
    sim = deployed(3)
    assert of(sim.log, fx.Suppress)
    assert sim.core.snapshot()["state"]["offers"] == "suppressed"
    effects = sim.status(sim.task_of("db-2"), "TASK_FAILED", 3)
    assert of(effects, fx.Revive)
    effects = sim.offers(3)
    assert of(effects, fx.Accept) and of(effects, fx.Suppress)  # the last waiting instance launched


def test_reconciliation_on_subscribe_and_on_timer_with_backoff() -> None:
    sim = deployed(2)
    tasks = sorted(sim.task_of(f"db-{i}") for i in range(2))
    effects = sim.subscribe()  # a re-subscription
    [implicit, explicit] = of(effects, fx.Reconcile)
    assert implicit.tasks == () and [t["task_id"]["value"] for t in explicit.tasks] == tasks
    sim.status(tasks[0], "TASK_RUNNING", 1, uuid=False, reason="REASON_RECONCILIATION")
    [retry] = of(sim.tick(11), fx.Reconcile)
    assert [t["task_id"]["value"] for t in retry.tasks] == [tasks[1]]
    assert not of(sim.tick(11), fx.Reconcile)  # backoff: 20 s now
    assert of(sim.tick(10), fx.Reconcile)
    sim.status(tasks[1], "TASK_RUNNING", 2, uuid=False)
    assert not of(sim.tick(100), fx.Reconcile)
    full = of(sim.tick(300), fx.Reconcile)
    assert full[0] == fx.Reconcile(())


def test_agent_lost_reconciles_its_tasks() -> None:
    sim = deployed(2)
    from mesopress.offers import samples

    effects = sim.send(ev.AgentLost(samples.agent_id(2)))
    assert [t["task_id"]["value"] for r in of(effects, fx.Reconcile) for t in r.tasks] == [
        sim.task_of("db-1")
    ]


def test_fenced_store_sends_no_acting_effect() -> None:
    sim = Sim()
    sim.subscribe()
    sim.persister.revoke("h1")
    effects = sim.offers(1)
    assert not of(effects, fx.Accept) and of(effects, fx.Decline)
    assert sim.pod("db-0")["status"] == "PENDING_RESERVE"


def test_store_outage_sends_nothing_and_does_not_ack() -> None:
    sim = Sim()
    sim.subscribe()
    sim.offers(1)
    sim.persister.fail_next(1)
    effects = sim.status(sim.task_of("db-0"), "TASK_RUNNING", 1)
    assert not of(effects, fx.Acknowledge)
    assert sim.pod("db-0")["status"] == "LAUNCHING"
    assert of(sim.status(sim.task_of("db-0"), "TASK_RUNNING", 1), fx.Acknowledge)  # resent: now stored


def test_framework_id_not_stored_means_no_action() -> None:
    sim = Sim()
    sim.persister.revoke("h1")
    assert sim.subscribe("fw-9") == []
    assert sim.store.framework_id() is None


def test_config_update_refused_with_reasons_and_nothing_changes() -> None:
    sim = deployed(3)
    before = sim.persister.dump()
    shrunk = dataclasses.replace(DB, volumes=(VolumeSpec("data", 10),))
    moved = dataclasses.replace(DB, volumes=(VolumeSpec("elsewhere", 1000),))
    strict = dataclasses.replace(
        DB, placement=PlacementSpec(True, (ConstraintSpec("rack", "CLUSTER", "r1"),))
    )
    for pod in (shrunk, moved, strict):
        replies: list[object] = []
        effects = sim.send(
            ev.Command(
                "update_config", {"service": dataclasses.replace(SERVICE, pods=(pod,))}, replies.append
            )
        )
        [reply] = of(effects, fx.Reply)
        assert reply.value["ok"] is False and reply.value["reasons"]
        assert reply.reply is not None
    assert sim.persister.dump() == before
    assert sim.core.service == SERVICE


def test_config_update_growing_count_deploys_new_instance() -> None:
    sim = deployed(3)
    grown = dataclasses.replace(SERVICE, pods=(dataclasses.replace(DB, count=4),))
    effects = sim.send(
        ev.Command("update_config", {"service": grown, "doc": {"name": "site"}, "version": "v2"})
    )
    assert of(effects, fx.Reply)[0].value == {"ok": True, "version": "v2"}
    assert of(effects, fx.Revive)
    assert sim.store.target_config() == "v2"
    [accept] = of(sim.offers(4), fx.Accept)
    assert sim.pod("db-3")["status"] == "LAUNCHING"
    del accept


def test_malformed_and_unexpected_events_are_tolerated(sim: Sim) -> None:
    sim.subscribe()
    assert sim.send(ev.Status({"state": "TASK_RUNNING"})) == []
    assert sim.send(ev.Status({"task_id": {"value": "x"}, "state": 7})) == []
    assert sim.send(ev.Offers([{"id": 3}, "junk"])) == []
    assert sim.send(ev.Offers("junk")) == []  # type: ignore[arg-type]
    assert sim.send(ev.Rescinded("O-1")) == []
    assert sim.send(ev.MesosError("Framework has been removed")) == []
    assert sim.send(object()) == []  # type: ignore[arg-type]
    reply = sim.send(ev.Command("dance"))
    assert of(reply, fx.Reply)[0].value["ok"] is False
    other = sim.send(ev.Status({"task_id": {"value": "someone-else"}, "state": "TASK_RUNNING", "uuid": "u"}))
    assert of(other, fx.Acknowledge)
    # and the scheduler still works
    assert of(sim.offers(1), fx.Accept)


def test_quiet_ticks_write_nothing() -> None:
    sim = deployed(3)
    sim.tick(1)
    writes = sim.persister.writes
    for _ in range(5):
        assert sim.tick(1) == []
    assert sim.persister.writes == writes


def test_offer_with_broken_resources_is_declined_not_fatal(sim: Sim) -> None:
    sim.subscribe()
    broken = sim.make_offer(1)
    broken["resources"] = [{"name": "cpus", "type": "SCALAR"}]  # no value
    effects = sim.send(ev.Offers([broken]))
    assert not of(effects, fx.Accept) and of(effects, fx.Decline)
    assert of(sim.offers(2), fx.Accept)
