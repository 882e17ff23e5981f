"""resources: Mesos resource identity, merging, arithmetic, formats, validation and --resources parsing."""

import copy
import math
import re

import pytest

from localmesos import resources_formats as formats
from localmesos import resources_identity as rid
from localmesos import resources_text as rtext
from localmesos import resources_validate as rvalidate
from localmesos import resources_values as rvalues
from localmesos.resources import ResourceError, Resources

# ---------------------------------------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------------------------------------


def scalar(name, value, **extra):
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}, **extra}


def ranges(name, *pairs, **extra):
    return {
        "name": name,
        "type": "RANGES",
        "ranges": {"range": [{"begin": b, "end": e} for b, e in pairs]},
        **extra,
    }


def items(name, *values, **extra):
    return {"name": name, "type": "SET", "set": {"item": list(values)}, **extra}


def labels(**pairs):
    return {"labels": [{"key": k, "value": v} for k, v in pairs.items()]}


def dyn(role="galera", principal="fw", label=None):
    info = {"type": "DYNAMIC", "role": role}
    if principal is not None:
        info["principal"] = principal
    if label is not None:
        info["labels"] = label
    return info


def static(role="galera"):
    return {"type": "STATIC", "role": role}


def reserved(name, value, *stack, **extra):
    return scalar(name, value, reservations=list(stack or [dyn()]), **extra)


def volume(pid, size=100.0, path="data", principal="fw", stack=None, source=None, **extra):
    disk = {
        "persistence": {"id": pid, "principal": principal},
        "volume": {"container_path": path, "mode": "RW"},
    }
    if source is not None:
        disk["source"] = source
    return scalar("disk", size, reservations=stack or [dyn()], disk=disk, **extra)


def mount(root="/mnt/d1", size=1000.0, **extra):
    return scalar("disk", size, disk={"source": {"type": "MOUNT", "mount": {"root": root}}}, **extra)


def path_disk(root="/mnt/p1", size=1000.0, **extra):
    return scalar("disk", size, disk={"source": {"type": "PATH", "path": {"root": root}}}, **extra)


def rs(*resources):
    return Resources(list(resources))


# ---------------------------------------------------------------------------------------------------------
# identity: what makes two resources "the same kind" (facts §3.1)
# ---------------------------------------------------------------------------------------------------------

SAME_KIND = [
    (scalar("cpus", 1.0), scalar("cpus", 2.0)),
    (
        reserved("cpus", 1, dyn(label=labels(a="1", b="2"))),
        reserved("cpus", 2, dyn(label=labels(b="2", a="1"))),
    ),
    (scalar("cpus", 1, allocation_info={"role": "r"}), scalar("cpus", 2, allocation_info={"role": "r"})),
    (path_disk(size=1), path_disk(size=2)),
    (reserved("mem", 1, static()), reserved("mem", 2, static())),
    (volume("v1", path="a"), volume("v1", path="b")),
    (volume("v1", principal="p1"), volume("v1", principal="p2")),
]
SAME_KIND_IDS = [
    "plain",
    "labels-any-order",
    "same-allocation",
    "same-path-source",
    "same-static",
    "volume-ignores-container-path",
    "volume-ignores-persistence-principal",
]

OTHER_KIND = [
    (scalar("cpus", 1), scalar("mem", 1)),
    (scalar("cpus", 1), items("cpus", "a")),
    (scalar("cpus", 1, allocation_info={"role": "a"}), scalar("cpus", 1, allocation_info={"role": "b"})),
    (scalar("cpus", 1, allocation_info={"role": "a"}), scalar("cpus", 1)),
    (scalar("cpus", 1), reserved("cpus", 1)),
    (reserved("cpus", 1, dyn(role="a")), reserved("cpus", 1, dyn(role="b"))),
    (reserved("cpus", 1, dyn(principal="p1")), reserved("cpus", 1, dyn(principal="p2"))),
    (reserved("cpus", 1, dyn(principal=None)), reserved("cpus", 1, dyn(principal="p"))),
    (reserved("cpus", 1, dyn(label=labels(pod="0"))), reserved("cpus", 1, dyn(label=labels(pod="1")))),
    (reserved("cpus", 1, dyn(label=labels(pod="0"))), reserved("cpus", 1, dyn())),
    (reserved("cpus", 1, dyn(label={"labels": []})), reserved("cpus", 1, dyn())),
    (reserved("cpus", 1, static()), reserved("cpus", 1, dyn(principal=None))),
    (reserved("cpus", 1, dyn(role="a")), reserved("cpus", 1, dyn(role="a"), dyn(role="a/b"))),
    (path_disk("/p1"), path_disk("/p2")),
    (path_disk("/p1"), scalar("disk", 1000.0)),
    (volume("v1"), volume("v2")),
    (volume("v1"), reserved("disk", 100.0)),
    (scalar("cpus", 1), scalar("cpus", 1, revocable={})),
    (scalar("cpus", 1, provider_id={"value": "a"}), scalar("cpus", 1, provider_id={"value": "b"})),
    (scalar("cpus", 1, provider_id={"value": "a"}), scalar("cpus", 1)),
    (volume("v1"), volume("v1", shared={})),
]
OTHER_KIND_IDS = [
    "name",
    "type",
    "allocation-role",
    "allocation-presence",
    "reserved-vs-unreserved",
    "reservation-role",
    "principal",
    "principal-presence",
    "label-value",
    "labels-presence",
    "empty-labels-vs-none",
    "static-vs-dynamic",
    "stack-depth",
    "path-root",
    "path-vs-root",
    "persistence-id",
    "volume-vs-disk",
    "revocable",
    "provider-id",
    "provider-presence",
    "shared",
]


