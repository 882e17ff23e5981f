"""The decommission and rollout plans: pure views over instance and reservation states."""

from __future__ import annotations

import dataclasses

import pytest

from mesopress.machines import reservation as rv
from mesopress.machines.instance import InstanceState
from mesopress.machines.instance import Status as S
from mesopress.machines.instance_events import Goal
from mesopress.model.specs import PodSpec
from mesopress.plans import decommission, rollout
from mesopress.plans.decommission import Held, PodTarget
from mesopress.plans.plan import Plan, Status, next_candidates

NOW = 1000.0


def held(name: str, status: S = S.READY, goal: Goal = Goal.RUNNING, **kw: object) -> Held:
    state = InstanceState(name, status, goal, task_id=f"{name}-t", agent_id=f"a-{name}", reserved=True)
    return Held(state, **kw)  # type: ignore[arg-type]


def five(**changes: Held) -> dict[str, Held]:
    out = {f"galera-{i}": held(f"galera-{i}", persistence_ids=(f"p{i}",)) for i in range(5)}
    return out | changes


def steps(plan: Plan) -> dict[str, tuple[str, str]]:
    return {s.target: (s.status.value, s.kind) for s in plan.steps}


def shrink(instances: dict[str, Held], drain: float = 10.0, **kw: object) -> Plan:
    target = PodTarget("galera", 3, drain, True)
    return decommission.build([target], instances, kw.pop("reservations", {}), NOW, **kw)  # type: ignore[arg-type]


def test_surplus_is_highest_index_first_and_only_of_that_pod() -> None:
    names = ["galera-0", "galera-10", "galera-3", "galera-4", "web-7"]
    assert decommission.surplus("galera", 3, names) == ["galera-10", "galera-4", "galera-3"]


def test_the_highest_surplus_instance_drains_first_the_others_wait_their_turn() -> None:
    plan = shrink(five())
    assert steps(plan) == {"galera-4": ("PENDING", "drain"), "galera-3": ("PENDING", "drain")}
    assert [s.target for s in next_candidates(plan)] == ["galera-4"]
    assert "after galera-4" in plan.steps[1].reason


def test_the_kill_waits_drain_seconds_from_the_stored_moment() -> None:
    draining = five(**{"galera-4": held("galera-4", persistence_ids=("p4",), drain_since=NOW - 9)})
    assert steps(shrink(draining))["galera-4"] == ("STARTED", "drain")
    assert next_candidates(shrink(draining)) == ()
    drained = five(**{"galera-4": held("galera-4", persistence_ids=("p4",), drain_since=NOW - 10)})
    assert steps(shrink(drained))["galera-4"] == ("PREPARED", "kill")


def test_no_drain_kills_at_once() -> None:
    assert steps(shrink(five(), drain=0))["galera-4"] == ("PENDING", "kill")


@pytest.mark.parametrize("status", [S.FAILED, S.RUNNING, S.UNREACHABLE, S.KILLING])
def test_never_shrink_while_a_node_that_stays_is_not_ready(status: S) -> None:
    plan = shrink(five(**{"galera-1": held("galera-1", status)}))
    step = plan.steps[0]
    assert step.status is Status.WAITING and "galera-1" in step.reason and next_candidates(plan) == ()


def test_a_surplus_node_that_is_not_ready_may_still_be_removed() -> None:
    plan = shrink(five(**{"galera-3": held("galera-3", S.FAILED)}))
    assert [s.target for s in next_candidates(plan)] == ["galera-4"]


def test_after_the_kill_the_step_follows_the_instance_and_its_volume() -> None:
    killing = held("galera-4", S.KILLING, Goal.DECOMMISSIONED, persistence_ids=("p4",))
    assert steps(shrink(five(**{"galera-4": killing})))["galera-4"] == ("STARTED", "kill")
    away = held("galera-4", S.UNREACHABLE, Goal.DECOMMISSIONED, persistence_ids=("p4",))
    assert steps(shrink(five(**{"galera-4": away})))["galera-4"] == ("WAITING", "kill")
    done = five(
        **{"galera-4": held("galera-4", S.DECOMMISSIONED, Goal.DECOMMISSIONED, persistence_ids=("p4",))}
    )
    orphan = rv.ReservationState("p4", "galera-4", rv.Status.ORPHANED, "a4", has_volume=True)
    assert steps(shrink(done, reservations={"p4": orphan}))["galera-4"] == ("STARTING", "cleanup")
    sent = dataclasses.replace(orphan, status=rv.Status.DESTROY_SENT)
    assert steps(shrink(done, reservations={"p4": sent}))["galera-4"] == ("STARTED", "cleanup")
    gone = dataclasses.replace(orphan, status=rv.Status.GONE)
    assert steps(shrink(done, reservations={"p4": gone}))["galera-4"] == ("PREPARED", "forget")
    assert steps(shrink(done))["galera-4"] == ("PREPARED", "forget")  # its record was deleted


def test_a_volume_on_a_gone_agent_completes_with_a_warning() -> None:
    done = five(
        **{"galera-4": held("galera-4", S.DECOMMISSIONED, Goal.DECOMMISSIONED, persistence_ids=("p4",))}
    )
    orphan = rv.ReservationState("p4", "galera-4", rv.Status.ORPHANED, "a4", has_volume=True)
    plan = shrink(done, reservations={"p4": orphan}, gone_agents={"a4"})
    [step] = [s for s in plan.steps if s.target == "galera-4"]
    assert step.kind == "forget" and "could not clean volume p4 on agent a4 (agent gone)" in step.warning


