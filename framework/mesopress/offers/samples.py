"""Offers shaped exactly like Mesos v1 OFFERS events in the refined form, for tests and simulations.

Real offers come from the master (facts §2 a); unit, sim and benchmark tests need the same JSON
without one. Builders return plain dicts: an unreserved offer with ``allocation_info`` on the offer
and on every resource, plus helpers to add reserved resources and volumes the way a later offer shows
them after RESERVE and CREATE (same reservation stack, ``disk.persistence``/``disk.volume``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mesopress.offers import labels, operations

MASTER = "5b1c3f1e-0000-4a4b-8c8d-000000000001"


def offer(
    n: int = 1,
    role: str = "mesopress",
    cpus: float = 4.0,
    mem: float = 8192.0,
    disk: float = 20000.0,
    ports: Sequence[tuple[int, int]] = ((31000, 32000),),
    attributes: Mapping[str, str] | None = None,
    extra: Sequence[dict[str, Any]] = (),
    agent: int | None = None,
) -> dict[str, Any]:
    """Offer ``M-O<n>`` from agent ``M-S<agent or n>`` (host ``node<agent or n>``)."""
    a = n if agent is None else agent
    address = {"hostname": f"node{a}", "ip": f"10.0.{a // 250 % 250}.{a % 250 + 1}", "port": 5051}
    resources = [
        operations.scalar(name, value, role) for name, value in (("cpus", cpus), ("mem", mem), ("disk", disk))
    ]
    if ports:
        resources.append(operations.ports([], role))
        resources[-1]["ranges"]["range"] = [{"begin": b, "end": e} for b, e in ports]
    return {
        "id": {"value": f"{MASTER}-O{n}"},
        "framework_id": {"value": f"{MASTER}-0000"},
        "agent_id": {"value": f"{MASTER}-S{a}"},
        "hostname": f"node{a}",
        "allocation_info": {"role": role},
        "url": {"scheme": "http", "address": address, "path": "/slave(1)"},
        "resources": resources + [dict(r) for r in extra],
        "attributes": [
            {"name": k, "type": "TEXT", "text": {"value": v}} for k, v in (attributes or {}).items()
        ],
    }


def agent_id(n: int) -> str:
    return f"{MASTER}-S{n}"


def offer_id(n: int) -> str:
    return f"{MASTER}-O{n}"


def reserved(
    name: str,
    value: float,
    instance: str,
    resource_id: str,
    service: str = "site",
    role: str = "mesopress",
    principal: str = "mesopress",
) -> dict[str, Any]:
    """A scalar reserved with our labels, as a later offer shows it."""
    stack = labels.make_reservation(role, principal, service, instance, resource_id)
    return operations.scalar(name, value, role, stack)


def reserved_ports(
    numbers: Sequence[int], instance: str, resource_id: str, service: str = "site", role: str = "mesopress"
) -> dict[str, Any]:
    stack = labels.make_reservation(role, "mesopress", service, instance, resource_id)
    return operations.ports(numbers, role, stack)


def volume(
    size: float,
    instance: str,
    resource_id: str,
    persistence_id: str,
    container_path: str = "data",
    service: str = "site",
    role: str = "mesopress",
) -> dict[str, Any]:
    """A persistent volume made from a labelled reserved disk, as a later offer shows it."""
    disk = reserved("disk", size, instance, resource_id, service, role)
    return operations.volume(disk, persistence_id, "mesopress", container_path)


def foreign(
    name: str, value: float, role: str = "mesopress", label_service: str | None = None
) -> dict[str, Any]:
    """A reservation that is not ours: static (no labels) or dynamic with another service's label."""
    if label_service is None:
        return operations.scalar(name, value, role, {"type": "STATIC", "role": role})
    stack = labels.make_reservation(role, "other", label_service, "x-0", "x-0.cpus.1")
    return operations.scalar(name, value, role, stack)


def counting_uuids(prefix: str = "u") -> Callable[[], str]:
    """A deterministic ``new_uuid``: u0, u1, u2, ..."""
    counter = itertools.count()
    return lambda: f"{prefix}{next(counter)}"