@pytest.mark.parametrize(("left", "right"), SAME_KIND, ids=SAME_KIND_IDS)
def test_identity_equal_for_same_kind(left, right):
    assert rid.identity(formats.upgrade(left)) == rid.identity(formats.upgrade(right))


@pytest.mark.parametrize(("left", "right"), OTHER_KIND, ids=OTHER_KIND_IDS)
def test_identity_differs_for_other_kinds(left, right):
    assert rid.identity(left) != rid.identity(right)


@pytest.mark.parametrize(("left", "right"), OTHER_KIND, ids=OTHER_KIND_IDS)
def test_other_kinds_never_merge_nor_contain_each_other(left, right):
    both = rs(left) + rs(right)
    assert len(both) == 2
    assert not rs(left).contains(rs(right))
    assert not rs(right).contains(rs(left))
    with pytest.raises(ValueError, match="does not contain"):
        _ = rs(left) - rs(right)


@pytest.mark.parametrize(
    ("left", "right"), SAME_KIND[:5], ids=SAME_KIND_IDS[:5]
)  # volumes are the same kind but never merge: tested below
def test_same_kind_merges_into_one(left, right):
    both = rs(left) + rs(right)
    assert len(both) == 1
    assert both.scalar(left["name"]) == left["scalar"]["value"] + right["scalar"]["value"]
    assert both - rs(right) == rs(left)


def test_identity_is_hashable_and_stable():
    key = rid.identity(volume("v1"))
    assert hash(key) == hash(rid.identity(copy.deepcopy(volume("v1"))))


# ---------------------------------------------------------------------------------------------------------
# values: scalars (fixed point), ranges, sets
# ---------------------------------------------------------------------------------------------------------


def test_scalars_add_in_thousandths():
    total = rs(scalar("cpus", 0.1)) + rs(scalar("cpus", 0.2))
    assert total.scalar("cpus") == 0.3
    assert total == rs(scalar("cpus", 0.3))
    assert total.to_json()[0]["scalar"]["value"] == 0.3


@pytest.mark.parametrize(
    ("value", "fixed"),
    [(1.0, 1000), (0.0005, 1), (0.0004, 0), (1.0015, 1002), (-0.0005, -1), (2.4999, 2500)],
    ids=["one", "half-up", "below-half", "round-half-away", "negative-half", "rounds-to-2.5"],
)
def test_fixed_point_rounds_half_away_from_zero(value, fixed):
    assert rvalues.to_fixed(value) == fixed


def test_subtraction_of_scalars_is_exact():
    left = rs(scalar("cpus", 1.0)) - rs(scalar("cpus", 0.9))
    assert left.scalar("cpus") == 0.1


def test_subtracting_everything_leaves_nothing():
    pool = rs(scalar("cpus", 1.5), ranges("ports", (1, 10)), items("disks", "a"))
    assert (pool - pool).empty
    assert not (pool - pool)


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ([(1, 2)], [(3, 4)], [(1, 4)]),
        ([(1, 5)], [(3, 8)], [(1, 8)]),
        ([(10, 20)], [(1, 2)], [(1, 2), (10, 20)]),
        ([(1, 1), (3, 3)], [(2, 2)], [(1, 3)]),
        ([(1, 10)], [(2, 3)], [(1, 10)]),
    ],
    ids=["adjacent-coalesce", "overlap", "disjoint-sorted", "fill-gap", "inside"],
)
def test_ranges_union(left, right, expected):
    total = rs(ranges("ports", *left)) + rs(ranges("ports", *right))
    assert total.ranges("ports") == expected
    assert len(total) == 1


@pytest.mark.parametrize(
    ("pool", "taken", "left"),
    [
        ([(31000, 31999)], [(31000, 31000)], [(31001, 31999)]),
        ([(31000, 31999)], [(31500, 31509)], [(31000, 31499), (31510, 31999)]),
        ([(1, 5), (10, 15)], [(1, 5), (15, 15)], [(10, 14)]),
    ],
    ids=["first-port", "middle-block", "across-ranges"],
)
def test_ranges_subtract(pool, taken, left):
    result = rs(ranges("ports", *pool)) - rs(ranges("ports", *taken))
    assert result.ranges("ports") == left


def test_ranges_contains_requires_every_port():
    pool = rs(ranges("ports", (31000, 31010), (31020, 31030)))
    assert pool.contains(rs(ranges("ports", (31005, 31010), (31020, 31020))))
    assert not pool.contains(rs(ranges("ports", (31009, 31021))))
    with pytest.raises(ValueError, match="does not contain"):
        _ = pool - rs(ranges("ports", (31011, 31011)))


def test_sets_union_subtract_contains():
    pool = rs(items("gpus_ids", "a", "b")) + rs(items("gpus_ids", "b", "c"))
    assert pool.set_items("gpus_ids") == {"a", "b", "c"}
    assert pool.contains(rs(items("gpus_ids", "a", "c")))
    assert not pool.contains(rs(items("gpus_ids", "d")))
    assert (pool - rs(items("gpus_ids", "b"))).set_items("gpus_ids") == {"a", "c"}
    with pytest.raises(ValueError):
        _ = pool - rs(items("gpus_ids", "a", "z"))


