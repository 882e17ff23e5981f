"""Master-level checks of the resources in an operation or a task (validation.cpp namespace resource).

Why this module exists: before any operation-specific rule, a Mesos master checks the resources
themselves: DiskInfo only where it makes sense, whole GPUs, one role, no revocable/non-revocable mix,
unique persistence ids (facts §3.3, §3.4). Operations (``operations_validate``) and task launches
(``operations``) share these checks and their Mesos messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from localmesos import ids
from localmesos import resources_identity as rid
from localmesos import resources_validate as rvalidate
from localmesos.resources import Resource, Resources


def disk_info_error(resources: list[Resource]) -> str | None:
    for resource in resources:
        disk = resource.get("disk")
        if disk is None:
            continue
        if disk.get("persistence") is not None:
            error = _volume_disk_error(resource, disk)
            if error is not None:
                return error
        elif disk.get("volume") is not None:
            return "Non-persistent volume not supported"
        elif disk.get("source") is None:
            return "DiskInfo is set but empty"
    return None


def _volume_disk_error(resource: Resource, disk: dict[str, Any]) -> str | None:
    if rid.is_revocable(resource):
        return "Persistent volumes cannot be created from revocable resources"
    if rid.is_unreserved(resource):
        return "Persistent volumes cannot be created from unreserved resources"
    if disk.get("volume") is None:
        return "Expecting 'volume' to be set for persistent volume"
    if disk["volume"].get("host_path") is not None:
        return "Expecting 'host_path' to be unset for persistent volume"
    error = ids.validate_id(disk["persistence"].get("id", ""))
    if error is not None:
        return f"Invalid persistence ID for persistent volume: {error}"
    return None


def _gpus_error(resources: list[Resource]) -> str | None:
    for resource in resources:
        if resource.get("name") == "gpus" and resource.get("type") == rid.SCALAR:
            value = resource["scalar"]["value"]
            if value != int(value):
                return "The 'gpus' resource must be an unsigned integer"
    return None


def validate_resources(resources: list[Resource]) -> str | None:
    """Mesos master ``resource::validate`` on refined resources."""
    error = rvalidate.validate_all(resources)
    if error is not None:
        return f"Invalid resources: {error}"
    error = _gpus_error(resources)
    if error is not None:
        return f"Invalid 'gpus' resource: {error}"
    error = disk_info_error(resources)
    if error is not None:
        return f"Invalid DiskInfo: {error}"
    for resource in resources:
        if rid.is_dynamic(resource) and rid.is_revocable(resource):
            return (
                f"Invalid ReservationInfo: Dynamically reserved resource {resource_text(resource)}"
                " cannot be created from revocable resources"
            )
    return None


def unique_persistence_error(resources: Iterable[Resource]) -> str | None:
    """Persistence ids must be unique per role (``resource::validateUniquePersistenceID``)."""
    seen: set[tuple[str, str]] = set()
    for resource in resources:
        pid = rid.persistence_id(resource)
        if pid is None:
            continue
        key = (rid.reservation_role(resource), pid)
        if key in seen:
            return f"Persistence ID '{pid}' is not unique"
        seen.add(key)
    return None


def single_role_error(resources: Iterable[Resource]) -> str | None:
    """All resources allocated to one role (``resource::validateAllocatedToSingleRole``)."""
    role: str | None = None
    for resource in resources:
        alloc = resource.get("allocation_info") or {}
        if alloc.get("role") is None:
            return "The resources are not allocated to a role"
        if role is None:
            role = alloc["role"]
        elif alloc["role"] != role:
            return (
                f"The resources have multiple allocation roles ('{alloc['role']}' and '{role}')"
                " but only one allocation role is allowed"
            )
    return None


def revocable_mix_error(resources: Iterable[Resource]) -> str | None:
    """No name both revocable and not (``resource::validateRevocableAndNonRevocableResources``)."""
    kinds: dict[str, set[bool]] = {}
    for resource in resources:
        kinds.setdefault(resource.get("name", ""), set()).add(rid.is_revocable(resource))
    for name, flags in kinds.items():
        if len(flags) > 1:
            return f"Cannot use both revocable and non-revocable '{name}' at the same time"
    return None


def persistent_volume_error(volumes: list[Resource]) -> str | None:
    for volume in volumes:
        disk = volume.get("disk")
        if disk is None:
            return f"Resource {resource_text(volume)} does not have DiskInfo"
        if disk.get("persistence") is None:
            return "'persistence' is not set in DiskInfo"
        if disk.get("volume") is None:
            return "Expecting 'volume' to be set for persistent volume"
        if disk["volume"].get("mode") == "RO":
            return "Read-only persistent volume not supported"
    return None


def resource_text(resource: Resource) -> str:
    return str(Resources.trusted([resource])) if rvalidate.validate(resource) is None else repr(resource)


def list_text(resources: list[Resource]) -> str:
    return "; ".join(resource_text(r) for r in resources)
