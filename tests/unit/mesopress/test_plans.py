"""Plans: strategies and candidates, deploy order, one replacement at a time, uninstall that finishes."""

from __future__ import annotations

import json

import pytest

from mesopress.machines import instance
from mesopress.machines import instance_events as ev
from mesopress.machines import reservation as rv
from mesopress.machines.instance import InstanceState
from mesopress.machines.instance import Status as IS
from mesopress.machines.instance_events import Goal
from mesopress.plans import deploy, recovery, uninstall
from mesopress.plans.plan import (
    Phase,
    Plan,
    Status,
    Step,
    Strategy,
    aggregate,
    find_step,
    next_candidates,
    update_step,
    warnings,
)

P, C, W, E, ST = Status.PENDING, Status.COMPLETE, Status.WAITING, Status.ERROR, Status.STARTED


def _names(steps: tuple[Step, ...]) -> list[str]:
    return [step.name for step in steps]


def _phase(name: str, strategy: Strategy, *statuses: Status) -> Phase:
    return Phase(name, tuple(Step(f"{name}-{i}", s) for i, s in enumerate(statuses)), strategy)


# ---- plan ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((), C),
        ((C, C), C),
        ((P, P), P),
        ((P, C), ST),
        ((C, W), W),
        ((W, Status.STARTING), ST),
        ((C, E, P), E),
        ((Status.PREPARED,), ST),
    ],
    ids=lambda v: "-".join(s.value for s in v) if isinstance(v, tuple) else v.value,
)
def test_aggregate(statuses: tuple[Status, ...], expected: Status) -> None:
    assert aggregate(statuses) is expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((P, P, P), ["s-0"]),
        ((C, P, P), ["s-1"]),
        ((C, Status.PREPARED, P), ["s-1"]),
        ((C, Status.STARTING, P), []),
        ((C, W, P), []),
        ((E, P), []),
        ((C, C), []),
    ],
    ids=lambda v: "-".join(s.value for s in v) if isinstance(v, tuple) else str(v),
)
def test_serial_phase_offers_only_its_first_unfinished_step(
    statuses: tuple[Status, ...], expected: list
) -> None:
    plan = Plan("p", (_phase("s", Strategy.SERIAL, *statuses),))
    assert _names(next_candidates(plan)) == expected


def test_parallel_phase_offers_every_eligible_step_even_next_to_errors() -> None:
    plan = Plan("p", (_phase("s", Strategy.PARALLEL, P, E, Status.STARTING, Status.PREPARED, C),))
    assert _names(next_candidates(plan)) == ["s-0", "s-3"]


def test_serial_plan_works_on_its_first_unfinished_phase_only() -> None:
    plan = Plan("p", (_phase("a", Strategy.SERIAL, C, C), _phase("b", Strategy.PARALLEL, P, P)))
    assert _names(next_candidates(plan)) == ["b-0", "b-1"]
    blocked = Plan("p", (_phase("a", Strategy.SERIAL, C, ST), _phase("b", Strategy.PARALLEL, P)))
    assert next_candidates(blocked) == ()


def test_parallel_plan_works_on_every_phase() -> None:
    phases = (_phase("a", Strategy.SERIAL, ST, P), _phase("b", Strategy.PARALLEL, P))
    assert _names(next_candidates(Plan("p", phases, Strategy.PARALLEL))) == ["b-0"]


def test_plan_round_trips_through_json_with_computed_statuses() -> None:
    plan = Plan("p", (_phase("a", Strategy.SERIAL, C, W), _phase("b", Strategy.PARALLEL, P)))
    plan = update_step(plan, "a-1", reason="agent a1 unreachable", warning="w")
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["status"] == "WAITING" and data["phases"][0]["status"] == "WAITING"
    assert data["phases"][0]["steps"][1]["reason"] == "agent a1 unreachable"
    assert Plan.from_dict(data) == plan
    assert find_step(plan, "a-1") == plan.phases[0].steps[1] and find_step(plan, "zz") is None
    assert warnings(plan) == ("w",)


# ---- deploy -------------------------------------------------------------------------------------------

PODS = (deploy.PodPlan("galera", 3, Strategy.SERIAL), deploy.PodPlan("wordpress", 2, Strategy.PARALLEL))