def test_empty_resources_are_dropped():
    pool = rs(scalar("cpus", 0.0), ranges("ports"), items("s"))
    assert pool.empty
    assert len(pool) == 0
    assert pool.to_json() == []


# ---------------------------------------------------------------------------------------------------------
# volumes, MOUNT/PATH disks, shared volumes
# ---------------------------------------------------------------------------------------------------------


def test_volumes_never_merge_even_with_the_same_id():
    pool = rs(volume("v1")) + rs(volume("v1"))
    assert len(pool) == 2
    assert pool.scalar("disk") == 200.0
    assert len(pool - rs(volume("v1"))) == 1


def test_volume_subtracts_only_whole():
    pool = rs(volume("v1", size=100.0))
    assert not pool.contains(rs(volume("v1", size=50.0)))
    with pytest.raises(ValueError, match="does not contain"):
        _ = pool - rs(volume("v1", size=50.0))
    assert (pool - rs(volume("v1", size=100.0, path="other"))).empty


def test_volume_keeps_its_container_path_and_principal():
    out = rs(volume("v1", path="mysql-data", principal="p9")).to_json()[0]
    assert out["disk"]["volume"] == {"container_path": "mysql-data", "mode": "RW"}
    assert out["disk"]["persistence"] == {"id": "v1", "principal": "p9"}


def test_mount_disks_never_merge_and_subtract_only_whole():
    pool = rs(mount("/mnt/d1")) + rs(mount("/mnt/d1"))
    assert len(pool) == 2
    assert not rs(mount(size=1000.0)).contains(rs(mount(size=500.0)))
    assert rs(mount(size=1000.0)).contains(rs(mount(size=1000.0)))
    assert (rs(mount()) - rs(mount())).empty
    with pytest.raises(ValueError):
        _ = rs(mount(size=1000.0)) - rs(mount(size=400.0))


def test_block_disks_are_exclusive_too():
    block = scalar("disk", 10.0, disk={"source": {"type": "BLOCK"}})
    assert len(rs(block) + rs(block)) == 2
    assert not rs(block).contains(rs(scalar("disk", 5.0, disk={"source": {"type": "BLOCK"}})))


def test_path_disks_merge_and_split():
    pool = rs(path_disk(size=600.0)) + rs(path_disk(size=400.0))
    assert len(pool) == 1
    assert (pool - rs(path_disk(size=250.0))).scalar("disk") == 750.0


def test_shared_volumes_count_copies():
    shared = volume("s1", shared={})
    pool = rs(shared) + rs(shared)
    assert len(pool) == 1
    assert len(pool.to_json()) == 2
    assert pool.scalar("disk") == 100.0  # a shared resource is one resource used many times
    assert pool.contains(rs(shared, shared))
    assert not pool.contains(rs(shared, shared, shared))
    assert pool - rs(shared) == rs(shared)
    assert pool != rs(shared)


def test_containment_counts_exclusive_copies():
    pool = rs(volume("v1"))
    assert not pool.contains(rs(volume("v1"), volume("v1")))
    assert rs(volume("v1"), volume("v1")).contains(rs(volume("v1"), volume("v1")))


# ---------------------------------------------------------------------------------------------------------
# the Resources object
# ---------------------------------------------------------------------------------------------------------


def test_equality_ignores_order_and_splitting():
    left = rs(scalar("cpus", 1), scalar("mem", 10), scalar("cpus", 1))
    right = rs(scalar("mem", 10), scalar("cpus", 2))
    assert left == right
    assert left != rs(scalar("mem", 10), scalar("cpus", 2.001))
    assert (left == [scalar("cpus", 2)]) is False


def test_add_and_sub_do_not_change_operands():
    pool = rs(scalar("cpus", 4))
    _ = pool + rs(scalar("cpus", 1))
    _ = pool - rs(scalar("cpus", 1))
    assert pool.scalar("cpus") == 4.0


def test_add_and_sub_accept_plain_lists():
    pool = rs(scalar("cpus", 4)) + [scalar("cpus", 1)]
    assert (pool - [scalar("cpus", 2)]).scalar("cpus") == 3.0


def test_sub_error_names_both_sides():
    with pytest.raises(ValueError) as err:
        _ = rs(scalar("cpus", 1)) - rs(scalar("cpus", 2))
    assert str(err.value) == "cpus:1 does not contain cpus:2"


def test_contains_single_dict_and_invalid_dict():
    pool = rs(scalar("cpus", 4))
    assert pool.contains(scalar("cpus", 4))
    assert scalar("cpus", 1) in pool
    assert not pool.contains(scalar("cpus", -1))
    assert not pool.contains(scalar("cpus", 5))
    assert pool.contains(rs())


def test_contains_accepts_pre_refinement_dict():
    pool = rs(reserved("cpus", 2, dyn(principal="p")))
    assert pool.contains(
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 1},
            "role": "galera",
            "reservation": {"principal": "p"},
        }
    )


def test_iteration_yields_copies():
    pool = rs(reserved("cpus", 2, dyn(label=labels(pod="0"))))
    first = next(iter(pool))
    first["reservations"][0]["labels"]["labels"][0]["value"] = "changed"
    first["scalar"]["value"] = 99
    assert pool == rs(reserved("cpus", 2, dyn(label=labels(pod="0"))))


