"""Tests of the pure allocation round (facts §3.2)."""

from __future__ import annotations

import pytest

from localmesos import allocator
from localmesos import resources_text as rtext
from localmesos.allocator import AgentView, Filters, FrameworkView, allocate, refuse_duration
from localmesos.resources import Resources

SPEC = "cpus:4;mem:4096;disk:10000;ports:[31000-31999]"


def reserved(name: str, amount: float, role: str, principal: str = "p") -> dict:
    return {
        "name": name,
        "type": "SCALAR",
        "scalar": {"value": amount},
        "reservations": [{"type": "DYNAMIC", "role": role, "principal": principal}],
    }


def refined(name: str, amount: float) -> dict:
    res = reserved(name, amount, "a")
    res["reservations"].append({"type": "DYNAMIC", "role": "a/b", "principal": "p"})
    return res


def agent(agent_id: str = "a0", spec: str = SPEC, extra: list[dict] = ()) -> AgentView:
    return AgentView(agent_id, rtext.parse(spec) + Resources(list(extra)))


@pytest.mark.parametrize(
    "filters, expected",
    [
        (None, 5.0),
        ({}, 5.0),
        ({"refuse_seconds": 0}, None),
        ({"refuse_seconds": 0.0}, None),
        ({"refuse_seconds": -1}, 5.0),
        ({"refuse_seconds": 0.5}, 1.0),
        ({"refuse_seconds": 20}, 20.0),
        ({"refuse_seconds": 1e20}, 365 * 24 * 3600.0),
        ({"refuse_seconds": float("nan")}, 5.0),
    ],
    ids=["absent", "empty", "zero", "zero-float", "negative", "below-interval", "twenty", "capped", "nan"],
)
def test_refuse_duration(filters, expected):
    assert refuse_duration(filters, 1.0) == expected


@pytest.mark.parametrize(
    "spec, ok",
    [
        ("cpus:0.01", True),
        ("mem:32", True),
        ("cpus:0.009;mem:31", False),
        ("disk:1000", False),
        ("cpus:1", True),
    ],
    ids=["min-cpus", "min-mem", "below-both", "disk-only", "cpus"],
)
def test_min_allocatable(spec, ok):
    assert allocator.allocatable(rtext.parse(spec)) is ok


def test_one_offer_with_everything_usable_by_the_role():
    view = agent(extra=[reserved("cpus", 1, "a"), reserved("cpus", 2, "b")])
    grants = allocate([view], [FrameworkView("f1", ["a"])], Filters(), 0.0)
    (grant,) = grants
    assert (grant.framework_id, grant.role, grant.agent_id) == ("f1", "a", "a0")
    assert grant.resources.scalar("cpus") == 5
    assert grant.resources.reserved("b").empty


def test_each_role_gets_its_reservations_and_one_gets_unreserved():
    view = agent(extra=[reserved("cpus", 1, "a"), reserved("cpus", 2, "b")])
    grants = allocate([view], [FrameworkView("fa", ["a"]), FrameworkView("fb", ["b"])], Filters(), 0.0)
    by_role = {g.role: g.resources for g in grants}
    assert set(by_role) == {"a", "b"}
    total = by_role["a"] + by_role["b"]
    assert total == view.free
    assert by_role["a"].reserved("b").empty and by_role["b"].reserved("a").empty


def test_reserved_only_candidate_below_minimum_is_not_offered():
    view = agent(extra=[reserved("disk", 100, "b")])
    grants = allocate([view], [FrameworkView("fa", ["a"]), FrameworkView("fb", ["b"])], Filters(), 0.0)
    assert [g.role for g in grants] == ["a"]


def test_multi_role_framework_gets_one_offer_per_role_and_agent():
    view = agent(extra=[reserved("cpus", 1, "b")])
    grants = allocate([view], [FrameworkView("f", ["a", "b"])], Filters(), 0.0)
    assert sorted((g.framework_id, g.role) for g in grants) == [("f", "a"), ("f", "b")] or len(grants) == 1
    assert sum((g.resources for g in grants), Resources()) == view.free


def test_suppressed_role_gets_nothing():
    grants = allocate([agent()], [FrameworkView("f", ["a"], suppressed=frozenset({"a"}))], Filters(), 0.0)
    assert grants == []