def _state(name: str, status: IS, **changes: object) -> InstanceState:
    return InstanceState(**{"name": name, "status": status, "agent_id": "a1", "reserved": True, **changes})  # type: ignore[arg-type]


def test_deploy_builds_one_phase_per_pod_in_order() -> None:
    plan = deploy.build(PODS)
    assert [p.name for p in plan.phases] == ["galera", "wordpress"]
    assert _names(plan.steps) == ["galera-0", "galera-1", "galera-2", "wordpress-0", "wordpress-1"]
    assert _names(next_candidates(plan)) == ["galera-0"]


def test_deploy_galera_waits_for_ready_then_wordpress_goes_in_parallel() -> None:
    plan = deploy.build(PODS)
    running = deploy.refresh(plan, {"galera-0": _state("galera-0", IS.RUNNING)})
    assert next_candidates(running) == ()
    assert "waiting for the readiness check on agent a1" in running.steps[0].reason
    ready = {f"galera-{i}": _state(f"galera-{i}", IS.READY) for i in range(2)}
    assert _names(next_candidates(deploy.refresh(plan, ready))) == ["galera-2"]
    ready["galera-2"] = _state("galera-2", IS.READY)
    assert _names(next_candidates(deploy.refresh(plan, ready))) == ["wordpress-0", "wordpress-1"]


def test_deploy_step_stays_complete_when_the_instance_fails_later() -> None:
    plan = deploy.refresh(deploy.build(PODS), {"galera-0": _state("galera-0", IS.READY)})
    plan = deploy.refresh(plan, {"galera-0": _state("galera-0", IS.FAILED)})
    assert plan.steps[0].status is C


def test_deploy_relaunch_is_a_prepared_candidate_and_endless_retries_become_an_error() -> None:
    failed = deploy.refresh(deploy.build(PODS), {"galera-0": _state("galera-0", IS.FAILED, attempts=1)})
    assert failed.steps[0].status is Status.PREPARED and _names(next_candidates(failed)) == ["galera-0"]
    stuck = deploy.refresh(deploy.build(PODS), {"galera-0": _state("galera-0", IS.FAILED, attempts=5)})
    assert stuck.steps[0].status is E and stuck.steps[0].reason.startswith("error launching galera-0")
    assert stuck.status is E and next_candidates(stuck) == ()


def test_deploy_driven_by_the_instance_machine() -> None:
    plan, states, now = deploy.build(PODS[:1]), {}, 0.0
    for index in range(3):
        name = f"galera-{index}"
        assert _names(next_candidates(deploy.refresh(plan, states))) == [name]
        state = InstanceState(name)
        for event in (
            ev.OfferAccepted("a1", f"t{index}"),
            ev.TaskStatus(f"t{index}", "TASK_RUNNING", "", "a1"),
            ev.ReadinessPassed(),
        ):
            now += 1
            state = instance.transition(state, event, now).state
        states[name] = state
    assert deploy.refresh(plan, states).status is C


# ---- recovery -----------------------------------------------------------------------------------------


def test_recovery_relaunches_in_place_in_parallel_and_shows_the_unreachable_countdown() -> None:
    states = {
        "galera-0": _state("galera-0", IS.FAILED),
        "galera-1": _state("galera-1", IS.UNREACHABLE, unreachable_since=100.0),
        "galera-2": _state("galera-2", IS.READY),
    }
    plan = recovery.build(states, now=400.0, unreachable_timeout_s=600.0)
    assert _names(plan.phases[0].steps) == ["galera-0", "galera-1"]
    assert plan.phases[0].steps[1].status is W
    assert (
        "unreachable for 300s" in plan.phases[0].steps[1].reason
        and "(at 700)" in plan.phases[0].steps[1].reason
    )
    assert _names(next_candidates(plan)) == ["galera-0"]


