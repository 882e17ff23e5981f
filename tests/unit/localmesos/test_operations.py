"""operations: RESERVE / UNRESERVE / CREATE / DESTROY on an offer pool and LAUNCH task validation, with the
checks and messages of a Mesos 1.11 master (facts §3.3, §3.4)."""

import copy

import pytest

from localmesos import operations as O
from localmesos import resources_formats as formats
from localmesos import resources_identity as rid
from localmesos import resources_text as rtext
from localmesos.operations import FrameworkContext, OperationError
from localmesos.resources import Resources

ROLE = "galera"
AGENT = "M-S1"
FW = FrameworkContext(frozenset({ROLE}), "galera-fw", frozenset({"MULTI_ROLE", "RESERVATION_REFINEMENT"}))
ANON = FrameworkContext(frozenset({ROLE}), None, frozenset({"MULTI_ROLE"}))
LABELS = {"labels": [{"key": "pod", "value": "galera-0"}]}
ALLOC = {"role": ROLE}

# ---------------------------------------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------------------------------------


def dyn(role=ROLE, principal="galera-fw", labels=LABELS):
    info = {"type": "DYNAMIC", "role": role}
    if principal is not None:
        info["principal"] = principal
    if labels is not None:
        info["labels"] = labels
    return info


def res(name, value, *stack, alloc=True, **extra):
    out = {"name": name, "type": "SCALAR", "scalar": {"value": value}, **extra}
    if stack:
        out["reservations"] = list(stack)
    if alloc:
        out["allocation_info"] = dict(ALLOC)
    return out


def vol(pid="galera-0-data", size=10240.0, *, path="mysql-data", principal="galera-fw", stack=None, **extra):
    disk = {"persistence": {"id": pid}, "volume": {"container_path": path, "mode": "RW"}}
    if principal is not None:
        disk["persistence"]["principal"] = principal
    disk.update(extra.pop("disk_extra", {}))
    return res("disk", size, *(stack or [dyn()]), disk=disk, **extra)


def agent_pool():
    return rtext.parse("cpus:4;mem:4096;disk:20000;ports:[31000-31999]").allocate(ROLE)


def reserve(*resources):
    return {"type": "RESERVE", "reserve": {"resources": list(resources)}}


def unreserve(*resources):
    return {"type": "UNRESERVE", "unreserve": {"resources": list(resources)}}


def create(*volumes):
    return {"type": "CREATE", "create": {"volumes": list(volumes)}}


def destroy(*volumes):
    return {"type": "DESTROY", "destroy": {"volumes": list(volumes)}}


def apply(pool, operation, framework=FW, ids=frozenset()):
    return O.apply(pool, operation, framework, ROLE, set(ids))


def reserved_pool():
    """The agent pool after reserving 1 cpu, 2048 mem and 10240 disk for galera-0."""
    return apply(
        agent_pool(), reserve(res("cpus", 1.0, dyn()), res("mem", 2048.0, dyn()), res("disk", 10240.0, dyn()))
    )


def volume_pool():
    return apply(reserved_pool(), create(vol()))


def rejected(pool, operation, match, framework=FW, ids=frozenset()):
    before = copy.deepcopy(pool.to_json())
    with pytest.raises(OperationError, match=match):
        apply(pool, operation, framework, ids)
    assert pool.to_json() == before


# ---------------------------------------------------------------------------------------------------------
# RESERVE
# ---------------------------------------------------------------------------------------------------------


def test_reserve_moves_unreserved_into_the_reservation():
    pool = reserved_pool()
    assert pool.unreserved().scalar("cpus") == 3.0
    assert pool.unreserved().scalar("disk") == 9760.0
    assert pool.reserved(ROLE) == Resources(
        [res("cpus", 1.0, dyn()), res("mem", 2048.0, dyn()), res("disk", 10240.0, dyn())]
    )
    assert pool.unallocate().summary() == agent_pool().unallocate().summary()


def test_reserve_in_pre_refinement_form_equals_refined():
    pre = {
        "name": "cpus",
        "type": "SCALAR",
        "scalar": {"value": 1.0},
        "role": ROLE,
        "reservation": {"principal": "galera-fw", "labels": LABELS},
    }
    assert apply(agent_pool(), reserve(pre)) == apply(agent_pool(), reserve(res("cpus", 1.0, dyn())))


def test_reserve_without_allocation_info_gets_the_offer_role():
    assert (
        apply(agent_pool(), reserve(res("cpus", 1.0, dyn(), alloc=False))).reserved(ROLE).scalar("cpus")
        == 1.0
    )