def test_least_allocated_framework_first():
    rich = FrameworkView("f1", ["a"], allocated={"a": {"cpus": 3.0}})
    poor = FrameworkView("f2", ["a"])
    grants = allocate([agent("a0"), agent("a1")], [rich, poor], Filters(), 0.0, {"cpus": 8.0, "mem": 8192.0})
    assert [g.framework_id for g in grants] == ["f2", "f2"] or [g.framework_id for g in grants][0] == "f2"


def test_frameworks_alternate_across_agents():
    fws = [FrameworkView("f1", ["a"]), FrameworkView("f2", ["a"])]
    grants = allocate([agent(f"a{i}") for i in range(4)], fws, Filters(), 0.0, {"cpus": 16.0, "mem": 16384.0})
    assert [g.framework_id for g in grants] == ["f1", "f2", "f1", "f2"]


def test_least_allocated_role_first():
    fws = [FrameworkView("f1", ["a"], allocated={"a": {"cpus": 2.0}}), FrameworkView("f2", ["b"])]
    (grant,) = allocate([agent()], fws, Filters(), 0.0, {"cpus": 4.0})
    assert grant.role == "b"


@pytest.mark.parametrize(
    "refused_spec, now, filtered",
    [
        (SPEC, 1.0, True),
        ("cpus:8;mem:8192;disk:20000;ports:[31000-32999]", 1.0, True),
        ("cpus:2;mem:4096;disk:10000;ports:[31000-31999]", 1.0, False),
        (SPEC, 5.0, False),
    ],
    ids=["same", "superset", "subset-refused", "expired"],
)
def test_filters(refused_spec, now, filtered):
    filters = Filters()
    filters.add("f", "a", "a0", rtext.parse(refused_spec), expires=5.0)
    grants = allocate([agent()], [FrameworkView("f", ["a"])], filters, now)
    assert (grants == []) is filtered


def test_filter_is_per_framework_role_and_agent():
    filters = Filters()
    filters.add("f1", "a", "a0", rtext.parse(SPEC), expires=100.0)
    grants = allocate([agent("a0"), agent("a1")], [FrameworkView("f1", ["a"])], filters, 0.0)
    assert [g.agent_id for g in grants] == ["a1"]
    grants = allocate([agent("a0")], [FrameworkView("f1", ["a"]), FrameworkView("f2", ["a"])], filters, 0.0)
    assert [g.framework_id for g in grants] == ["f2"]


def test_filters_clear_by_role_and_expire():
    filters = Filters()
    filters.add("f", "a", "x", rtext.parse(SPEC), 10.0)
    filters.add("f", "b", "x", rtext.parse(SPEC), 20.0)
    filters.add("g", "a", "x", rtext.parse(SPEC), 10.0)
    filters.add("g", "a", "y", Resources(), 10.0)
    assert len(filters) == 3
    filters.clear("f", ["a"])
    assert len(filters) == 2
    filters.expire(15.0)
    assert len(filters) == 1
    filters.clear("f")
    assert len(filters) == 0


def test_gpu_agent_only_for_gpu_aware_frameworks():
    view = AgentView("g", rtext.parse("cpus:1;mem:64;gpus:1"), has_gpus=True)
    assert allocate([view], [FrameworkView("f", ["a"])], Filters(), 0.0) == []
    (grant,) = allocate([view], [FrameworkView("f", ["a"], gpu_aware=True)], Filters(), 0.0)
    assert grant.resources.scalar("gpus") == 1


def test_refined_reservations_need_refinement_capability():
    view = agent(spec="cpus:1;mem:64", extra=[refined("cpus", 1)])
    (grant,) = allocate([view], [FrameworkView("f", ["a/b"], refinement=False)], Filters(), 0.0)
    assert grant.resources.scalar("cpus") == 1
    (grant,) = allocate([view], [FrameworkView("f", ["a/b"])], Filters(), 0.0)
    assert grant.resources.scalar("cpus") == 2


def test_no_frameworks_no_grants():
    assert allocate([agent()], [], Filters(), 0.0) == []


def test_ten_thousand_agents_each_get_one_offer():
    free = rtext.parse(SPEC)
    views = [AgentView(f"a{i}", free) for i in range(10_000)]
    fws = [FrameworkView(f"f{i}", ["a"]) for i in range(3)]
    grants = allocate(views, fws, Filters(), 0.0, {"cpus": 40_000.0, "mem": 4e7})
    assert len(grants) == 10_000