def test_constructor_copies_its_input():
    resource = reserved("cpus", 2, dyn(label=labels(pod="0")))
    pool = Resources([resource])
    resource["reservations"][0]["labels"]["labels"][0]["value"] = "changed"
    assert pool.to_json()[0]["reservations"][0]["labels"] == labels(pod="0")
    assert pool == rs(reserved("cpus", 2, dyn(label=labels(pod="0"))))


def test_constructor_upgrades_pre_refinement_input():
    pool = Resources([{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "role": "galera"}])
    assert pool.to_json() == [scalar("cpus", 1, reservations=[static("galera")])]


@pytest.mark.parametrize(
    "bad",
    [
        scalar("cpus", -1),
        {"type": "SCALAR", "scalar": {"value": 1}},
        "cpus:1",
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "role": "*", "reservation": {}},
    ],
    ids=["negative", "no-name", "not-a-dict", "star-reservation"],
)
def test_constructor_rejects_invalid_resources(bad):
    with pytest.raises(ResourceError):
        Resources([bad])


def test_trusted_skips_validation_for_hot_paths():
    pool = Resources.trusted([scalar("cpus", 1), scalar("cpus", 2)])
    assert pool == rs(scalar("cpus", 3))


def test_copy_constructor_and_hash():
    pool = rs(scalar("cpus", 1))
    assert Resources(pool) == pool
    assert hash(Resources(pool)) == hash(pool)


def test_str_is_mesos_like():
    pool = rs(
        reserved("cpus", 1, dyn(principal="p", label=labels(pod="0")), allocation_info={"role": "galera"}),
        ranges("ports", (1, 2), (5, 5)),
        volume("v1", path="d"),
    )
    text = str(pool)
    assert "cpus(allocated: galera)(reservations: [(DYNAMIC,galera,p,{pod: 0})]):1" in text
    assert "ports:[1-2, 5-5]" in text
    assert "disk(reservations: [(DYNAMIC,galera,fw)])[v1:d:RW]:100" in text
    assert str(rs()) == "{}"


def test_to_json_round_trips():
    pool = rs(
        scalar("cpus", 1.5),
        ranges("ports", (31000, 31999)),
        items("zones", "b", "a"),
        reserved("mem", 512, dyn(label=labels(pod="0"))),
        volume("v1", source={"type": "MOUNT", "mount": {"root": "/mnt/x"}}),
    )
    assert Resources(pool.to_json()) == pool
    zones = [r for r in pool.to_json() if r["name"] == "zones"]
    assert [sorted(r["set"]["item"]) for r in zones] == [["a", "b"]]


# ---------------------------------------------------------------------------------------------------------
# selections and transformations
# ---------------------------------------------------------------------------------------------------------

POOL = [
    scalar("cpus", 4),
    scalar("mem", 4096),
    reserved("cpus", 1, static("galera")),
    reserved("mem", 512, dyn("galera")),
    reserved("mem", 256, dyn("wordpress")),
    reserved("cpus", 0.5, dyn("eng"), dyn("eng/dev")),
    volume("v1"),
    volume("v2", stack=[dyn("wordpress")]),
]


def test_reserved_unreserved_static_dynamic():
    pool = Resources(POOL)
    assert pool.unreserved() == rs(scalar("cpus", 4), scalar("mem", 4096))
    assert pool.reserved() + pool.unreserved() == pool
    assert pool.reserved("galera") == rs(
        reserved("cpus", 1, static("galera")), reserved("mem", 512), volume("v1")
    )
    assert pool.reserved("eng") == rs()
    assert pool.reserved("eng/dev").scalar("cpus") == 0.5
    assert pool.static_reserved() == rs(reserved("cpus", 1, static("galera")))
    assert pool.dynamic_reserved() == pool.reserved() - pool.static_reserved()


def test_volumes_and_persistence_ids():
    pool = Resources(POOL)
    assert pool.volumes() == rs(volume("v1"), volume("v2", stack=[dyn("wordpress")]))
    assert pool.persistence_ids() == {"v1", "v2"}
    assert rs(scalar("cpus", 1)).persistence_ids() == set()


@pytest.mark.parametrize(
    ("role", "expected_cpus", "expected_mem"),
    [
        ("galera", 5.0, 4096 + 512 + 100 * 0),
        ("wordpress", 4.0, 4096 + 256),
        ("eng", 4.0, 4096),
        ("eng/dev", 4.5, 4096),
        ("eng/dev/x", 4.5, 4096),
        ("other", 4.0, 4096),
        ("galera-x", 4.0, 4096),
    ],
    ids=["galera", "wordpress", "parent-not-child", "child", "grandchild", "other", "prefix-is-not-parent"],
)
def test_allocatable_to(role, expected_cpus, expected_mem):
    offer = Resources(POOL).allocatable_to(role)
    assert offer.scalar("cpus") == expected_cpus
    assert offer.scalar("mem") == expected_mem


def test_allocatable_to_includes_idle_volumes_of_the_role():
    assert Resources(POOL).allocatable_to("galera").persistence_ids() == {"v1"}


def test_allocate_and_unallocate():
    pool = Resources(POOL)
    offered = pool.allocate("galera")
    assert all(r["allocation_info"] == {"role": "galera"} for r in offered)
    assert offered != pool
    assert not offered.contains(pool)
    assert offered.unallocate() == pool
    assert pool.unallocate() is pool
    assert offered.allocate("galera") is offered
    assert offered.allocation_roles() == {"galera"}