def test_reserve_merges_with_an_identical_reservation_only():
    pool = apply(reserved_pool(), reserve(res("cpus", 1.0, dyn())))
    assert len(pool.reserved(ROLE).get("cpus")) == 1
    assert pool.reserved(ROLE).scalar("cpus") == 2.0
    other = apply(
        pool, reserve(res("cpus", 1.0, dyn(labels={"labels": [{"key": "pod", "value": "galera-1"}]})))
    )
    assert len(other.reserved(ROLE).get("cpus")) == 2


def test_reserve_ports():
    ports = {
        "name": "ports",
        "type": "RANGES",
        "ranges": {"range": [{"begin": 31000, "end": 31000}]},
        "reservations": [dyn()],
        "allocation_info": ALLOC,
    }
    pool = apply(agent_pool(), reserve(ports))
    assert pool.unreserved().ranges("ports") == [(31001, 31999)]
    assert pool.reserved(ROLE).ranges("ports") == [(31000, 31000)]


def test_reserve_by_framework_without_principal_accepts_any_principal():
    pool = apply(agent_pool(), reserve(res("cpus", 1.0, dyn(principal="whoever"))), framework=ANON)
    assert pool.reserved(ROLE).scalar("cpus") == 1.0
    pool = apply(agent_pool(), reserve(res("cpus", 1.0, dyn(principal=None))), framework=ANON)
    assert pool.reserved(ROLE).scalar("cpus") == 1.0


def test_reserve_refinement_of_an_existing_reservation():
    fw = FrameworkContext(frozenset({"eng/dev"}), None, frozenset({"MULTI_ROLE", "RESERVATION_REFINEMENT"}))
    base = Resources([res("cpus", 2.0, dyn("eng"), alloc=False)]).allocate("eng/dev")
    op = reserve(
        {
            **res("cpus", 1.0, dyn("eng"), dyn("eng/dev", principal=None)),
            "allocation_info": {"role": "eng/dev"},
        }
    )
    pool = O.apply(base, op, fw, "eng/dev", set())
    assert pool.reserved("eng").scalar("cpus") == 1.0
    assert pool.reserved("eng/dev").scalar("cpus") == 1.0


@pytest.mark.parametrize(
    ("resource", "framework", "match"),
    [
        pytest.param(
            res("cpus", 1.0, dyn(principal=None)),
            FW,
            "attempted by principal 'galera-fw', but there is a reserved resource in the request with no"
            " principal set",
            id="principal-missing",
        ),
        pytest.param(
            res("cpus", 1.0, dyn(principal="other")),
            FW,
            "attempted by authenticated principal 'galera-fw', which does not match a reserved resource in"
            " the request with principal 'other'",
            id="principal-mismatch",
        ),
        pytest.param(
            res("cpus", 1.0, dyn(role="other")),
            FW,
            "with role 'other', but the resource was allocated to role 'galera'",
            id="role-not-allocation-role",
        ),
        pytest.param(
            {**res("cpus", 1.0, dyn(role="other")), "allocation_info": {"role": "other"}},
            FW,
            "allocated to role 'other', but the framework only has roles '{ galera }'",
            id="role-not-a-framework-role",
        ),
        pytest.param(res("cpus", 1.0, dyn(role="*")), FW, 'role "\\*" cannot be reserved', id="role-star"),
        pytest.param(
            res("cpus", 1.0, {"type": "STATIC", "role": ROLE}), FW, "is not dynamically reserved", id="static"
        ),
        pytest.param(res("cpus", 1.0), FW, "is not dynamically reserved", id="unreserved"),
        pytest.param(res("cpus", 5.0, dyn()), FW, "does not contain", id="more-than-offered"),
        pytest.param(res("gpus", 1.0, dyn()), FW, "does not contain", id="not-offered-at-all"),
        pytest.param(
            res("cpus", -1.0, dyn()), FW, "is invalid: Invalid scalar resource: value <= 0", id="negative"
        ),
        pytest.param(
            res("cpus", 1.0, dyn(role=ROLE), dyn(role="galera/x")),
            ANON,
            "without RESERVATION_REFINEMENT capability",
            id="refinement-without-capability",
        ),
        pytest.param(
            res("cpus", 1.0, dyn(role=ROLE), dyn(role="other")),
            FW,
            "is not a refinement of 'galera'",
            id="refinement-to-non-child",
        ),
        pytest.param(
            {
                "name": "cpus",
                "type": "SCALAR",
                "scalar": {"value": 1.0},
                "role": ROLE,
                "reservation": {"principal": "galera-fw", "type": "DYNAMIC"},
            },
            FW,
            "'Resource.ReservationInfo.type' must not be set",
            id="pre-refinement-with-type",
        ),
        pytest.param(
            {
                "name": "cpus",
                "type": "SCALAR",
                "scalar": {"value": 1.0},
                "role": ROLE,
                "reservation": {"principal": "galera-fw", "role": ROLE},
            },
            FW,
            "'Resource.ReservationInfo.role' must not be set",
            id="pre-refinement-with-role",
        ),
        pytest.param(
            {
                "name": "cpus",
                "type": "SCALAR",
                "scalar": {"value": 1.0},
                "role": "other",
                "reservations": [dyn()],
                "reservation": {"principal": "galera-fw", "labels": LABELS},
            },
            FW,
            "does not match the role",
            id="inconsistent-mix",
        ),
        pytest.param(vol(), FW, "does not contain", id="volume"),
        pytest.param(
            res("cpus", 1.0, dyn(), revocable={}),
            FW,
            "cannot be created from revocable resources",
            id="revocable",
        ),
    ],
)
def test_reserve_rejections(resource, framework, match):
    rejected(agent_pool(), reserve(resource), match, framework)


