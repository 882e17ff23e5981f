"""Offer operations and resources in the refined JSON form of facts §2 (RESERVATION_REFINEMENT).

Builders only: each returns plain dicts ready for an ACCEPT call. ``order`` merges the operations that
several stages produced into one ACCEPT in the order Mesos needs: DESTROY before UNRESERVE (a volume
must be destroyed before its disk is unreserved), then RESERVE, CREATE and LAUNCH (facts §2 b-e).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Resource = dict[str, Any]
Operation = dict[str, Any]

_ORDER = ("DESTROY", "UNRESERVE", "RESERVE", "CREATE", "LAUNCH")
_FIELDS = {
    "DESTROY": ("destroy", "volumes"),
    "UNRESERVE": ("unreserve", "resources"),
    "RESERVE": ("reserve", "resources"),
    "CREATE": ("create", "volumes"),
    "LAUNCH": ("launch", "task_infos"),
}


def scalar(name: str, value: float, role: str, reservation: Mapping[str, Any] | None = None) -> Resource:
    """A SCALAR resource (cpus, mem, disk), reserved if ``reservation`` is given."""
    resource: Resource = {
        "name": name,
        "type": "SCALAR",
        "scalar": {"value": round(float(value), 3)},
        "allocation_info": {"role": role},
    }
    if reservation is not None:
        resource["reservations"] = [dict(reservation)]
    return resource


def ports(numbers: Iterable[int], role: str, reservation: Mapping[str, Any] | None = None) -> Resource:
    """A RANGES ``ports`` resource covering ``numbers`` (adjacent ports merge into one range)."""
    resource: Resource = {
        "name": "ports",
        "type": "RANGES",
        "ranges": {"range": [{"begin": b, "end": e} for b, e in to_ranges(numbers)]},
        "allocation_info": {"role": role},
    }
    if reservation is not None:
        resource["reservations"] = [dict(reservation)]
    return resource


def to_ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """[31000, 31001, 31005] -> [(31000, 31001), (31005, 31005)]."""
    ranges: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if ranges and ranges[-1][1] == n - 1:
            ranges[-1] = (ranges[-1][0], n)
        else:
            ranges.append((n, n))
    return ranges


def volume(reserved_disk: Resource, persistence_id: str, principal: str, container_path: str) -> Resource:
    """The persistent volume made from a reserved disk resource (same stack, same size)."""
    made = {k: v for k, v in reserved_disk.items() if k != "disk"}
    made["disk"] = {
        "persistence": {"id": persistence_id, "principal": principal},
        "volume": {"container_path": container_path, "mode": "RW"},
    }
    return made


def plain_disk(volume_resource: Mapping[str, Any]) -> Resource:
    """What DESTROY leaves behind: the reserved disk without persistence and volume."""
    plain = {k: v for k, v in volume_resource.items() if k != "disk"}
    source = (volume_resource.get("disk") or {}).get("source")
    if source is not None:
        plain["disk"] = {"source": source}
    return plain


def make(kind: str, items: Sequence[Mapping[str, Any]]) -> Operation:
    """One operation of ``kind`` (RESERVE, CREATE, LAUNCH, DESTROY, UNRESERVE) over ``items``."""
    key, field = _FIELDS[kind]
    return {"type": kind, key: {field: [dict(i) for i in items]}}


def items_of(operation: Mapping[str, Any]) -> list[Any]:
    """The resources, volumes or task infos an operation carries."""
    key, field = _FIELDS[operation["type"]]
    return list(operation[key][field])


def order(operations: Iterable[Operation]) -> list[Operation]:
    """Merge operations of the same kind and put them in the order one ACCEPT needs."""
    grouped: dict[str, list[Any]] = {kind: [] for kind in _ORDER}
    for operation in operations:
        grouped[operation["type"]].extend(items_of(operation))
    return [make(kind, items) for kind, items in grouped.items() if items]