def test_unallocate_merges_what_only_allocation_kept_apart():
    mixed = rs(
        scalar("cpus", 1, allocation_info={"role": "a"}), scalar("cpus", 2, allocation_info={"role": "b"})
    )
    assert len(mixed) == 2
    assert mixed.unallocate() == rs(scalar("cpus", 3))
    assert len(mixed.unallocate()) == 1


def test_push_and_pop_reservation():
    pool = rs(scalar("cpus", 1), scalar("mem", 2))
    pushed = pool.push_reservation(dyn())
    assert pushed == rs(reserved("cpus", 1), reserved("mem", 2))
    assert pushed.pop_reservation() == pool
    refined = pushed.push_reservation(dyn("galera/x"))
    assert refined.pop_reservation() == pushed
    with pytest.raises(ResourceError):
        pool.pop_reservation()
    assert pushed.to_unreserved() == pool


def test_filter_get_names():
    pool = Resources(POOL)
    assert pool.filter(lambda r: r["name"] == "cpus").scalar("cpus") == 5.5
    assert pool.get("mem").names() == {"mem"}
    assert pool.names() == {"cpus", "mem", "disk"}


def test_revocable_and_shared_selections():
    pool = rs(scalar("cpus", 1, revocable={}), scalar("cpus", 2), volume("s", shared={}))
    assert pool.revocable() == rs(scalar("cpus", 1, revocable={}))
    assert pool.non_revocable().scalar("cpus") == 2.0
    assert pool.shared() == rs(volume("s", shared={}))
    assert pool.non_shared() == rs(scalar("cpus", 1, revocable={}), scalar("cpus", 2))


def test_summary_is_state_style():
    pool = rs(
        scalar("cpus", 4),
        scalar("mem", 4096),
        scalar("disk", 20000),
        ranges("ports", (31000, 31999)),
        reserved("cpus", 1),
        scalar("cpus", 8, revocable={}),
        items("zones", "b", "a"),
    )
    assert pool.summary() == {
        "cpus": 5.0,
        "gpus": 0.0,
        "mem": 4096.0,
        "disk": 20000.0,
        "ports": "[31000-31999]",
        "zones": "{a, b}",
    }
    assert rs().summary() == {"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}


def test_summary_of_split_ranges():
    assert rs(ranges("ports", (1, 2), (4, 4))).summary()["ports"] == "[1-2, 4-4]"


def test_reserved_by_role():
    by_role = Resources(POOL).reserved_by_role()
    assert set(by_role) == {"galera", "wordpress", "eng/dev"}
    assert by_role["wordpress"] == rs(
        reserved("mem", 256, dyn("wordpress")), volume("v2", stack=[dyn("wordpress")])
    )
    assert by_role["galera"].summary()["cpus"] == 1.0


# ---------------------------------------------------------------------------------------------------------
# formats: upgrade / downgrade (facts §2)
# ---------------------------------------------------------------------------------------------------------

PRE_AND_REFINED = [
    (scalar("cpus", 1), scalar("cpus", 1)),
    (scalar("cpus", 1, role="*"), scalar("cpus", 1)),
    (scalar("cpus", 1, role="galera"), scalar("cpus", 1, reservations=[static()])),
    (scalar("cpus", 1, role="galera", reservation={}), scalar("cpus", 1, reservations=[dyn(principal=None)])),
    (
        scalar("disk", 10, role="galera", reservation={"principal": "fw", "labels": labels(pod="0")}),
        scalar("disk", 10, reservations=[dyn(label=labels(pod="0"))]),
    ),
    (
        scalar("cpus", 1, role="galera", reservation={"principal": "fw"}, allocation_info={"role": "galera"}),
        scalar("cpus", 1, reservations=[dyn()], allocation_info={"role": "galera"}),
    ),
]
PRE_AND_REFINED_IDS = ["no-role", "star", "static", "dynamic-bare", "dynamic-labels", "allocated"]


@pytest.mark.parametrize(("pre", "refined"), PRE_AND_REFINED, ids=PRE_AND_REFINED_IDS)
def test_upgrade(pre, refined):
    before = copy.deepcopy(pre)
    assert formats.upgrade(pre) == refined
    assert pre == before  # input untouched


@pytest.mark.parametrize(("pre", "refined"), PRE_AND_REFINED[1:], ids=PRE_AND_REFINED_IDS[1:])
def test_downgrade_reverses_upgrade(pre, refined):
    assert formats.downgrade(refined) == pre


@pytest.mark.parametrize(
    "refined",
    [scalar("cpus", 1, reservations=[dyn()]), volume("v1"), reserved("cpus", 1, dyn("eng"), dyn("eng/dev"))],
    ids=["dynamic", "volume", "refined-stack"],
)
def test_upgrade_leaves_refined_alone(refined):
    assert formats.upgrade(refined) == refined


def test_upgrade_accepts_consistent_mixed_form():
    mixed = scalar(
        "cpus",
        1,
        role="galera",
        reservation={"principal": "fw", "labels": labels(a="1")},
        reservations=[dyn(label=labels(a="1"))],
    )
    assert formats.upgrade(mixed) == scalar("cpus", 1, reservations=[dyn(label=labels(a="1"))])
    static_mixed = scalar("cpus", 1, role="galera", reservations=[static()])
    assert formats.upgrade(static_mixed) == scalar("cpus", 1, reservations=[static()])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            scalar("cpus", 1, role="galera", reservation={"type": "DYNAMIC"}),
            "'Resource.ReservationInfo.type' must not be set",
        ),
        (
            scalar("cpus", 1, role="galera", reservation={"role": "galera"}),
            "'Resource.ReservationInfo.role' must not be set",
        ),
        (
            scalar("cpus", 1, role="*", reservation={"principal": "fw"}),
            'role "\\*" cannot be dynamically reserved',
        ),
        (scalar("cpus", 1, reservation={"principal": "fw"}), 'role "\\*" cannot be dynamically reserved'),
        (
            scalar("cpus", 1, role="other", reservations=[dyn()], reservation={"principal": "fw"}),
            "'Resource.role' field with 'other' does not match",
        ),
        (
            scalar("cpus", 1, role="galera", reservations=[static()], reservation={}),
            "must not be set if the single reservation in 'Resource.reservations' is STATIC",
        ),
        (scalar("cpus", 1, role="galera", reservations=[dyn()]), "must either be both set or both not set"),
        (
            scalar("cpus", 1, reservations=[dyn()], reservation={"principal": "fw"}),
            "must either be both set or both not set",
        ),
        (
            scalar("cpus", 1, role="galera", reservations=[dyn()], reservation={"principal": "x"}),
            "'Resource.reservation.principal' field with 'x' does not match",
        ),
        (
            scalar(
                "cpus",
                1,
                role="galera",
                reservations=[dyn(label=labels(a="1"))],
                reservation={"principal": "fw"},
            ),
            "'Resource.reservation.labels' field does not match",
        ),
        (
            scalar("cpus", 1, role="eng", reservations=[dyn("eng"), dyn("eng/a")]),
            "'Resource.role' must not be set if there is more than one",
        ),
        (
            scalar("cpus", 1, reservation={}, reservations=[dyn("eng"), dyn("eng/a")]),
            "'Resource.reservation' must not be set if there is more than one",
        ),
    ],
    ids=[
        "pre-with-type",
        "pre-with-role",
        "pre-star-reserved",
        "pre-default-star-reserved",
        "mixed-role-mismatch",
        "mixed-static-with-reservation",
        "mixed-role-without-reservation",
        "mixed-reservation-without-role",
        "mixed-principal-mismatch",
        "mixed-labels-mismatch",
        "refined-with-role",
        "refined-with-reservation",
    ],
)
def test_upgrade_rejects_bad_formats(bad, message):
    with pytest.raises(ResourceError, match=message):
        formats.upgrade(bad)
    assert rvalidate.validate(bad) is not None