def test_reserve_with_source_is_refused():
    op = reserve(res("cpus", 1.0, dyn()))
    op["reserve"]["source"] = [res("cpus", 1.0)]
    rejected(agent_pool(), op, "'source'")


def test_reserve_across_allocation_roles_is_refused():
    fw = FrameworkContext(frozenset({ROLE, "other"}), "galera-fw", FW.capabilities)
    pool = agent_pool() + rtext.parse("cpus:1").allocate("other")
    op = reserve(
        res("cpus", 1.0, dyn()), {**res("cpus", 1.0, dyn(role="other")), "allocation_info": {"role": "other"}}
    )
    rejected(pool, op, "multiple allocation roles", fw)


def test_failed_reserve_does_not_half_apply():
    op = reserve(res("cpus", 1.0, dyn()), res("mem", 999999.0, dyn()))
    rejected(agent_pool(), op, "does not contain")


# ---------------------------------------------------------------------------------------------------------
# UNRESERVE
# ---------------------------------------------------------------------------------------------------------


def test_unreserve_returns_resources_to_unreserved():
    pool = apply(
        reserved_pool(),
        unreserve(res("cpus", 1.0, dyn()), res("mem", 2048.0, dyn()), res("disk", 10240.0, dyn())),
    )
    assert pool == agent_pool()


def test_partial_unreserve():
    pool = apply(reserved_pool(), unreserve(res("mem", 1024.0, dyn())))
    assert pool.reserved(ROLE).scalar("mem") == 1024.0
    assert pool.unreserved().scalar("mem") == 3072.0


def test_unreserve_in_pre_refinement_form():
    pre = {
        "name": "mem",
        "type": "SCALAR",
        "scalar": {"value": 2048.0},
        "role": ROLE,
        "reservation": {"principal": "galera-fw", "labels": LABELS},
    }
    assert apply(reserved_pool(), unreserve(pre)).reserved(ROLE).scalar("mem") == 0.0


def test_unreserve_by_another_principal_is_allowed():
    other = FrameworkContext(frozenset({ROLE}), "someone-else", FW.capabilities)
    assert (
        apply(reserved_pool(), unreserve(res("cpus", 1.0, dyn())), other).reserved(ROLE).scalar("cpus") == 0.0
    )


def test_unreserve_of_a_refinement_pops_back_to_the_parent():
    fw = FrameworkContext(frozenset({"eng/dev"}), None, FW.capabilities)
    refined = {**res("cpus", 1.0, dyn("eng"), dyn("eng/dev")), "allocation_info": {"role": "eng/dev"}}
    pool = Resources([refined])
    after = O.apply(pool, unreserve(refined), fw, "eng/dev", set())
    assert after == Resources([{**res("cpus", 1.0, dyn("eng")), "allocation_info": {"role": "eng/dev"}}])