def test_at_most_one_permanent_replacement_at_a_time() -> None:
    states = {
        "galera-0": _state("galera-0", IS.LOST_PERMANENTLY, since=50.0),
        "galera-1": _state("galera-1", IS.LOST_PERMANENTLY, since=10.0),
        "galera-2": _state("galera-2", IS.LOST_PERMANENTLY, since=10.0, goal=Goal.STOPPED),
    }
    assert recovery.next_replacement(states) == "galera-1"
    plan = recovery.build(states, now=100.0, unreachable_timeout_s=600.0)
    replace = plan.phases[1].steps
    assert [(s.name, s.status) for s in replace] == [("galera-1", P), ("galera-0", W)]
    assert "waiting for the replacement of galera-1" in replace[1].reason
    assert _names(next_candidates(plan)) == ["galera-1"]

    started = instance.transition(states["galera-1"], ev.ReplacementStarted(), 101.0).state
    states["galera-1"] = started
    assert recovery.next_replacement(states) is None
    plan = recovery.build(states, now=102.0, unreachable_timeout_s=600.0, previous=plan)
    assert [(s.name, s.status) for s in plan.phases[1].steps] == [
        ("galera-1", Status.PREPARED),
        ("galera-0", W),
    ]

    running = instance.transition(started, ev.OfferAccepted("a2", "t9"), 103.0).state
    running = instance.transition(running, ev.TaskStatus("t9", "TASK_RUNNING", "", "a2"), 104.0).state
    states["galera-1"] = running
    assert recovery.next_replacement(states) is None
    states["galera-1"] = instance.transition(running, ev.ReadinessPassed(), 105.0).state
    assert recovery.next_replacement(states) == "galera-0"
    plan = recovery.build(states, now=106.0, unreachable_timeout_s=600.0, previous=plan)
    assert [(s.name, s.status) for s in plan.phases[1].steps] == [("galera-0", P), ("galera-1", C)]


def test_recovery_steps_show_progress_after_the_trouble_is_over() -> None:
    failed = {"wordpress-0": _state("wordpress-0", IS.FAILED)}
    plan = recovery.build(failed, now=1.0, unreachable_timeout_s=600.0)
    launching = {"wordpress-0": _state("wordpress-0", IS.LAUNCHING)}
    plan = recovery.build(launching, now=2.0, unreachable_timeout_s=600.0, previous=plan)
    assert plan.phases[0].steps[0].status is Status.STARTING
    ready = {"wordpress-0": _state("wordpress-0", IS.READY)}
    plan = recovery.build(ready, now=3.0, unreachable_timeout_s=600.0, previous=plan)
    assert plan.status is C and plan.steps[0].kind == "relaunch"
    assert recovery.build({}, now=4.0, unreachable_timeout_s=600.0, previous=plan).steps == ()


# ---- uninstall ----------------------------------------------------------------------------------------


def _res(pid: str, status: rv.Status, agent: str = "a1", **changes: object) -> rv.ReservationState:
    base = {
        "persistence_id": pid,
        "instance": pid[2:],
        "status": status,
        "agent_id": agent,
        "confirmed": True,
    }
    return rv.ReservationState(**{**base, "has_volume": True, **changes})  # type: ignore[arg-type]


def test_uninstall_kills_first_then_destroys_then_unreserves_then_deletes_state() -> None:
    states = {"galera-0": _state("galera-0", IS.READY)}
    reservations = {"p-galera-0": _res("p-galera-0", rv.Status.VOLUME_CREATED)}
    plan = uninstall.build(states, reservations)
    assert [p.name for p in plan.phases] == ["kill-tasks", "destroy-volumes", "unreserve", "delete-state"]
    assert _names(next_candidates(plan)) == ["kill-galera-0"]

    states["galera-0"] = _state("galera-0", IS.DECOMMISSIONED, goal=Goal.DECOMMISSIONED)
    assert _names(next_candidates(uninstall.build(states, reservations))) == ["destroy-p-galera-0"]
    reservations["p-galera-0"] = _res("p-galera-0", rv.Status.DESTROY_SENT)
    assert next_candidates(uninstall.build(states, reservations)) == ()
    reservations["p-galera-0"] = _res("p-galera-0", rv.Status.GONE, has_volume=False)
    assert _names(next_candidates(uninstall.build(states, reservations))) == ["delete-state"]
    done = uninstall.build(states, reservations, state_deleted=True)
    assert done.status is C and warnings(done) == ()


