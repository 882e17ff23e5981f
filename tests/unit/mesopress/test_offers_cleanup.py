"""Clean-up of our labelled resources that no known instance owns; never anyone else's."""

from __future__ import annotations

from typing import Any

import pytest

from mesopress.model.specs import PodSpec
from mesopress.offers import cleanup, evaluator, operations, requests, samples
from mesopress.offers.pool import Index

OLD_CPUS = samples.reserved("cpus", 1.0, "galera-0", "galera-0.cpus.old")
OLD_VOLUME = samples.volume(2048, "galera-0", "galera-0.disk.old", "site.galera-0.data.old")
KNOWN = requests.Footprint(
    "galera-1",
    samples.agent_id(1),
    resource_ids={"cpus": "galera-1.cpus.k", "disk:data": "galera-1.disk.k"},
    persistence_ids={"data": "site.galera-1.data.k"},
)


def ctx(*footprints: requests.Footprint) -> requests.Context:
    return requests.Context("site", "mesopress", "mesopress", footprints, samples.counting_uuids())


def test_unowned_volume_is_destroyed_then_its_disk_and_reservations_unreserved() -> None:
    result = evaluator.evaluate(
        [], [samples.offer(1, extra=[OLD_CPUS, OLD_VOLUME])], ctx(KNOWN), collect_garbage=True
    )
    [accept] = result.accepts
    assert [op["type"] for op in accept.operations] == ["DESTROY", "UNRESERVE"]
    assert accept.operations[0]["destroy"]["volumes"] == [OLD_VOLUME]
    unreserved = accept.operations[1]["unreserve"]["resources"]
    assert unreserved == [operations.plain_disk(OLD_VOLUME), OLD_CPUS]
    assert "disk" not in unreserved[0] and unreserved[0]["reservations"] == OLD_VOLUME["reservations"]
    assert result.declines == ()


NOT_GARBAGE = [
    ("known-resource-id", samples.reserved("cpus", 1.0, "galera-1", "galera-1.cpus.k")),
    ("known-volume", samples.volume(10, "galera-1", "galera-1.disk.k", "site.galera-1.data.k")),
    (
        "known-persistence-id-unknown-rid",
        samples.volume(10, "galera-1", "galera-1.disk.zzz", "site.galera-1.data.k"),
    ),
    ("static-reservation", samples.foreign("cpus", 1.0)),
    ("other-service", samples.foreign("cpus", 1.0, label_service="shop")),
    ("other-role", samples.reserved("cpus", 1.0, "galera-0", "galera-0.cpus.old", role="other")),
    (
        "unlabelled-dynamic",
        operations.scalar("mem", 64, "mesopress", {"type": "DYNAMIC", "role": "mesopress", "principal": "x"}),
    ),
    (
        "no-resource-id-label",
        operations.scalar(
            "mem",
            64,
            "mesopress",
            {
                "type": "DYNAMIC",
                "role": "mesopress",
                "labels": {"labels": [{"key": "mesopress_service", "value": "site"}]},
            },
        ),
    ),
]


@pytest.mark.parametrize("resource", [c[1] for c in NOT_GARBAGE], ids=[c[0] for c in NOT_GARBAGE])
def test_resources_that_are_known_or_not_ours_are_never_touched(resource: dict[str, Any]) -> None:
    result = evaluator.evaluate([], [samples.offer(1, extra=[resource])], ctx(KNOWN), collect_garbage=True)
    assert result.accepts == () and len(result.declines) == 1


def test_clean_up_is_off_unless_asked() -> None:
    result = evaluator.evaluate([], [samples.offer(1, extra=[OLD_CPUS, OLD_VOLUME])], ctx(KNOWN))
    assert result.accepts == () and len(result.declines) == 1


def test_clean_up_and_a_launch_share_one_accept_in_mesos_order() -> None:
    pod = PodSpec("wordpress", 1, 1.0, 64, "serve")
    request = requests.launch(pod, 0, "wordpress-0__a")
    offer = samples.offer(1, extra=[OLD_CPUS, OLD_VOLUME])
    result = evaluator.evaluate([request], [offer], ctx(KNOWN), collect_garbage=True)
    [accept] = result.accepts
    assert [op["type"] for op in accept.operations] == ["DESTROY", "UNRESERVE", "RESERVE", "LAUNCH"]
    assert accept.garbage == cleanup.Garbage((OLD_VOLUME,), (OLD_CPUS,), frozenset({"galera-0"}))


def test_just_placed_instances_are_not_garbage() -> None:
    pod = PodSpec("wordpress", 1, 1.0, 64, "serve")
    result = evaluator.evaluate(
        [requests.launch(pod, 0, "wordpress-0__a")], [samples.offer(1)], ctx(), collect_garbage=True
    )
    assert [op["type"] for op in result.accepts[0].operations] == ["RESERVE", "LAUNCH"]


def test_find_garbage_on_an_index() -> None:
    index = Index(samples.offer(1, extra=[OLD_CPUS, samples.foreign("cpus", 1.0)]), "mesopress", "site")
    expected = cleanup.Garbage((), (OLD_CPUS,), frozenset({"galera-0"}))  # whose labels they carry
    assert cleanup.find_garbage(index, set(), set()) == expected
    assert not cleanup.find_garbage(index, {"galera-0.cpus.old"}, set())
    assert cleanup.release(cleanup.Garbage()) == []


def test_a_replaced_instances_old_volume_is_not_released_in_the_same_round() -> None:
    old = requests.Footprint(
        "galera-0",
        samples.agent_id(1),
        "node1",
        resource_ids={"cpus": "galera-0.cpus.old", "disk:data": "galera-0.disk.old"},
        persistence_ids={"data": "site.galera-0.data.old"},
    )
    pod = PodSpec("galera", 1, 1.0, 64, "run")
    offers = [samples.offer(1, extra=[OLD_CPUS, OLD_VOLUME]), samples.offer(2)]
    result = evaluator.evaluate(
        [requests.replace(pod, old, "galera-0__b")], offers, ctx(old), collect_garbage=True
    )
    assert [a.agent_id for a in result.accepts] == [samples.agent_id(2)]
    assert [d.offer_id for d in result.declines] == [samples.offer_id(1)]
    later = evaluator.evaluate(
        [], offers[:1], ctx(result.accepts[0].matches[0].footprint), collect_garbage=True
    )
    assert [op["type"] for op in later.accepts[0].operations] == ["DESTROY", "UNRESERVE"]


def test_uninstall_releases_everything_of_ours_and_nothing_else() -> None:
    offer = samples.offer(1, extra=[OLD_CPUS, OLD_VOLUME, samples.foreign("cpus", 1.0, label_service="shop")])
    garbage = cleanup.find_in_offer(offer, ctx())
    assert garbage == cleanup.Garbage((OLD_VOLUME,), (OLD_CPUS,), frozenset({"galera-0"}))
    assert cleanup.find_in_offer(offer, ctx(KNOWN)) == garbage
    assert not cleanup.find_in_offer(samples.offer(2, role="other", extra=[OLD_CPUS]), ctx())
