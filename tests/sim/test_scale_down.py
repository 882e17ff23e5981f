"""Scaling a pod without volumes (a web pod) down and up: drain, kill, release, forget."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
from simulation import SERVICE, Sim, of, op_types

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.model.specs import PodSpec, PortSpec

WEB = PodSpec("web", 3, 0.5, 256, "serve", ports=(PortSpec("http"),), kill_grace_period=20.0)
SITE = dataclasses.replace(SERVICE, pods=(WEB,))


def with_count(count: int) -> Any:
    return dataclasses.replace(SITE, pods=(dataclasses.replace(WEB, count=count),))


def update(sim: Sim, service: Any) -> dict[str, Any]:
    [reply] = of(sim.send(ev.Command("update_config", {"service": service}, lambda _: None)), fx.Reply)
    return dict(reply.value)


def web_sim() -> Sim:
    sim = Sim(SITE)
    sim.subscribe()
    for agent in (1, 2, 3):
        sim.offers(agent)
        sim.run(f"web-{agent - 1}", agent)
    assert {p["status"] for p in sim.core.snapshot()["pods"]} == {"READY"}
    return sim


def decommission_step(sim: Sim, name: str) -> dict[str, Any]:
    plan = sim.core.snapshot()["plans"]["decommission"]
    return next(s for phase in plan["phases"] for s in phase["steps"] if s["target"] == name)


def endpoints(sim: Sim) -> set[str]:
    return {e["instance"] for e in sim.core.snapshot()["endpoints"]["web"]}


def test_the_drained_instance_leaves_the_endpoints_before_the_kill_which_waits_drain_seconds() -> None:
    sim = web_sim()
    task = sim.task_of("web-2")
    assert update(sim, with_count(1))["ok"] is True
    assert endpoints(sim) == {"web-0", "web-1"}  # web-2 first, at once; web-1 still serves
    drain = sim.settings.drain_seconds
    assert not of(sim.tick(drain - 1), fx.Kill)
    [kill] = of(sim.tick(1), fx.Kill)
    assert kill.task_id == task and kill.grace_period == 20.0
    assert sim.store.task("web-2", task)["task_info"]["kill_policy"] == {
        "grace_period": {"nanoseconds": 20 * 10**9}
    }
    effects = sim.status(task, "TASK_KILLED", 3)
    # its reserved cpus, mem and port wait for an offer of agent 3: offers keep coming until then
    assert of(effects, fx.Revive) and not of(effects, fx.Suppress), effects
    step = decommission_step(sim, "web-2")
    assert step["status"] == "STARTING" and "to unreserve its resources" in step["reason"], step
    assert sim.store.pod("web-2") is not None
    effects = sim.offers(3)
    [accept] = of(effects, fx.Accept)
    assert op_types(accept) == ["UNRESERVE"] and sim.agents[3].held == []
    assert sim.store.pod("web-2") is None  # released: forgotten
    assert decommission_step(sim, "web-2")["status"] == "COMPLETE"
    assert endpoints(sim) == {"web-0"}  # the next one drains now
    assert not of(sim.tick(drain - 1), fx.Kill)
    assert of(sim.tick(1), fx.Kill)


def test_scale_up_after_a_scale_down_makes_fresh_instances() -> None:
    sim = web_sim()
    old = sim.pod("web-2")["task_id"]
    update(sim, with_count(2))
    [kill] = of(sim.tick(sim.settings.drain_seconds), fx.Kill)
    sim.status(kill.task_id, "TASK_KILLED", 3)
    sim.offers(3)
    update(sim, with_count(3))
    assert sim.pod("web-2")["status"] == "PENDING_RESERVE" and sim.pod("web-2")["task_id"] is None
    [accept] = of(sim.offers(3), fx.Accept)
    assert op_types(accept) == ["RESERVE", "LAUNCH"] and sim.task_of("web-2") != old
    assert sim.core.snapshot()["plans"]["deploy"]["phases"][0]["steps"][2]["status"] != "COMPLETE"


def test_a_count_below_one_is_refused_and_changes_nothing() -> None:
    sim = web_sim()
    answer = update(sim, with_count(0))
    assert answer["ok"] is False and any("pods[web].count: cannot go below 1" in r for r in answer["reasons"])
    assert endpoints(sim) == {"web-0", "web-1", "web-2"}
    assert not of(sim.tick(600), fx.Kill)


def test_an_instance_that_failed_while_surplus_is_not_relaunched_but_removed() -> None:
    sim = web_sim()
    sim.status(sim.task_of("web-2"), "TASK_FAILED", 3, reason="REASON_COMMAND_EXECUTOR_FAILED")
    update(sim, with_count(2))
    sim.offers(1, 2, 3)
    assert sim.pod("web-2")["status"] == "FAILED" and sim.pod("web-2")["goal"] == "RUNNING"
    assert of(sim.tick(sim.settings.drain_seconds), fx.Kill) == []  # no task to kill
    assert sim.store.pod("web-2") is not None  # its reservations are still on agent 3
    [accept] = of(sim.offers(3), fx.Accept)
    assert op_types(accept) == ["UNRESERVE"] and sim.store.pod("web-2") is None


def test_scaled_up_again_while_being_removed_it_finishes_leaving_then_comes_back_fresh() -> None:
    sim = web_sim()
    update(sim, with_count(2))
    [kill] = of(sim.tick(sim.settings.drain_seconds), fx.Kill)
    assert update(sim, with_count(3))["ok"] is True  # before the task ended
    assert sim.pod("web-2")["goal"] == "DECOMMISSIONED" and "web-2" not in endpoints(sim)
    sim.status(kill.task_id, "TASK_KILLED", 3)
    [release] = of(sim.offers(3), fx.Accept)  # the old reservations first
    assert op_types(release) == ["UNRESERVE"]
    assert sim.pod("web-2")["status"] == "PENDING_RESERVE" and sim.pod("web-2")["goal"] == "RUNNING"
    deploy = sim.core.snapshot()["plans"]["deploy"]["phases"][0]["steps"][2]
    assert deploy["target"] == "web-2" and deploy["status"] == "PENDING"
    [accept] = of(sim.offers(3), fx.Accept)
    assert op_types(accept) == ["RESERVE", "LAUNCH"]  # then a fresh instance
    sim.run("web-2", 3)
    assert endpoints(sim) == {"web-0", "web-1", "web-2"} and sim.task_of("web-2") != kill.task_id


def test_an_agent_gone_while_its_instance_leaves_ends_the_wait_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mesopress")
    sim = web_sim()
    update(sim, with_count(2))
    [kill] = of(sim.tick(sim.settings.drain_seconds), fx.Kill)
    effects = sim.status(kill.task_id, "TASK_GONE_BY_OPERATOR", 3, reason="REASON_AGENT_REMOVED_BY_OPERATOR")
    assert sim.store.pod("web-2") is None  # no offer of agent 3 will ever come: nothing to wait for
    step = decommission_step(sim, "web-2")
    assert step["status"] == "COMPLETE", step
    assert "could not unreserve its resources on agent" in caplog.text
    assert of(effects, fx.Suppress) or sim.core.offers_wanted is False


def test_the_update_is_logged_as_pod_counts_not_as_the_whole_file(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="mesopress")
    sim = web_sim()
    env = (("DB_PASSWORD", "s3cret-value"),)
    update(sim, dataclasses.replace(SITE, pods=(dataclasses.replace(WEB, count=2, env=env),)))
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("command update_config")]
    assert line.startswith("command update_config {'service': {'pods': {'web': 2}}}: {'ok': True"), line
    assert "s3cret-value" not in caplog.text