def test_uninstall_finishes_when_an_agent_is_gone_and_reports_what_it_left() -> None:
    states = {
        "galera-0": _state("galera-0", IS.DECOMMISSIONED, goal=Goal.DECOMMISSIONED),
        "galera-1": _state("galera-1", IS.UNREACHABLE, agent_id="a2", goal=Goal.DECOMMISSIONED),
    }
    reservations = {
        "p-galera-0": _res("p-galera-0", rv.Status.GONE, has_volume=False),
        "p-galera-1": _res("p-galera-1", rv.Status.ORPHANED, agent="a2"),
    }
    waiting = uninstall.build(states, reservations)
    assert waiting.phases[0].status is W and "waiting for it to return" in waiting.steps[1].reason
    plan = uninstall.build(states, reservations, gone_agents={"a2"}, state_deleted=True)
    assert plan.status is C
    assert warnings(plan) == (
        "could not kill galera-1 on agent a2 (agent gone)",
        "could not clean volume p-galera-1 on agent a2 (agent gone)",
        "could not clean reservation p-galera-1 on agent a2 (agent gone)",
    )


def test_uninstall_uses_the_agent_gone_flag_of_a_reservation() -> None:
    reservations = {"p-x-0": _res("p-x-0", rv.Status.ORPHANED, agent_gone=True)}
    plan = uninstall.build({}, reservations, state_deleted=True)
    assert plan.status is C and len(warnings(plan)) == 2


# ---- a whole story, wired the way the scheduler core is expected to wire it ---------------------------


class Glue:
    """A tiny stand-in for the scheduler core: feeds events, runs effects, keeps both kinds of state."""

    def __init__(self) -> None:
        self.instances: dict[str, InstanceState] = {}
        self.reservations: dict[str, rv.ReservationState] = {}
        self.sent: list[object] = []

    def instance(self, name: str, event: ev.Event, now: float) -> None:
        result = instance.transition(self.instances[name], event, now)
        self.instances[name] = result.state
        for effect in result.effects:
            self.sent.append(effect)
            if isinstance(effect, ev.DestroyOld):
                for pid, res in self.reservations.items():
                    if res.instance == name and res.agent_id == effect.agent_id:
                        self.reservation(pid, rv.Orphan(effect.reason), now)

    def reservation(self, pid: str, event: rv.Event, now: float) -> None:
        result = rv.transition(self.reservations[pid], event, now)
        self.reservations[pid] = result.state
        self.sent.extend(result.effects)


def test_agent_lost_for_good_then_back_under_a_new_id() -> None:
    glue = Glue()
    glue.instances["galera-0"] = _state("galera-0", IS.READY, task_id="t1")
    glue.reservations["p0"] = _res("p0", rv.Status.VOLUME_CREATED, instance="galera-0")

    glue.instance("galera-0", ev.TaskStatus("t1", "TASK_UNREACHABLE", "REASON_AGENT_REMOVED", "a1"), 100.0)
    plan = recovery.build(glue.instances, now=400.0, unreachable_timeout_s=600.0)
    assert plan.steps[0].status is W and next_candidates(plan) == ()

    glue.instance("galera-0", ev.UnreachableDeadlinePassed(600.0), 700.0)
    plan = recovery.build(glue.instances, now=700.0, unreachable_timeout_s=600.0, previous=plan)
    assert _names(next_candidates(plan)) == ["galera-0"] == [recovery.next_replacement(glue.instances)]

    glue.instance("galera-0", ev.ReplacementStarted(), 701.0)
    assert glue.reservations["p0"].status is rv.Status.ORPHANED
    assert ev.Replace("galera-0", "a1") in glue.sent

    glue.reservations["p1"] = rv.ReservationState("p1", "galera-0")
    glue.reservation("p1", rv.Reserve("a2"), 702.0)
    glue.instance("galera-0", ev.OfferAccepted("a2", "t2"), 702.0)
    glue.instance("galera-0", ev.TaskStatus("t2", "TASK_RUNNING", "", "a2"), 705.0)
    glue.reservation("p1", rv.InUse(), 705.0)
    glue.instance("galera-0", ev.ReadinessPassed(), 720.0)
    plan = recovery.build(glue.instances, now=720.0, unreachable_timeout_s=600.0, previous=plan)
    assert plan.status is C and glue.reservations["p1"].status is rv.Status.VOLUME_CREATED

    glue.reservation("p0", rv.Seen("a9", volume=True), 5000.0)  # the old host rebooted as agent a9
    assert glue.sent[-1] == rv.Send("p0", "a9", ("DESTROY", "UNRESERVE"))
    glue.reservation("p0", rv.NotSeen(60.0), 5100.0)
    assert glue.reservations["p0"].status is rv.Status.GONE and glue.sent[-1] == rv.Forget("p0")
    assert glue.instances["galera-0"].agent_id == "a2"
