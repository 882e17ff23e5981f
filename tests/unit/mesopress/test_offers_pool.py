"""The pool: which parts of an offer mesopress may use, and claims on them."""

from __future__ import annotations

import pytest

from mesopress.offers import samples
from mesopress.offers.pool import Pool

ROLE, SERVICE = "mesopress", "site"


def pool_of(*extra: dict, **kw: object) -> Pool:
    return Pool.of(samples.offer(1, extra=extra, **kw), ROLE, SERVICE)  # type: ignore[arg-type]


def test_unreserved_resources_are_summed() -> None:
    pool = pool_of(samples.offer(2)["resources"][0])  # a second unreserved cpus entry
    assert (
        pool.available("cpus") == 8.0
        and pool.available("mem") == 8192.0
        and pool.available("disk") == 20000.0
    )
    assert pool.index.ranges == [(31000, 32000)]


IGNORED = [
    ("static-reservation", samples.foreign("cpus", 2.0)),
    ("other-service-labels", samples.foreign("cpus", 2.0, label_service="shop")),
    ("other-role-reservation", samples.reserved("cpus", 2.0, "galera-0", "r1", role="other")),
    ("other-allocation-role", dict(samples.offer(2, role="other")["resources"][0])),
    ("revocable", dict(samples.offer(2)["resources"][0], revocable={})),
    (
        "mount-disk",
        dict(samples.offer(2)["resources"][2], disk={"source": {"type": "MOUNT", "mount": {"root": "/mnt"}}}),
    ),
    (
        "pre-refinement-role",
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2.0}, "role": "mesopress"},
    ),
]


@pytest.mark.parametrize("resource", [c[1] for c in IGNORED], ids=[c[0] for c in IGNORED])
def test_resources_that_are_not_ours_are_ignored(resource: dict) -> None:
    pool = pool_of(resource)
    assert pool.available("cpus") == 4.0 and pool.available("disk") == 20000.0
    assert pool.index.reserved == {} and pool.index.volumes == {} and pool.index.labelled == []


def test_offer_of_another_role_is_unusable() -> None:
    pool = Pool.of(samples.offer(1, role="other"), ROLE, SERVICE)
    assert not pool.index.role_ok and pool.available("cpus") == 0.0


def test_our_reservations_and_volumes_are_indexed_by_id() -> None:
    cpus = samples.reserved("cpus", 1.0, "galera-0", "galera-0.cpus.a")
    vol = samples.volume(2048, "galera-0", "galera-0.disk.b", "site.galera-0.data.c")
    pool = pool_of(cpus, vol)
    assert pool.index.reserved == {"galera-0.cpus.a": [cpus]}
    assert pool.index.volumes == {"site.galera-0.data.c": vol}
    assert pool.available("cpus") == 4.0  # reserved resources are not unreserved capacity
    assert pool.take_reserved("galera-0.cpus.a") == [cpus] and pool.take_reserved("galera-0.cpus.a") == []
    assert (
        pool.take_volume("site.galera-0.data.c") == vol and pool.take_volume("site.galera-0.data.c") is None
    )


@pytest.mark.parametrize(
    ("ranges", "wanted", "expected"),
    [
        (((31000, 31002),), [0, 0], [31000, 31001]),
        (((3306, 3306), (31000, 31001)), [3306, 0], [3306, 31000]),
        (((31000, 31001),), [0, 31000], [31001, 31000]),
        (((31000, 31001),), [3306], None),
        (((31000, 31000),), [0, 0], None),
        ((), [0], None),
    ],
    ids=[
        "two-dynamic",
        "fixed-and-dynamic",
        "fixed-first-dynamic-skips-it",
        "fixed-missing",
        "too-few",
        "no-ports",
    ],
)
def test_take_ports(ranges: tuple, wanted: list[int], expected: list[int] | None) -> None:
    assert pool_of(ports=ranges).take_ports(wanted) == expected


def test_fork_isolates_claims() -> None:
    pool = pool_of()
    fork = pool.fork()
    assert fork.take_scalar("cpus", 3.0) and fork.take_ports([31000]) == [31000]
    assert not fork.take_scalar("cpus", 1.5)
    assert pool.available("cpus") == 4.0 and pool.take_ports([31000]) == [31000]


def test_scalar_claims_use_mesos_precision() -> None:
    pool = pool_of(cpus=0.3)
    assert pool.take_scalar("cpus", 0.1) and pool.take_scalar("cpus", 0.2)
    assert not pool.take_scalar("cpus", 0.001)
