"""Placement: one instance per agent and attribute constraints, for new and existing instances."""

from __future__ import annotations

import pytest

from mesopress.model.specs import ConstraintSpec, PlacementSpec
from mesopress.offers import placement, samples
from mesopress.offers.placement import Site


def site(n: int, **attributes: str) -> Site:
    return Site(f"S{n}", f"node{n}", attributes)


def rules(*constraints: str, unique_agent: bool = False) -> PlacementSpec:
    parsed = []
    for text in constraints:
        attribute, operator, *value = text.split(":", 2)
        parsed.append(ConstraintSpec(attribute, operator, value[0] if value else ""))
    return PlacementSpec(unique_agent, tuple(parsed))


CASES = [
    ("unique-agent-free", rules(unique_agent=True), site(1), [site(2)], []),
    ("unique-agent-taken", rules(unique_agent=True), site(1), [site(1)], ["already runs an instance"]),
    (
        "unique-agent-same-host-new-id",
        rules(unique_agent=True),
        Site("S9", "node1"),
        [site(1)],
        ["already runs"],
    ),
    ("unique-agent-off", rules(), site(1), [site(1)], []),
    ("zone-unique-ok", rules("zone:UNIQUE"), site(1, zone="a"), [site(2, zone="b")], []),
    ("zone-unique-clash", rules("zone:UNIQUE"), site(1, zone="a"), [site(2, zone="a")], ["zone=a"]),
    ("zone-missing", rules("zone:UNIQUE"), site(1), [], ["has no attribute zone"]),
    ("hostname-unique", rules("hostname:UNIQUE"), Site("S7", "node2"), [site(2)], ["hostname=node2"]),
    ("like-match", rules("rack:LIKE:r[12]"), site(1, rack="r1"), [], []),
    ("like-no-match", rules("rack:LIKE:r1"), site(1, rack="r10"), [], ["does not match r1"]),
    ("unlike-match", rules("rack:UNLIKE:r1"), site(1, rack="r1"), [], ["matches r1"]),
    ("unlike-missing-ok", rules("rack:UNLIKE:r1"), site(1), [], []),
    ("cluster-value", rules("dc:CLUSTER:east"), site(1, dc="west"), [], ["dc=west, must be east"]),
    (
        "cluster-follows-first",
        rules("dc:CLUSTER"),
        site(1, dc="west"),
        [site(2, dc="east")],
        ["must be east"],
    ),
    ("cluster-first-free", rules("dc:CLUSTER"), site(1, dc="west"), [], []),
    ("max-per-under", rules("rack:MAX_PER:2"), site(1, rack="a"), [site(2, rack="a")], []),
    (
        "max-per-reached",
        rules("rack:MAX_PER:2"),
        site(1, rack="a"),
        [site(2, rack="a"), site(3, rack="a")],
        ["already 2"],
    ),
    (
        "every-reason-listed",
        rules("zone:UNIQUE", "rack:LIKE:r1", unique_agent=True),
        site(1, zone="a", rack="r2"),
        [site(1, zone="a")],
        ["already runs", "zone=a", "does not match"],
    ),
]


@pytest.mark.parametrize(
    ("spec", "candidate", "siblings", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_check(spec: PlacementSpec, candidate: Site, siblings: list[Site], expected: list[str]) -> None:
    reasons = placement.check(spec, candidate, siblings)
    assert len(reasons) == len(expected), reasons
    for reason, fragment in zip(reasons, expected, strict=True):
        assert fragment in reason


def test_reasons_name_the_constraint() -> None:
    [reason] = placement.check(rules("zone:UNIQUE"), site(1, zone="a"), [site(2, zone="a")])
    assert reason.startswith("constraint zone:UNIQUE: ")


def test_offer_attributes_of_every_type_are_read() -> None:
    offer = samples.offer(1, attributes={"rack": "r1"})
    offer["attributes"] += [
        {"name": "cores", "type": "SCALAR", "scalar": {"value": 8.0}},
        {"name": "disks", "type": "SET", "set": {"item": ["ssd", "hdd"]}},
        {"name": "ids", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 3}]}},
    ]
    assert placement.read_attributes(offer) == {
        "rack": "r1",
        "cores": "8",
        "disks": "ssd,hdd",
        "ids": "[1-3]",
    }
    assert placement.site_of(offer) == Site(samples.agent_id(1), "node1", placement.read_attributes(offer))


@pytest.mark.parametrize(
    ("spec", "sites", "expected"),
    [
        (rules("zone:UNIQUE"), {"g-0": site(1, zone="a"), "g-1": site(2, zone="b")}, []),
        (
            rules("zone:UNIQUE"),
            {"g-0": site(1, zone="a"), "g-1": site(2, zone="a")},
            ["g-1: constraint zone:UNIQUE"],
        ),
        (
            rules(unique_agent=True),
            {"g-0": site(1), "g-1": site(1), "g-2": site(1)},
            ["g-1: agent", "g-2: agent"],
        ),
    ],
    ids=["existing-fit", "existing-zone-clash", "existing-shared-agent-reported-once-each"],
)
def test_check_existing(spec: PlacementSpec, sites: dict[str, Site], expected: list[str]) -> None:
    problems = placement.check_existing(spec, sites)
    assert [p[: len(e)] for p, e in zip(problems, expected, strict=True)] == expected