@pytest.mark.parametrize(
    ("resource", "match"),
    [
        pytest.param(
            res("cpus", 1.0, {"type": "STATIC", "role": ROLE}), "is not dynamically reserved", id="static"
        ),
        pytest.param(res("cpus", 1.0), "is not dynamically reserved", id="unreserved"),
        pytest.param(
            vol(), "cannot be unreserved directly. Please destroy the persistent volume first", id="volume"
        ),
        pytest.param(res("cpus", 2.0, dyn()), "does not contain", id="more-than-reserved"),
        pytest.param(res("cpus", 1.0, dyn(labels=None)), "does not contain", id="labels-differ"),
        pytest.param(res("cpus", 1.0, dyn(principal="x")), "does not contain", id="principal-differs"),
        pytest.param(
            res("cpus", 1.0, dyn(role=ROLE), dyn(role="galera/x")),
            "RESERVATION_REFINEMENT",
            id="refinement-without-capability",
        ),
    ],
)
def test_unreserve_rejections(resource, match):
    framework = ANON if "REFINEMENT" in match else FW
    rejected(volume_pool(), unreserve(resource), match, framework)


def test_unreserve_of_static_reservation_from_agent_flags():
    pool = rtext.parse("cpus(galera):2;mem:10").allocate(ROLE)
    rejected(
        pool, unreserve(res("cpus", 1.0, {"type": "STATIC", "role": ROLE})), "is not dynamically reserved"
    )


# ---------------------------------------------------------------------------------------------------------
# CREATE
# ---------------------------------------------------------------------------------------------------------


def test_create_turns_reserved_disk_into_a_volume():
    pool = volume_pool()
    assert pool.volumes() == Resources([vol()])
    assert pool.reserved(ROLE).scalar("disk") == 10240.0
    assert pool.persistence_ids() == {"galera-0-data"}
    assert pool.reserved(ROLE).filter(lambda r: not rid.is_volume(r)).scalar("disk") == 0.0


def test_create_part_of_a_reservation():
    pool = apply(reserved_pool(), create(vol(size=1024.0)))
    assert pool.volumes().scalar("disk") == 1024.0
    assert pool.reserved(ROLE).filter(lambda r: not rid.is_volume(r)).scalar("disk") == 9216.0


def test_create_two_volumes_in_one_operation():
    pool = apply(reserved_pool(), create(vol("a", 100.0), vol("b", 200.0)))
    assert pool.persistence_ids() == {"a", "b"}


def test_create_by_framework_without_principal_accepts_any_persistence_principal():
    pool = apply(reserved_pool(), create(vol(principal=None)), framework=ANON)
    assert pool.persistence_ids() == {"galera-0-data"}
    pool = apply(reserved_pool(), create(vol(principal="x")), framework=ANON)
    assert pool.persistence_ids() == {"galera-0-data"}


def test_create_in_pre_refinement_form():
    pre = formats.downgrade(vol())
    assert "role" in pre and "reservations" not in pre
    assert apply(reserved_pool(), create(pre)) == volume_pool()


def test_create_on_a_whole_mount_disk_only():
    mount = {"source": {"type": "MOUNT", "mount": {"root": "/mnt/d1"}}}
    agent = Resources([res("disk", 500.0, dyn(), disk=mount)])
    pool = apply(agent, create(vol(size=500.0, disk_extra=mount)))
    assert pool.volumes().scalar("disk") == 500.0
    rejected(agent, create(vol(size=100.0, disk_extra=mount)), "does not contain")


def test_create_on_a_path_disk_keeps_the_source():
    path = {"source": {"type": "PATH", "path": {"root": "/mnt/p"}}}
    agent = Resources([res("disk", 500.0, dyn(), disk=path)])
    pool = apply(agent, create(vol(size=100.0, disk_extra=path)))
    assert pool.scalar("disk") == 500.0
    assert all(r["disk"]["source"] == path["source"] for r in pool)


def test_create_shared_volume_with_capability():
    fw = FrameworkContext(FW.roles, FW.principal, FW.capabilities | {"SHARED_RESOURCES"})
    pool = apply(reserved_pool(), create(vol(shared={})), fw)
    assert pool.shared().persistence_ids() == {"galera-0-data"}


def test_create_id_used_in_another_role_is_fine():
    # persistence_ids_in_role holds the ids of the offer's role only
    assert apply(reserved_pool(), create(vol("x")), ids={"y"}).persistence_ids() == {"x"}