def test_reservations_without_a_volume_wait_for_an_unreserve_before_forgetting() -> None:
    def leaving(reserved: bool) -> dict[str, Held]:
        done = held("galera-4", S.DECOMMISSIONED, Goal.DECOMMISSIONED, agent_id="a4", reserved=reserved)
        return five(**{"galera-4": done})

    [waiting] = [s for s in shrink(leaving(True)).steps if s.target == "galera-4"]
    assert (waiting.status.value, waiting.kind) == ("STARTING", "cleanup")
    assert waiting.reason == "waiting for an offer from agent a4 to unreserve its resources"
    assert steps(shrink(leaving(False)))["galera-4"] == ("PREPARED", "forget")  # UNRESERVE sent
    [gone] = [s for s in shrink(leaving(True), gone_agents={"a4"}).steps if s.target == "galera-4"]
    assert gone.kind == "forget"
    assert "could not unreserve its resources on agent a4 (agent gone)" in gone.warning


def test_forgotten_instances_stay_visible_as_complete_until_wanted_again() -> None:
    done = five(**{"galera-4": held("galera-4", S.DECOMMISSIONED, Goal.DECOMMISSIONED)})
    before = shrink(done)
    rest = {n: h for n, h in five().items() if n != "galera-4"}
    after = shrink(rest, previous=before)
    assert steps(after)["galera-4"] == ("COMPLETE", "done")
    assert [s.target for s in next_candidates(after)] == ["galera-3"]
    grown = decommission.build([PodTarget("galera", 5)], rest, {}, NOW, previous=after)
    assert steps(grown) == {}


# ---- rollout ------------------------------------------------------------------------------------------

POD = PodSpec("galera", 3, 0.5, 1024, "run", kind="galera", kind_settings='{"options": {}, "size": 3}')


def test_the_hash_ignores_sizes_and_follows_what_tasks_are_rendered_from() -> None:
    base = rollout.config_hash(POD)
    assert (
        rollout.config_hash(dataclasses.replace(POD, count=5, kind_settings='{"options": {}, "size": 5}'))
        == base
    )
    changed = [
        dataclasses.replace(POD, kind_settings='{"options": {"a": "1"}, "size": 3}'),
        dataclasses.replace(POD, command="run2"),
        dataclasses.replace(POD, env=(("A", "1"),)),
        dataclasses.replace(POD, mem=2048),
        dataclasses.replace(POD, kill_grace_period=90.0),
    ]
    assert all(rollout.config_hash(p) != base for p in changed)


def roll(
    instances: dict[str, Held], hashes: dict[str, str], drain: float = 0.0, previous: Plan | None = None
) -> Plan:
    return rollout.build([rollout.PodTarget("galera", 3, "new", drain)], instances, hashes, NOW, previous)


THREE = {f"galera-{i}": held(f"galera-{i}") for i in range(3)}


def test_stale_instances_restart_in_index_order_one_at_a_time() -> None:
    plan = roll(THREE, {"galera-0": "old", "galera-1": "old", "galera-2": "new"})
    assert steps(plan) == {"galera-0": ("PENDING", "restart"), "galera-1": ("PENDING", "wait")}
    assert [s.target for s in next_candidates(plan)] == ["galera-0"]


def test_unknown_hashes_are_left_alone() -> None:
    assert steps(roll(THREE, {"galera-0": ""})) == {}


def test_a_restart_waits_until_every_instance_is_ready() -> None:
    instances = THREE | {"galera-2": held("galera-2", S.RUNNING)}
    plan = roll(instances, {"galera-0": "old", "galera-1": "old", "galera-2": "new"})
    assert steps(plan)["galera-0"] == ("WAITING", "wait") and next_candidates(plan) == ()


def test_a_restarting_instance_holds_the_phase_until_ready_with_the_new_hash() -> None:
    first = roll(THREE, {"galera-0": "old", "galera-1": "old"})
    killing = THREE | {"galera-0": held("galera-0", S.KILLING)}
    assert (
        steps(roll(killing, {"galera-0": "old", "galera-1": "old"}, previous=first))["galera-0"][0]
        == "STARTED"
    )
    relaunched = THREE | {"galera-0": held("galera-0", S.RUNNING)}
    plan = roll(relaunched, {"galera-0": "new", "galera-1": "old"}, previous=first)
    assert steps(plan)["galera-0"] == ("STARTED", "wait") and next_candidates(plan) == ()
    plan = roll(THREE, {"galera-0": "new", "galera-1": "old"}, previous=plan)
    assert steps(plan)["galera-0"] == ("COMPLETE", "wait")
    assert [s.target for s in next_candidates(plan)] == ["galera-1"]


def test_with_a_drain_the_instance_leaves_the_endpoints_first() -> None:
    assert steps(roll(THREE, {"galera-0": "old"}, drain=10))["galera-0"] == ("PENDING", "drain")
    draining = THREE | {"galera-0": held("galera-0", drain_since=NOW - 5)}
    assert steps(roll(draining, {"galera-0": "old"}, drain=10))["galera-0"] == ("STARTED", "drain")
    drained = THREE | {"galera-0": held("galera-0", drain_since=NOW - 10)}
    assert steps(roll(drained, {"galera-0": "old"}, drain=10))["galera-0"] == ("PENDING", "restart")


def test_no_restart_while_the_pod_is_being_scaled_down() -> None:
    instances = THREE | {"galera-3": held("galera-3"), "galera-4": held("galera-4")}
    plan = roll(instances, {"galera-0": "old"})
    assert steps(plan)["galera-0"] == ("WAITING", "wait") and "galera-4" in plan.steps[0].reason
