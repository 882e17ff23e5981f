"""Configuration updates: which edits a running stateful service can take, and why not."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from mesopress.model import changes
from mesopress.model.specs import ConstraintSpec, PlacementSpec, PodSpec, PortSpec, ServiceSpec, VolumeSpec

GALERA = PodSpec(
    name="galera",
    count=3,
    cpus=1.0,
    mem=1024,
    command="run",
    ports=(PortSpec("sql", 3306),),
    volumes=(VolumeSpec("mysql-data", 2048),),
    placement=PlacementSpec(True, (ConstraintSpec("zone", "UNIQUE"),)),
)
WORDPRESS = PodSpec(name="wordpress", count=2, cpus=0.5, mem=512, command="serve")
OLD = ServiceSpec("site", "mesopress", "mesopress", "", (GALERA, WORDPRESS))


def galera(**changes_: object) -> ServiceSpec:
    return dataclasses.replace(OLD, pods=(dataclasses.replace(GALERA, **changes_), WORDPRESS))


SAFE = [
    ("identical", OLD),
    ("more-cpus-and-mem", galera(cpus=2.0, mem=4096)),
    ("new-command-env-user", galera(command="run2", env=(("A", "1"),), user="mysql")),
    ("scale-up", galera(count=5)),
    ("scale-down", galera(count=1)),  # the pod's own rules (Galera: odd, >= 3) are checked by its kind
    ("longer-kill-grace", galera(kill_grace_period=90.0)),
    ("new-pod", dataclasses.replace(OLD, pods=(*OLD.pods, PodSpec("proxy", 1, 0.1, 64, "haproxy")))),
    ("drop-constraint", galera(placement=PlacementSpec(True, ()))),
    ("drop-unique-agent", galera(placement=PlacementSpec(False, GALERA.placement.constraints))),
]


@pytest.mark.parametrize("new", [c[1] for c in SAFE], ids=[c[0] for c in SAFE])
def test_safe_updates_pass(new: ServiceSpec) -> None:
    assert changes.check_update(OLD, new) == []


REFUSED = [
    (
        "shrink-volume",
        galera(volumes=(VolumeSpec("mysql-data", 1024),)),
        "pods[galera].volumes[mysql-data].size: cannot shrink from 2048 to 1024 MiB",
    ),
    (
        "grow-volume",
        galera(volumes=(VolumeSpec("mysql-data", 4096),)),
        "growing a volume (2048 to 4096 MiB) is not supported",
    ),
    (
        "move-volume",
        galera(volumes=(VolumeSpec("data", 2048),)),
        "pods[galera].volumes[mysql-data].container_path: cannot change to data: a volume cannot move",
    ),
    (
        "remove-volume",
        galera(volumes=()),
        "pods[galera].volumes[mysql-data]: cannot remove a volume of an existing pod; restore container_path",
    ),
    (
        "add-volume",
        galera(volumes=(*GALERA.volumes, VolumeSpec("logs", 10))),
        "pods[galera].volumes[logs]: cannot add a volume",
    ),
    ("to-zero", galera(count=0), "pods[galera].count: cannot go below 1 (asked 0)"),
    ("change-port", galera(ports=(PortSpec("sql", 3307),)), "pods[galera].ports: cannot change the ports"),
    (
        "remove-pod",
        dataclasses.replace(OLD, pods=(GALERA,)),
        "pods[wordpress]: removing a pod is not supported",
    ),
    ("rename-service", dataclasses.replace(OLD, name="blog"), "name: cannot change from 'site' to 'blog'"),
    ("change-role", dataclasses.replace(OLD, role="other"), "role: cannot change from 'mesopress'"),
    ("change-principal", dataclasses.replace(OLD, principal="p2"), "principal: cannot change"),
    (
        "stricter-placement-unverifiable",
        galera(
            placement=PlacementSpec(
                True, (ConstraintSpec("zone", "UNIQUE"), ConstraintSpec("rack", "LIKE", "r1"))
            )
        ),
        "pods[galera].placement: stricter placement cannot be checked",
    ),
]


@pytest.mark.parametrize(("new", "expected"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_unsafe_updates_are_refused_with_reason(new: ServiceSpec, expected: str) -> None:
    reasons = changes.check_update(OLD, new)
    assert len(reasons) == 1 and expected in reasons[0], reasons


def test_every_reason_is_reported() -> None:
    new = dataclasses.replace(OLD, role="r2", pods=(dataclasses.replace(GALERA, count=0, volumes=()),))
    reasons = changes.check_update(OLD, new)
    assert [r.split(":")[0] for r in reasons] == [
        "role",
        "pods[galera].count",
        "pods[galera].volumes[mysql-data]",
        "pods[wordpress]",
    ]


def verifier(problems: list[str]) -> Callable[[PodSpec], list[str]]:
    return lambda pod: problems


@pytest.mark.parametrize(
    ("problems", "refused"),
    [([], False), (["galera-1: constraint rack:LIKE:r1: rack=r2 does not match r1"], True)],
    ids=["instances-already-fit", "instance-on-wrong-rack"],
)
def test_stricter_placement_checked_against_running_instances(problems: list[str], refused: bool) -> None:
    stricter = galera(
        placement=PlacementSpec(True, (*GALERA.placement.constraints, ConstraintSpec("rack", "LIKE", "r1")))
    )
    reasons = changes.check_update(OLD, stricter, verifier(problems))
    assert bool(reasons) is refused
    if refused:
        assert "running instances cannot follow the new placement (galera-1: constraint rack" in reasons[0]


def test_turning_on_unique_agent_is_stricter() -> None:
    assert not changes.is_looser(PlacementSpec(False), PlacementSpec(True))
    assert changes.is_looser(PlacementSpec(True), PlacementSpec(False))


def test_changed_pods_lists_pods_to_roll() -> None:
    assert changes.changed_pods(OLD, galera(mem=2048)) == ["galera"]
    assert changes.changed_pods(OLD, galera(count=4)) == []