@pytest.mark.parametrize(
    ("volume", "ids", "match"),
    [
        pytest.param(
            vol(stack=[]) | {"reservations": []},
            (),
            "Persistent volumes cannot be created from unreserved resources",
            id="unreserved",
        ),
        pytest.param(
            res("disk", 100.0, dyn(), disk={"persistence": {"id": "v", "principal": "galera-fw"}}),
            (),
            "Expecting 'volume' to be set for persistent volume",
            id="no-volume",
        ),
        pytest.param(
            vol(disk_extra={"volume": {"container_path": "d", "mode": "RW", "host_path": "/x"}}),
            (),
            "Expecting 'host_path' to be unset",
            id="host-path",
        ),
        pytest.param(
            vol(disk_extra={"volume": {"container_path": "d", "mode": "RO"}}),
            (),
            "Read-only persistent volume not supported",
            id="read-only",
        ),
        pytest.param(
            vol("a/b"),
            (),
            "Invalid persistence ID for persistent volume: 'a/b' contains invalid",
            id="id-with-slash",
        ),
        pytest.param(
            vol(""), (), "Invalid persistence ID for persistent volume: ID must not be empty", id="empty-id"
        ),
        pytest.param(vol(".."), (), "Invalid persistence ID", id="dotdot-id"),
        pytest.param(vol("x" * 256), (), "must not be greater than 255", id="long-id"),
        pytest.param(
            vol(),
            ("galera-0-data",),
            "Persistence ID 'galera-0-data' is not unique",
            id="id-already-on-agent",
        ),
        pytest.param(
            vol(principal=None),
            (),
            "no principal set in 'disk.persistence'",
            id="persistence-principal-missing",
        ),
        pytest.param(
            vol(principal="intruder"),
            (),
            "authenticated principal 'galera-fw', which does not match a volume in the operation with"
            " principal 'intruder'",
            id="persistence-principal-mismatch",
        ),
        pytest.param(
            vol(shared={}), (), "with no SHARED_RESOURCES capability", id="shared-without-capability"
        ),
        pytest.param(vol(size=20000.0), (), "does not contain", id="bigger-than-reservation"),
        pytest.param(vol(stack=[dyn(labels=None)]), (), "does not contain", id="different-labels"),
        pytest.param(
            vol(stack=[dyn(principal="x")]), (), "does not contain", id="different-reservation-principal"
        ),
        pytest.param(
            vol(disk_extra={"source": {"type": "PATH", "path": {"root": "/p"}}}),
            (),
            "does not contain",
            id="different-source",
        ),
        pytest.param(
            res("disk", 10.0, dyn(), disk={"volume": {"container_path": "d", "mode": "RW"}}),
            (),
            "Non-persistent volume not supported",
            id="volume-without-persistence",
        ),
        pytest.param(res("disk", 10.0, dyn()), (), "Resource .* does not have DiskInfo", id="plain-disk"),
        pytest.param(res("cpus", 1.0, dyn(), disk={}), (), "DiskInfo should not be set for cpus", id="cpus"),
        pytest.param(vol(revocable={}), (), "cannot be created from revocable resources", id="revocable"),
    ],
)
def test_create_rejections(volume, ids, match):
    rejected(reserved_pool(), create(volume), match, ids=ids)


def test_create_duplicate_ids_within_one_operation():
    rejected(reserved_pool(), create(vol("a", 10.0), vol("a", 20.0)), "Persistence ID 'a' is not unique")


def test_create_refined_volume_without_capability():
    fw = FrameworkContext(frozenset({"galera/x"}), None, frozenset())
    stack = [dyn(), dyn("galera/x", principal=None, labels=None)]
    pool = Resources([{**res("disk", 10.0, *stack), "allocation_info": {"role": "galera/x"}}])
    volume = {**vol(size=10.0, principal=None, stack=stack), "allocation_info": {"role": "galera/x"}}
    with pytest.raises(OperationError, match="RESERVATION_REFINEMENT"):
        O.apply(pool, create(volume), fw, "galera/x", set())


# ---------------------------------------------------------------------------------------------------------
# DESTROY
# ---------------------------------------------------------------------------------------------------------


def test_destroy_returns_the_reserved_disk():
    pool = apply(volume_pool(), destroy(vol()), ids={"galera-0-data"})
    assert pool == reserved_pool()
    assert pool.volumes().empty


def test_destroy_matches_whatever_container_path_and_principal():
    pool = apply(volume_pool(), destroy(vol(path="elsewhere", principal="x")), ids={"galera-0-data"})
    assert pool == reserved_pool()


def test_destroy_then_unreserve_in_sequence_restores_the_agent():
    pool = apply(volume_pool(), destroy(vol()), ids={"galera-0-data"})
    pool = apply(
        pool, unreserve(res("cpus", 1.0, dyn()), res("mem", 2048.0, dyn()), res("disk", 10240.0, dyn()))
    )
    assert pool == agent_pool()


