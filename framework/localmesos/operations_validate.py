"""Per-operation validation of RESERVE / UNRESERVE / CREATE / DESTROY (validation.cpp namespace operation).

Why this module exists: which reservations and volumes a framework may make or remove depends on its
roles, principal and capabilities (facts §3.3, §3.4); these rules and their Mesos messages are the core of
what mesopress must get right, and they read best on their own. ``operations.apply`` runs them and then
converts the pool.
"""

from __future__ import annotations

from dataclasses import dataclass

from localmesos import resources_identity as rid
from localmesos.operations_resources import (
    persistent_volume_error,
    resource_text,
    single_role_error,
    unique_persistence_error,
)
from localmesos.resources import Resource

RESERVATION_REFINEMENT = "RESERVATION_REFINEMENT"
SHARED_RESOURCES = "SHARED_RESOURCES"


@dataclass(frozen=True)
class FrameworkContext:
    """What operation validation needs to know about the framework doing it."""

    roles: frozenset[str]
    principal: str | None
    capabilities: frozenset[str]  # capability type names, e.g. "SHARED_RESOURCES"


# ------------------------------------------------------------------------------------------------------
# Per-operation validation (validation.cpp namespace operation)
# ------------------------------------------------------------------------------------------------------


def refinement_error(resource: Resource, framework: FrameworkContext, verb: str) -> str | None:
    if len(resource.get("reservations") or ()) > 1 and RESERVATION_REFINEMENT not in framework.capabilities:
        return (
            f"Resource {resource_text(resource)} with reservation refinement cannot be {verb} by a framework"
            " without RESERVATION_REFINEMENT capability"
        )
    return None


def reserve_error(resources: list[Resource], framework: FrameworkContext) -> str | None:
    for resource in resources:
        error = _reserve_one_error(resource, framework)
        if error is not None:
            return error
    error = single_role_error(resources)
    return None if error is None else f"Invalid reservation resources: {error}"


def _reserve_one_error(resource: Resource, framework: FrameworkContext) -> str | None:
    if not rid.is_dynamic(resource):
        return f"Resource {resource_text(resource)} is not dynamically reserved"
    error = refinement_error(resource, framework, "reserved")
    if error is not None:
        return error
    principal = framework.principal
    reservation = resource["reservations"][-1]
    if principal is not None and reservation.get("principal") is None:
        return (
            f"A reserve operation was attempted by principal '{principal}', but there is a reserved"
            " resource in the request with no principal set"
        )
    if principal is not None and reservation["principal"] != principal:
        return (
            f"A reserve operation was attempted by authenticated principal '{principal}', which does"
            f" not match a reserved resource in the request with principal '{reservation['principal']}'"
        )
    return _reserve_role_error(resource, framework)


def _reserve_role_error(resource: Resource, framework: FrameworkContext) -> str | None:
    owner = rid.reservation_role(resource)
    alloc = (resource.get("allocation_info") or {}).get("role")
    roles = "{ " + ", ".join(sorted(framework.roles)) + " }"
    if alloc is None:
        return (
            f"A reserve operation was attempted on unallocated resource {resource_text(resource)}, but"
            " frameworks can only perform reservations on allocated resources"
        )
    if alloc != owner:
        return (
            f"A reserve operation was attempted for a resource with role '{owner}', but the resource"
            f" was allocated to role '{alloc}'"
        )
    if alloc not in framework.roles:
        return (
            f"A reserve operation was attempted for a resource allocated to role '{alloc}', but the"
            f" framework only has roles '{roles}'"
        )
    return None


def unreserve_error(resources: list[Resource], framework: FrameworkContext) -> str | None:
    for resource in resources:
        if not rid.is_dynamic(resource):
            return f"Resource {resource_text(resource)} is not dynamically reserved"
        if rid.is_volume(resource):
            return (
                f"A dynamically reserved persistent volume {resource_text(resource)} cannot be unreserved"
                " directly. Please destroy the persistent volume first then unreserve the resource"
            )
        error = refinement_error(resource, framework, "unreserved")
        if error is not None:
            return error
    return None


def create_error(
    volumes: list[Resource], framework: FrameworkContext, allocation_role: str, used_ids: set[str]
) -> str | None:
    error = persistent_volume_error(volumes)
    if error is not None:
        return f"Not a persistent volume: {error}"
    error = _unique_in_agent_error(volumes, allocation_role, used_ids)
    if error is not None:
        return error
    for volume in volumes:
        error = _create_one_error(volume, framework)
        if error is not None:
            return error
    error = single_role_error(volumes)
    return None if error is None else f"Invalid volume resources: {error}"


def _unique_in_agent_error(volumes: list[Resource], allocation_role: str, used_ids: set[str]) -> str | None:
    for volume in volumes:
        pid = rid.persistence_id(volume)
        if rid.reservation_role(volume) == allocation_role and pid in used_ids:
            return f"Persistence ID '{pid}' is not unique"
    return unique_persistence_error(volumes)


def _create_one_error(volume: Resource, framework: FrameworkContext) -> str | None:
    if rid.is_shared(volume) and SHARED_RESOURCES not in framework.capabilities:
        return (
            f"Create volume operation for '{resource_text(volume)}' has been attempted by a framework"
            " with no SHARED_RESOURCES capability"
        )
    error = refinement_error(volume, framework, "created")
    if error is not None:
        return error
    principal = framework.principal
    if principal is None:
        return None
    volume_principal = volume["disk"]["persistence"].get("principal")
    if volume_principal is None:
        return (
            f"Create volume operation attempted by principal '{principal}', but there is a volume in"
            " the operation with no principal set in 'disk.persistence'"
        )
    if volume_principal != principal:
        return (
            f"Create volume operation attempted by authenticated principal '{principal}', which does"
            f" not match a volume in the operation with principal '{volume_principal}' set in"
            " 'disk.persistence'"
        )
    return None


def destroy_error(volumes: list[Resource], allocation_role: str, used_ids: set[str]) -> str | None:
    error = persistent_volume_error(volumes)
    if error is not None:
        return f"Not a persistent volume: {error}"
    for volume in volumes:
        if rid.reservation_role(volume) != allocation_role or rid.persistence_id(volume) not in used_ids:
            return "Persistent volumes not found"
    return None