def test_downgrade_refuses_refined_stacks():
    with pytest.raises(ResourceError, match="refined reservations"):
        formats.downgrade(reserved("cpus", 1, dyn("eng"), dyn("eng/dev")))


def test_downgrade_keeps_disk_and_allocation():
    out = formats.downgrade(volume("v1", allocation_info={"role": "galera"}))
    assert out["role"] == "galera"
    assert out["reservation"] == {"principal": "fw"}
    assert out["disk"]["persistence"]["id"] == "v1"
    assert out["allocation_info"] == {"role": "galera"}
    assert "reservations" not in out


# ---------------------------------------------------------------------------------------------------------
# validate (Mesos Resources::validate)
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "good",
    [
        scalar("cpus", 0),
        scalar("cpus", 0.001),
        ranges("ports", (1, 2), (4, 5)),
        ranges("ports"),
        items("s", "a", "b"),
        volume("v1"),
        mount(),
        path_disk(),
        scalar("disk", 1, disk={"source": {"type": "BLOCK"}}),
        reserved("cpus", 1, static("eng"), dyn("eng/a"), dyn("eng/a/b")),
        volume("s", shared={}),
        scalar("cpus", 1, role="galera", reservation={"principal": "p"}),
        scalar("cpus", 1, reservations=[dyn("a/b")]),
    ],
    ids=[
        "zero",
        "smallest",
        "ranges",
        "empty-ranges",
        "set",
        "volume",
        "mount",
        "path",
        "block",
        "refinement-chain",
        "shared-volume",
        "pre-refinement",
        "hierarchical-role",
    ],
)
def test_validate_accepts(good):
    assert rvalidate.validate(good) is None


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"type": "SCALAR", "scalar": {"value": 1}}, "Empty resource name"),
        (scalar("", 1), "Empty resource name"),
        ({"name": "cpus", "scalar": {"value": 1}}, "Invalid resource type"),
        ({"name": "cpus", "type": "FLOAT", "scalar": {"value": 1}}, "Invalid resource type"),
        ({"name": "cpus", "type": "TEXT", "text": {"value": "x"}}, "Unsupported resource type"),
        ({"name": "cpus", "type": "SCALAR"}, "Invalid scalar resource"),
        (
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}, "ranges": {"range": []}},
            "Invalid scalar resource",
        ),
        (scalar("cpus", "1"), "Invalid scalar resource"),
        (scalar("cpus", True), "Invalid scalar resource"),
        (scalar("cpus", -1), "Invalid scalar resource: value <= 0"),
        (scalar("cpus", 0.0004), "Invalid scalar resource: value <= 0"),
        (scalar("cpus", math.inf), "Invalid scalar resource: value is not finite"),
        (scalar("cpus", math.nan), "Invalid scalar resource: value is not finite"),
        ({"name": "ports", "type": "RANGES"}, "Invalid ranges resource"),
        (ranges("ports", (5, 1)), "Invalid ranges resource: begin > end"),
        (ranges("ports", (1, 5), (5, 9)), "Invalid ranges resource: overlapping ranges"),
        (ranges("ports", (5, 10), (1, 6)), "Invalid ranges resource: overlapping ranges"),
        (ranges("ports", (-1, 3)), "Invalid ranges resource"),
        ({"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 1}]}}, "Invalid ranges resource"),
        ({"name": "s", "type": "SET", "scalar": {"value": 1}}, "Invalid set resource"),
        (items("s", "a", "a"), "Invalid set resource: duplicated elements"),
        (scalar("cpus", 1, disk={}), "DiskInfo should not be set for cpus resource"),
        (scalar("disk", 1, disk={"source": {"type": "UNKNOWN"}}), "Unsupported 'DiskInfo.Source.Type'"),
        (
            scalar("disk", 1, disk={"source": {"type": "BLOCK", "mount": {"root": "/x"}}}),
            "Mount should not be set for BLOCK",
        ),
        (
            scalar("disk", 1, disk={"source": {"type": "RAW", "path": {"root": "/x"}}}),
            "Path should not be set for RAW",
        ),
        (reserved("cpus", 1, {"role": "galera"}), "'Resource.ReservationInfo.type' field must be set"),
        (reserved("cpus", 1, {"type": "DYNAMIC"}), "'Resource.ReservationInfo.role' field must be set"),
        (reserved("cpus", 1, {"type": "WEIRD", "role": "x"}), "Unsupported 'Resource.ReservationInfo.Type'"),
        (reserved("cpus", 1, dyn("*")), 'role "\\*" cannot be reserved'),
        (reserved("cpus", 1, static("*")), 'role "\\*" cannot be reserved'),
        (reserved("cpus", 1, dyn("eng"), static("eng/a")), "A refined reservation cannot be STATIC"),
        (reserved("cpus", 1, dyn("eng"), dyn("other")), "role 'other' is not a refinement of 'eng'"),
        (reserved("cpus", 1, dyn("eng"), dyn("eng")), "role 'eng' is not a refinement of 'eng'"),
        (reserved("cpus", 1, dyn("eng/a"), dyn("eng")), "role 'eng' is not a refinement of 'eng/a'"),
        (reserved("cpus", 1, dyn("")), "Empty role name is invalid"),
        (reserved("cpus", 1, dyn("/eng")), "cannot start with a slash"),
        (reserved("cpus", 1, dyn("eng/")), "cannot end with a slash"),
        (reserved("cpus", 1, dyn("eng/..")), "cannot include '..' as a component"),
        (reserved("cpus", 1, dyn("a/*")), "cannot include '\\*' as a component"),
        (reserved("cpus", 1, dyn("-eng")), "starts with a dash"),
        (reserved("cpus", 1, dyn("my role")), "contains backspace or whitespace"),
        (scalar("cpus", 1, role="bad role"), "contains backspace or whitespace"),
        (scalar("cpus", 1, shared={}), "Resource cpus cannot be shared"),
        (scalar("disk", 1, shared={}), "Only persistent volumes can be shared"),
        ("cpus", "Resource must be a JSON object"),
    ],
    ids=[
        "no-name",
        "empty-name",
        "no-type",
        "unknown-type",
        "text",
        "scalar-missing",
        "scalar-with-ranges",
        "scalar-string",
        "scalar-bool",
        "negative",
        "rounds-to-zero",
        "infinite",
        "nan",
        "ranges-missing",
        "inverted-range",
        "touching-ranges",
        "overlap-out-of-order",
        "negative-port",
        "range-without-end",
        "set-with-scalar",
        "duplicate-items",
        "disk-info-on-cpus",
        "unknown-source",
        "block-with-mount",
        "raw-with-path",
        "reservation-no-type",
        "reservation-no-role",
        "reservation-bad-type",
        "dynamic-star",
        "static-star",
        "static-refinement",
        "unrelated-refinement",
        "same-role-refinement",
        "refine-to-parent",
        "empty-role",
        "leading-slash",
        "trailing-slash",
        "dotdot-component",
        "star-component",
        "dash",
        "whitespace",
        "pre-refinement-bad-role",
        "shared-cpus",
        "shared-plain-disk",
        "not-a-dict",
    ],
)
def test_validate_rejects(bad, message):
    error = rvalidate.validate(bad)
    assert error is not None
    assert re.search(message, error), error


