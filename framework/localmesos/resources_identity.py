"""One Mesos resource dict on its own: predicates, role rules and the identity key.

Why this module exists: whether two resources are "the same kind" (and so merge, subtract and compare) is
decided by Mesos' identity rules (facts §3.1, Mesos src/common/resources.cpp); the multiset in
``resources.py``, the validation in ``resources_validate.py`` and the operations all build on these small
facts about a single refined resource dict, so they live here, below everything else, with no imports
from the rest of localmesos.
"""

from __future__ import annotations

from typing import Any

Resource = dict[str, Any]

SCALAR, RANGES, SET = "SCALAR", "RANGES", "SET"
STATIC, DYNAMIC = "STATIC", "DYNAMIC"
_EXCLUSIVE_SOURCES = frozenset({"MOUNT", "BLOCK"})
_ROLE_BAD_CHARS = "\x09\x0a\x0b\x0c\x0d\x20\x7f"  # Mesos src/common/roles.cpp INVALID_CHARACTERS


class ResourceError(ValueError):
    """A resource (or resource text) that Mesos would refuse; the message says why."""


# ------------------------------------------------------------------------------------------------------
# Small helpers on single resource dicts (refined form unless stated otherwise)
# ------------------------------------------------------------------------------------------------------


def has(d: dict[str, Any] | None, key: str) -> bool:
    """Protobuf-JSON presence: a key set to null counts as unset."""
    return d is not None and d.get(key) is not None


def reservation_role(resource: Resource) -> str:
    """The role a resource is reserved for (last stack entry) or "*" when unreserved."""
    stack = resource.get("reservations") or ()
    return stack[-1].get("role", "") if stack else "*"


def is_unreserved(resource: Resource) -> bool:
    return not resource.get("reservations")


def is_dynamic(resource: Resource) -> bool:
    """Reserved, and the last reservation of the stack is DYNAMIC (Mesos isDynamicallyReserved)."""
    stack: list[dict[str, Any]] = resource.get("reservations") or []
    return bool(stack) and stack[-1].get("type") == DYNAMIC


def is_static(resource: Resource) -> bool:
    stack: list[dict[str, Any]] = resource.get("reservations") or []
    return bool(stack) and stack[-1].get("type") == STATIC


def is_volume(resource: Resource) -> bool:
    """A persistent volume: ``disk.persistence`` is set."""
    disk = resource.get("disk")
    return has(disk, "persistence")


def is_shared(resource: Resource) -> bool:
    return has(resource, "shared")


def is_revocable(resource: Resource) -> bool:
    return has(resource, "revocable")


def persistence_id(resource: Resource) -> str | None:
    disk: Any = resource.get("disk")
    if not has(disk, "persistence"):
        return None
    return disk["persistence"].get("id")


def is_strict_subrole(child: str, parent: str) -> bool:
    """``a/b`` is a strict subrole of ``a`` (Mesos roles::isStrictSubroleOf)."""
    return child.startswith(parent + "/")


def allocatable_to_role(resource: Resource, role: str) -> bool:
    """Unreserved, reserved for ``role``, or reserved for an ancestor of ``role`` (isAllocatableTo)."""
    if is_unreserved(resource):
        return True
    owner = reservation_role(resource)
    return owner == role or is_strict_subrole(role, owner)



# ------------------------------------------------------------------------------------------------------
# Roles (Mesos roles::validate)
# ------------------------------------------------------------------------------------------------------


def validate_role(role: object) -> str | None:
    """Mesos ``roles::validate`` (hierarchical roles): why ``role`` is not a valid role name, or None.
    One rule for the master's FrameworkInfo and for resources' reservations."""
    if not isinstance(role, str):
        return "Role must be a string"
    if role == "*":
        return None
    if role == "":
        return "Empty role name is invalid"
    if role.startswith("/"):
        return f"Role '{role}' cannot start with a slash"
    if role.endswith("/"):
        return f"Role '{role}' cannot end with a slash"
    for component in role.split("/"):
        problem = _role_component_problem(role, component)
        if problem:
            return problem
    return None


def _role_component_problem(role: str, component: str) -> str | None:
    if component == "":
        return f"Role '{role}' cannot contain two adjacent slashes"
    if component in (".", "..", "*"):
        return f"Role '{role}' cannot include '{component}' as a component"
    if component.startswith("-"):
        return f"Role component '{component}' is invalid because it starts with a dash"
    if any(ch in _ROLE_BAD_CHARS for ch in component):
        return f"Role component '{component}' is invalid because it contains backspace or whitespace"
    return None


# ------------------------------------------------------------------------------------------------------
# Identity
# ------------------------------------------------------------------------------------------------------


def _freeze(obj: Any) -> Any:
    """A hashable, order-normalised image of a JSON value (dict keys sorted)."""
    if isinstance(obj, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in obj.items() if v is not None))
    if isinstance(obj, list):
        return tuple(_freeze(v) for v in obj)
    return obj


def labels_key(labels: dict[str, Any] | None) -> tuple | None:
    """Labels compare order-independently (Mesos operator== on Labels)."""
    if labels is None:
        return None
    items = labels.get("labels") or ()
    return tuple(sorted((lab.get("key", ""), lab.get("value")) for lab in items))


def _reservation_key(info: dict[str, Any]) -> tuple:
    return (info.get("type", "UNKNOWN"), info.get("role", ""), info.get("principal"),
            labels_key(info.get("labels")))  # fmt: skip


def _disk_key(disk: dict[str, Any] | None) -> tuple | None:
    """disk.source and persistence presence + id; disk.volume and persistence.principal are ignored."""
    if disk is None:
        return None
    source = disk.get("source")
    persistence = disk.get("persistence")
    return (_freeze(source) if source is not None else None,
            (persistence.get("id", ""),) if persistence is not None else None)  # fmt: skip


def identity(resource: Resource) -> tuple:
    """The hashable identity key of a refined resource (facts §3.1): name, type, allocation role,
    whole reservation stack (type, role, principal, labels), disk source, persistence presence + id,
    revocable, provider id and shared. Two resources with equal keys are "the same kind"."""
    alloc = resource.get("allocation_info")
    provider = resource.get("provider_id")
    return (
        resource.get("name", ""),
        resource.get("type", ""),
        (alloc.get("role"),) if alloc is not None else None,
        tuple(_reservation_key(r) for r in resource.get("reservations") or ()),
        _disk_key(resource.get("disk")),
        has(resource, "revocable"),
        provider.get("value") if isinstance(provider, dict) else None,
        has(resource, "shared"),
    )


def is_exclusive(resource: Resource) -> bool:
    """Never merged, subtracted only whole: non-shared volumes and MOUNT/BLOCK (or RAW with id) disks."""
    disk = resource.get("disk")
    if disk is None:
        return False
    if has(disk, "persistence"):
        return True
    source = disk.get("source")
    if source is None:
        return False
    kind = source.get("type")
    return kind in _EXCLUSIVE_SOURCES or (kind == "RAW" and has(source, "id"))
