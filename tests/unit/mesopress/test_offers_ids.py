"""Ids, labels and operation builders that every offer decision relies on."""

from __future__ import annotations

import pytest

from mesopress.model import ids
from mesopress.model.specs import PodSpec
from mesopress.offers import evaluator, operations, requests, samples


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("galera-0", ("galera", 0)),
        ("my-pod-12", ("my-pod", 12)),
        ("galera", None),
        ("galera-01", None),
        ("x-0-", None),
    ],
    ids=["simple", "dashed-pod", "no-index", "leading-zero", "trailing-dash"],
)
def test_parse_instance(name: str, expected: tuple[str, int] | None) -> None:
    assert ids.parse_instance(name) == expected


@pytest.mark.parametrize(
    ("task_id", "expected"),
    [("galera-0__ab12", "galera-0"), ("galera-0", None), ("galera-0__", None), ("other__x", None)],
    ids=["ours", "no-separator", "no-uuid", "not-an-instance"],
)
def test_instance_of_task(task_id: str, expected: str | None) -> None:
    assert ids.instance_of_task(task_id) == expected


def test_task_ids_are_new_for_every_launch() -> None:
    first, second = ids.make_task_id("galera-0"), ids.make_task_id("galera-0")
    assert first != second and ids.instance_of_task(first) == "galera-0"
    assert ids.make_task_id("galera-0", lambda: "u1") == "galera-0__u1"


def test_persistence_ids_are_global_and_within_mesos_rules() -> None:
    pid = ids.make_persistence_id("blog", "galera-0", "mysql-data", lambda: "abc")
    assert pid == "blog.galera-0.mysql-data.abc"
    assert ids.make_persistence_id("blog", "galera-0", "d") != ids.make_persistence_id(
        "blog", "galera-0", "d"
    )
    long = ids.make_persistence_id("s" * 200, "galera-0", "p" * 200, lambda: "tail")
    assert len(long) <= ids.MAX_ID_LENGTH and long.endswith(".tail") and "/" not in long


def test_resource_ids_name_instance_and_kind() -> None:
    assert (
        ids.make_resource_id("galera-0", ids.volume_kind("mysql-data"), lambda: "u")
        == "galera-0.disk-mysql-data.u"
    )


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [([], []), ([5], [(5, 5)]), ([3, 1, 2, 7], [(1, 3), (7, 7)]), ([2, 2], [(2, 2)])],
    ids=["empty", "one", "merge-adjacent", "duplicates"],
)
def test_to_ranges(numbers: list[int], expected: list[tuple[int, int]]) -> None:
    assert operations.to_ranges(numbers) == expected


def test_order_merges_and_sorts_operations() -> None:
    a, b = {"name": "cpus"}, {"name": "mem"}
    ops = [
        operations.make("LAUNCH", [{"name": "t"}]),
        operations.make("RESERVE", [a]),
        operations.make("RESERVE", [b]),
    ]
    ops.append(operations.make("DESTROY", [{"name": "disk"}]))
    ordered = operations.order(ops)
    assert [op["type"] for op in ordered] == ["DESTROY", "RESERVE", "LAUNCH"]
    assert ordered[1] == {"type": "RESERVE", "reserve": {"resources": [a, b]}}


def test_accept_carries_a_filter_for_the_unused_rest() -> None:
    ctx = requests.Context("site", "mesopress", "mesopress", (), samples.counting_uuids())
    pod = PodSpec("web", 2, 1.0, 64, "serve")
    one = evaluator.evaluate([requests.launch(pod, 0, "web-0__a")], [samples.offer(1)], ctx)
    assert one.accepts[0].refuse_seconds == ctx.refuse_long
    two = evaluator.evaluate(
        [requests.launch(pod, 0, "web-0__a"), requests.launch(pod, 1, "web-1__b")], [samples.offer(1)], ctx
    )
    assert two.accepts[0].refuse_seconds == ctx.refuse_short


def test_footprint_requires_an_instance_name() -> None:
    with pytest.raises(ValueError, match="error reading footprint"):
        requests.relaunch(PodSpec("web", 1, 1.0, 64, "x"), requests.Footprint("web", "S1"), "t")