def test_validate_all_names_the_resource():
    assert rvalidate.validate_all([scalar("cpus", 1), scalar("mem", -5)]) == (
        "Resource 'mem:-5' is invalid: Invalid scalar resource: value <= 0"
    )
    assert rvalidate.validate_all([scalar("cpus", 1)]) is None


@pytest.mark.parametrize(
    ("role", "ok"),
    [
        ("*", True),
        ("galera", True),
        ("a/b/c", True),
        ("a.b", True),
        ("", False),
        (".", False),
        ("..", False),
        ("a//b", False),
        ("a/./b", False),
        ("x\ty", False),
        ("x\x7fy", False),
        (7, False),
    ],
    ids=[
        "star",
        "plain",
        "nested",
        "dot-inside",
        "empty",
        "dot",
        "dotdot",
        "double-slash",
        "dot-component",
        "tab",
        "del",
        "not-str",
    ],
)
def test_validate_role(role, ok):
    assert (rid.validate_role(role) is None) is ok


# ---------------------------------------------------------------------------------------------------------
# parse (agent --resources)
# ---------------------------------------------------------------------------------------------------------


def test_parse_default_agent_spec():
    pool = rtext.parse("cpus:4;mem:4096;disk:20000;ports:[31000-31999]")
    assert pool == rs(
        scalar("cpus", 4), scalar("mem", 4096), scalar("disk", 20000), ranges("ports", (31000, 31999))
    )
    assert pool.summary()["ports"] == "[31000-31999]"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("cpus(galera):2", [reserved("cpus", 2, static())]),
        ("cpus(galera):2;cpus:1;cpus(galera):1", [reserved("cpus", 3, static()), scalar("cpus", 1)]),
        (" cpus : 2 ; ; mem:10 ", [scalar("cpus", 2), scalar("mem", 10)]),
        ("cpus(*):2", [scalar("cpus", 2)]),
        ("ports:[1-2, 4-5]", [ranges("ports", (1, 2), (4, 5))]),
        ("ports:[80]", [ranges("ports", (80, 80))]),
        ("zones:{a, b}", [items("zones", "a", "b")]),
        ("cpus:0.5;cpus:0.25", [scalar("cpus", 0.75)]),
        ("", []),
        ('[{"name":"cpus","type":"SCALAR","scalar":{"value":3}}]', [scalar("cpus", 3)]),
        (
            '[{"name":"cpus","type":"SCALAR","scalar":{"value":3},"role":"galera"}]',
            [reserved("cpus", 3, static())],
        ),
        (
            '[{"name":"disk","type":"SCALAR","scalar":{"value":3},"disk":{"source":{"type":"MOUNT","mount":{"root":"/m"}}}}]',
            [scalar("disk", 3, disk={"source": {"type": "MOUNT", "mount": {"root": "/m"}}})],
        ),
        (
            '[{"name":"cpus","type":"SCALAR","scalar":{"value":3},"reservations":[{"type":"STATIC","role":"r"}]}]',
            [reserved("cpus", 3, static("r"))],
        ),
    ],
    ids=[
        "static-reservation",
        "merging",
        "whitespace-and-empty-tokens",
        "explicit-star",
        "two-ranges",
        "single-port",
        "set",
        "fractions",
        "empty",
        "json",
        "json-role",
        "json-mount",
        "json-refined",
    ],
)
def test_parse(spec, expected):
    assert rtext.parse(spec) == Resources(expected)


