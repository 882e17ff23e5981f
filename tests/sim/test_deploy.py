"""Deploy: three pods with volumes, RESERVE+CREATE+LAUNCH in one ACCEPT, serial rollout, acks."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from simulation import DB, SERVICE, Sim, of, op_types

from mesopress import effects as fx
from mesopress.model.specs import CheckSpec


def test_subscribe_persists_framework_id_reconciles_and_revives(sim: Sim) -> None:
    effects = sim.subscribe("fw-42")
    assert sim.store.framework_id() == "fw-42"
    assert fx.Reconcile(()) in effects
    assert of(effects, fx.Revive)


def test_offer_gets_reserve_create_launch_in_one_accept_with_labels(sim: Sim) -> None:
    sim.subscribe()
    effects = sim.offers(1)
    [accept] = of(effects, fx.Accept)
    assert op_types(accept) == ["RESERVE", "CREATE", "LAUNCH"]
    for res in accept.operations[0]["reserve"]["resources"]:
        keys = {label["key"] for label in res["reservations"][-1]["labels"]["labels"]}
        assert keys == {"mesopress_service", "mesopress_instance", "mesopress_resource_id"}
    # intent recorded before the ACCEPT: pod record, task and reservation are in the store
    pod = sim.store.pod("db-0")
    assert pod["state"]["status"] == "LAUNCHING"
    [pid] = pod["footprint"]["persistence_ids"].values()
    assert sim.store.reservation(pid)["status"] == "RESERVE_SENT"
    assert sim.store.task("db-0", pod["state"]["task_id"])["task_info"]["name"] == "db-0"


def test_serial_deploy_of_three_pods(sim: Sim) -> None:
    sim.subscribe()
    for i in range(3):
        effects = sim.offers(1, 2, 3)
        [accept] = of(effects, fx.Accept)
        assert len(of(effects, fx.Decline)) == 2  # one instance at a time
        name = f"db-{i}"
        assert sim.pod(name)["status"] == "LAUNCHING"
        sim.run(name, sim.offered[accept.offer_ids[0]])
        assert sim.pod(name)["status"] == "READY"
    agents = {sim.pod(f"db-{i}")["agent_id"] for i in range(3)}
    assert len(agents) == 3  # one per agent (unique_agent)
    plan = sim.core.snapshot()["plans"]["deploy"]
    assert plan["status"] == "COMPLETE"
    effects = sim.offers(1)
    assert of(effects, fx.Suppress) or sim.core.offers_wanted is False
    assert not of(effects, fx.Accept)
    [decline] = of(effects, fx.Decline)
    assert decline.refuse_seconds == sim.settings.decline_long_seconds


def test_status_updates_are_acked_after_storing_and_only_with_uuid(sim: Sim) -> None:
    sim.subscribe()
    sim.offers(1)
    task = sim.task_of("db-0")
    effects = sim.status(task, "TASK_RUNNING", 1)
    [ack] = of(effects, fx.Acknowledge)
    assert ack.status["task_id"] == {"value": task}
    assert sim.store.pod("db-0")["state"]["status"] in ("RUNNING", "READY")
    assert not of(sim.status(task, "TASK_RUNNING", 1, uuid=False), fx.Acknowledge)


def test_readiness_check_gates_ready() -> None:
    pod = dataclasses.replace(DB, count=1, readiness_check=CheckSpec(command="true"))
    sim = Sim(dataclasses.replace(SERVICE, pods=(pod,)))
    sim.subscribe()
    sim.offers(1)
    task = sim.task_of("db-0")
    [accept] = of(sim.log, fx.Accept)
    assert "check" in accept.operations[-1]["launch"]["task_infos"][0]
    sim.status(task, "TASK_RUNNING", 1, check_status={"type": "COMMAND", "command": {"exit_code": 1}})
    assert sim.pod("db-0")["status"] == "RUNNING"
    sim.status(task, "TASK_RUNNING", 1, check_status={"type": "COMMAND", "command": {"exit_code": 0}})
    assert sim.pod("db-0")["status"] == "READY"


def test_snapshot_shape(sim: Sim) -> None:
    sim.subscribe()
    sim.offers(1, 2)
    snap = sim.core.snapshot()
    assert set(snap) == {
        "state",
        "plans",
        "pods",
        "reservations",
        "uninstall",
        "config",
        "endpoints",
        "galera",
    }
    assert snap["config"]["target"]["pods"][0]["name"] == "db"
    assert snap["state"]["framework_id"] == "fw-1"
    assert {"deploy", "recovery"} <= set(snap["plans"])
    waiting = sim.pod("db-1")
    assert waiting["status"] == "PENDING_RESERVE"
    assert sim.pod("db-0")["persistence_ids"]["data"].startswith("site.db-0.data.")


def test_unneeded_offers_declined_with_reasons_logged(sim: Sim, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "mesopress.scheduler")
    sim.subscribe()
    effects = sim.offers(1, cpus=0.1)
    assert not of(effects, fx.Accept)
    assert "db-0 waits" in caplog.text and "needs 1 unreserved cpus" in caplog.text
    assert any("needs 1 unreserved cpus" in r for r in sim.pod("db-0")["waiting"])