def test_destroy_a_mount_volume_gives_back_the_whole_mount_disk():
    mount = {"source": {"type": "MOUNT", "mount": {"root": "/mnt/d1"}}}
    disk = Resources([res("disk", 500.0, dyn(), disk=mount)])
    created = apply(disk, create(vol(size=500.0, disk_extra=mount)))
    assert apply(created, destroy(vol(size=500.0, disk_extra=mount)), ids={"galera-0-data"}) == disk


@pytest.mark.parametrize(
    ("volume", "ids", "match"),
    [
        pytest.param(vol("unknown"), ("galera-0-data",), "Persistent volumes not found", id="unknown-id"),
        pytest.param(vol(), (), "Persistent volumes not found", id="not-checkpointed"),
        pytest.param(vol(size=5.0), ("galera-0-data",), "does not contain", id="different-size"),
        pytest.param(res("disk", 10.0, dyn()), (), "Resource .* does not have DiskInfo", id="plain-disk"),
        pytest.param(
            vol(disk_extra={"volume": {"container_path": "d", "mode": "RO"}}),
            ("galera-0-data",),
            "Read-only persistent volume not supported",
            id="read-only",
        ),
    ],
)
def test_destroy_rejections(volume, ids, match):
    rejected(volume_pool(), destroy(volume), match, ids=ids)


def test_destroy_a_volume_in_use_is_not_in_the_pool():
    in_use = reserved_pool() - Resources([res("disk", 10240.0, dyn())])  # the task holds the volume
    rejected(in_use, destroy(vol()), "does not contain", ids={"galera-0-data"})


def test_destroy_a_shared_volume_with_other_copies_is_refused():
    shared = vol(shared={})
    pool = Resources([shared, shared])
    rejected(
        pool, destroy(shared), "cannot be removed due to additional shared copies", ids={"galera-0-data"}
    )
    single = apply(Resources([shared]), destroy(shared), ids={"galera-0-data"})
    assert single == Resources([res("disk", 10240.0, dyn())])


# ---------------------------------------------------------------------------------------------------------
# other operation shapes
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "match"),
    [
        pytest.param(
            {"type": "LAUNCH", "launch": {"task_infos": []}}, "Unsupported offer operation type", id="launch"
        ),
        pytest.param({"type": "GROW_VOLUME"}, "Unsupported offer operation type", id="grow"),
        pytest.param({}, "Unsupported offer operation type", id="no-type"),
        pytest.param({"type": "RESERVE"}, "Expecting 'reserve' to be present", id="no-body"),
    ],
)
def test_unsupported_operations(operation, match):
    rejected(agent_pool(), operation, match)


def test_empty_operation_changes_nothing():
    assert apply(agent_pool(), reserve()) == agent_pool()


def test_operation_input_is_not_mutated():
    op = reserve(res("cpus", 1.0, dyn(), alloc=False))
    before = copy.deepcopy(op)
    apply(agent_pool(), op)
    assert op == before


def test_converted_reports_consumed_and_produced():
    consumed, produced = O.converted(reserve(res("cpus", 1.0, dyn(), alloc=False)), ROLE)
    assert consumed == Resources([res("cpus", 1.0)])
    assert produced == Resources([res("cpus", 1.0, dyn())])
    consumed, produced = O.converted(create(vol()), ROLE)
    assert consumed == Resources([res("disk", 10240.0, dyn())])
    assert produced == Resources([vol()])
    consumed, produced = O.converted(destroy(vol()), ROLE)
    assert (consumed, produced) == (Resources([vol()]), Resources([res("disk", 10240.0, dyn())]))


# ---------------------------------------------------------------------------------------------------------
# LAUNCH: normalize_task and validate_task
# ---------------------------------------------------------------------------------------------------------


def task(task_id="galera-0__a7f3", resources=None, **extra):
    out = {
        "name": "galera-0",
        "task_id": {"value": task_id},
        "agent_id": {"value": AGENT},
        "resources": resources
        if resources is not None
        else [res("cpus", 1.0, dyn()), res("mem", 2048.0, dyn()), vol()],
        "command": {"shell": True, "value": "exec mysqld"},
    }
    out.update(extra)
    return out


def executor(executor_id="ex", resources=None, **extra):
    out = {
        "executor_id": {"value": executor_id},
        "command": {"value": "./executor"},
        "resources": resources if resources is not None else [res("cpus", 0.1), res("mem", 32.0)],
    }
    out.update(extra)
    return out


def check(t, pool=None, live=(), unreachable=(), existing=()):
    """The master's LAUNCH path: a normalisation error is a TASK_ERROR with the same message."""
    try:
        normalized = O.normalize_task(t, ROLE)
    except OperationError as err:
        return str(err)
    pool = volume_pool() if pool is None else pool
    return O.validate_task(normalized, pool, AGENT, FW, set(live), set(unreachable), existing)