def test_parse_with_default_role():
    assert rtext.parse("cpus:2", default_role="galera") == rs(reserved("cpus", 2, static()))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cpus", "missing or extra ':' in cpus"),
        ("cpus:1:2", "missing or extra ':'"),
        ("cpus(galera:2", "mismatched parentheses"),
        ("cpus)galera(:2", "mismatched parentheses"),
        ("cpus:abc", "Bad type for resource cpus value abc type TEXT"),
        ("cpus:inf", "not a finite number"),
        ("cpus:-1", "value <= 0"),
        ("ports:[5-1]", "begin > end"),
        ("ports:[1-x]", "bad range"),
        ("ports:[1-5", "missing ']'"),
        ("zones:{a,a}", "duplicated elements"),
        ("zones:{a", "missing '}'"),
        ("cpus(bad role):1", "whitespace"),
        ("cpus:1;cpus:[1-2]", "same name ('cpus') but different types"),
        (
            '[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"r","reservation":{}}]',
            "Dynamic reservations cannot be specified",
        ),
        (
            '[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"revocable":{}}]',
            "Revocable resources cannot be specified",
        ),
        (
            '[{"name":"disk","type":"SCALAR","scalar":{"value":1},"role":"r","disk":{"persistence":{"id":"x"},"volume":{"container_path":"p","mode":"RW"}}}]',
            "Persistent volumes cannot be specified",
        ),
        ("[1]", "not formatted properly"),
    ],
    ids=[
        "no-colon",
        "two-colons",
        "open-paren",
        "reversed-parens",
        "text-value",
        "infinite",
        "negative",
        "inverted-range",
        "bad-range",
        "unclosed-range",
        "duplicate-set-item",
        "unclosed-set",
        "bad-role",
        "two-types",
        "json-dynamic",
        "json-revocable",
        "json-volume",
        "json-not-object",
    ],
)
def test_parse_rejects(spec, message):
    with pytest.raises(ResourceError, match=re.escape(message)):
        rtext.parse(spec)


# ---------------------------------------------------------------------------------------------------------
# helpers on single dicts
# ---------------------------------------------------------------------------------------------------------


def test_single_resource_predicates():
    assert rid.reservation_role(scalar("cpus", 1)) == "*"
    assert rid.reservation_role(reserved("cpus", 1, dyn("eng"), dyn("eng/a"))) == "eng/a"
    assert rid.is_dynamic(reserved("cpus", 1)) and not rid.is_dynamic(reserved("cpus", 1, static()))
    assert rid.is_static(reserved("cpus", 1, static())) and not rid.is_static(scalar("cpus", 1))
    assert rid.is_dynamic(reserved("cpus", 1, static("eng"), dyn("eng/a")))
    assert rid.is_volume(volume("v")) and not rid.is_volume(mount())
    assert rid.is_unreserved(scalar("cpus", 1)) and not rid.is_unreserved(reserved("cpus", 1))
    assert rid.persistence_id(volume("v9")) == "v9" and rid.persistence_id(mount()) is None
    assert (
        rid.is_strict_subrole("a/b", "a")
        and not rid.is_strict_subrole("ab", "a")
        and not rid.is_strict_subrole("a", "a")
    )