def test_normalize_task_upgrades_and_allocates():
    pre = {
        "name": "cpus",
        "type": "SCALAR",
        "scalar": {"value": 1.0},
        "role": ROLE,
        "reservation": {"principal": "galera-fw", "labels": LABELS},
    }
    original = task(
        resources=[pre, res("mem", 10.0, alloc=False)],
        executor=executor(resources=[res("cpus", 0.1, alloc=False)]),
    )
    before = copy.deepcopy(original)
    out = O.normalize_task(original, ROLE)
    assert out["resources"] == [res("cpus", 1.0, dyn()), res("mem", 10.0)]
    assert out["executor"]["resources"] == [res("cpus", 0.1)]
    assert original == before


def test_normalize_task_keeps_an_explicit_allocation():
    out = O.normalize_task(task(resources=[{**res("cpus", 1.0), "allocation_info": {"role": "x"}}]), ROLE)
    assert out["resources"][0]["allocation_info"] == {"role": "x"}


def test_normalize_task_refuses_bad_formats():
    bad = {"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}, "role": "*", "reservation": {}}
    with pytest.raises(OperationError, match="cannot be dynamically reserved"):
        O.normalize_task(task(resources=[bad]), ROLE)


def test_valid_command_task_on_reservation_and_volume():
    assert check(task()) is None


def test_valid_task_may_use_the_volume_under_another_container_path():
    assert check(task(resources=[res("cpus", 1.0, dyn()), vol(path="other")])) is None


def test_valid_task_with_executor():
    t = task(executor=executor())
    del t["command"]
    pool = volume_pool()
    assert check(t, pool) is None
    assert O.task_resources(O.normalize_task(t, ROLE)).scalar("cpus") == 1.1


def test_executor_resources_count_only_for_a_new_executor():
    t = task(resources=[res("cpus", 3.0)], executor=executor(resources=[res("cpus", 0.5)]))
    del t["command"]
    assert "more than available" in check(t)
    assert check(t, existing={"ex"}) is None


@pytest.mark.parametrize(
    ("changes", "live", "unreachable", "message"),
    [
        pytest.param(
            {"task_id": {"value": "a/b"}}, (), (), "'a/b' contains invalid characters", id="id-slash"
        ),
        pytest.param({"task_id": {"value": ""}}, (), (), "ID must not be empty", id="id-empty"),
        pytest.param({"task_id": {"value": "."}}, (), (), "'.' is disallowed", id="id-dot"),
        pytest.param(
            {}, ("galera-0__a7f3",), (), "Task has duplicate ID: galera-0__a7f3", id="duplicate-live"
        ),
        pytest.param(
            {},
            (),
            ("galera-0__a7f3",),
            "Task reuses the ID of an unreachable task: galera-0__a7f3",
            id="reuses-unreachable",
        ),
        pytest.param(
            {"agent_id": {"value": "M-S9"}},
            (),
            (),
            f"Task uses invalid agent M-S9 while agent {AGENT} is expected",
            id="agent-mismatch",
        ),
        pytest.param(
            {"kill_policy": {"grace_period": {"nanoseconds": -1}}},
            (),
            (),
            "Task's 'kill_policy.grace_period' must be non-negative",
            id="negative-grace",
        ),
        pytest.param(
            {"max_completion_time": {"nanoseconds": -5}},
            (),
            (),
            "Task's `max_completion_time` must be non-negative",
            id="negative-max-completion",
        ),
        pytest.param({"resources": []}, (), (), "Task uses no resources", id="no-resources"),
        pytest.param(
            {"resources": [res("cpus", 1.0, {"type": "DYNAMIC"})]},
            (),
            (),
            "is invalid: Invalid reservation: 'Resource.ReservationInfo.role' field must be set",
            id="invalid-resources",
        ),
        pytest.param(
            {"resources": [{**vol(), "reservations": []}]},
            (),
            (),
            "Task uses invalid resources: Invalid DiskInfo: Persistent volumes cannot be created from"
            " unreserved resources",
            id="volume-on-unreserved-disk",
        ),
        pytest.param(
            {"resources": [res("gpus", 0.5)]},
            (),
            (),
            "Task uses invalid resources: Invalid 'gpus' resource: The 'gpus' resource must be an unsigned"
            " integer",
            id="fractional-gpus",
        ),
        pytest.param(
            {"resources": [vol("v", 10.0), vol("v", 20.0)]},
            (),
            (),
            "Task uses duplicate persistence ID: Persistence ID 'v' is not unique",
            id="duplicate-volume-ids",
        ),
        pytest.param(
            {"resources": [res("cpus", 1.0), {**res("mem", 1.0), "allocation_info": {"role": "x"}}]},
            (),
            (),
            "Invalid task resources: The resources have multiple allocation roles",
            id="two-roles",
        ),
        pytest.param(
            {"resources": [res("cpus", 1.0), res("cpus", 1.0, revocable={})]},
            (),
            (),
            "Task mixes revocable and non-revocable resources: Cannot use both revocable and non-revocable"
            " 'cpus'",
            id="revocable-mix",
        ),
        pytest.param(
            {"command": {"value": "x", "environment": {"variables": [{"name": "A"}]}}},
            (),
            (),
            "Task's `CommandInfo` is invalid: Environment variable 'A' must have a value set",
            id="env-without-value",
        ),
        pytest.param(
            {"executor": executor()},
            (),
            (),
            "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present",
            id="command-and-executor",
        ),
        pytest.param(
            {"command": None},
            (),
            (),
            "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present",
            id="neither",
        ),
        pytest.param(
            {"resources": [res("cpus", 5.0)]},
            (),
            (),
            "required by task and its executor is more than available",
            id="more-than-available",
        ),
        pytest.param(
            {"resources": [res("cpus", 2.0, dyn())]}, (), (), "more than available", id="more-than-reserved"
        ),
        pytest.param(
            {"resources": [vol("other-volume")]}, (), (), "more than available", id="unknown-volume"
        ),
        pytest.param(
            {"resources": [res("gpus", 1.0)]}, (), (), "more than available", id="resource-not-offered"
        ),
    ],
)
def test_validate_task_rejections(changes, live, unreachable, message):
    error = check(task() | changes, live=live, unreachable=unreachable)
    assert error is not None
    assert message in error


@pytest.mark.parametrize(
    ("executor_changes", "message"),
    [
        pytest.param({"command": None}, "'ExecutorInfo.command' must be set", id="no-command"),
        pytest.param({"type": "DEFAULT"}, "'ExecutorInfo.type' must be 'CUSTOM'", id="default-type"),
        pytest.param({"executor_id": {"value": "x/y"}}, "'x/y' contains invalid characters", id="bad-id"),
        pytest.param(
            {"shutdown_grace_period": {"nanoseconds": -1}},
            "'shutdown_grace_period' must be non-negative",
            id="negative-shutdown-grace",
        ),
        pytest.param({"resources": [vol(shared={})]}, "should not contain any shared resources", id="shared"),
        pytest.param(
            {"resources": [res("cpus", -1.0)]}, "Invalid scalar resource: value <= 0", id="invalid-resources"
        ),
        pytest.param(
            {"resources": [{**vol(), "reservations": []}]},
            "Executor uses invalid resources: Invalid DiskInfo: Persistent volumes cannot be created from",
            id="volume-on-unreserved-disk",
        ),
        pytest.param(
            {"resources": [res("cpus", 0.1), vol()]},
            "Task and its executor use duplicate persistence ID",
            id="volume-twice",
        ),
        pytest.param(
            {"resources": [res("cpus", 0.1, revocable={})]},
            "Task and its executor mix revocable and non-revocable resources",
            id="revocable-mix",
        ),
        pytest.param({"resources": [res("cpus", 3.5)]}, "more than available", id="executor-too-big"),
    ],
)
def test_validate_task_executor_rejections(executor_changes, message):
    t = task(executor=executor() | executor_changes)
    del t["command"]
    error = check(t)
    assert error is not None
    assert message in error


def test_validate_task_checks_in_mesos_order():
    # a task that is wrong in every way reports its id first, like Mesos' validator chain
    t = task(task_id="a/b", agent_id={"value": "M-S9"}, resources=[])
    assert "contains invalid characters" in check(t)
    t = task(agent_id={"value": "M-S9"}, resources=[])
    assert "invalid agent" in check(t)


def test_launch_after_reserve_and_create_uses_the_converted_pool():
    pool = volume_pool()
    t = O.normalize_task(task(), ROLE)
    assert O.validate_task(t, pool, AGENT, FW, set(), set()) is None
    remaining = pool - O.task_resources(t)
    assert remaining.volumes().empty
    assert remaining == agent_pool() - Resources([res("cpus", 1.0), res("mem", 2048.0), res("disk", 10240.0)])
