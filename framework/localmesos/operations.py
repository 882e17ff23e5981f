"""Offer operations applied to a pool of resources, with the checks a Mesos 1.11 master makes.

Why this module exists: what mesopress must survive is exactly which RESERVE / UNRESERVE / CREATE /
DESTROY operations and which task launches a real master refuses, and what the remaining offer looks like
afterwards (facts §3.3, §3.4). The checks and their messages follow Mesos' src/master/validation.cpp
(``operation::validate``, ``resource::validate``, ``task::validate``) and the conversions follow
``getResourceConversions`` / ``ResourceConversion::apply``. Everything here is pure: the master passes in
the pool (the remaining offered resources), what it knows about the framework and the agent, and gets back
a new pool or a reason.

Deliberate simplifications: no authorization (ACLs), no resource providers or operation feedback (the
master handles ``Offer.Operation.id``), no GROW/SHRINK_VOLUME, and "in use by a task" for DESTROY shows up
as the pool not containing the volume rather than as Mesos' separate "in use" message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from localmesos import ids
from localmesos import resources as res
from localmesos.resources import Resource, ResourceError, Resources

RESERVATION_REFINEMENT = "RESERVATION_REFINEMENT"
SHARED_RESOURCES = "SHARED_RESOURCES"
_FIELDS = {"RESERVE": "resources", "UNRESERVE": "resources", "CREATE": "volumes", "DESTROY": "volumes"}


class OperationError(Exception):
    """An operation the master drops (or a task it refuses); the message is the one Mesos logs."""


@dataclass(frozen=True)
class FrameworkContext:
    """What operation validation needs to know about the framework doing it."""

    roles: frozenset[str]
    principal: str | None
    capabilities: frozenset[str]  # capability type names, e.g. "SHARED_RESOURCES"


# ------------------------------------------------------------------------------------------------------
# Normalisation (master::accept: validateAndUpgradeResources + injectAllocationInfo)
# ------------------------------------------------------------------------------------------------------


def normalize_resources(resources: Iterable[Resource], allocation_role: str | None) -> list[Resource]:
    """Validate each resource's format, upgrade it to the refined form and give it
    ``allocation_info: {"role": allocation_role}`` when it has none. Raises OperationError."""
    out = []
    for resource in resources:
        error = res.validate(resource)
        if error is not None:
            raise OperationError(f"Resource '{res.describe(resource)}' is invalid: {error}")
        upgraded = res.upgrade(resource)
        if allocation_role is not None and upgraded.get("allocation_info") is None:
            upgraded["allocation_info"] = {"role": allocation_role}
        out.append(upgraded)
    return out


def normalize_operation(operation: dict[str, Any], allocation_role: str) -> dict[str, Any]:
    """Copy of a RESERVE/UNRESERVE/CREATE/DESTROY operation with refined, allocated resources."""
    kind = operation.get("type")
    if kind not in _FIELDS:
        raise OperationError(f"Unsupported offer operation type {kind!r}")
    body = operation.get(kind.lower())
    if not isinstance(body, dict):
        raise OperationError(f"Expecting '{kind.lower()}' to be present")
    field = _FIELDS[kind]
    out_body = dict(body)
    out_body[field] = normalize_resources(body.get(field) or [], allocation_role)
    return {**operation, kind.lower(): out_body}


def normalize_task(task: dict[str, Any], allocation_role: str) -> dict[str, Any]:
    """Copy of a TaskInfo whose resources (and executor resources) are upgraded to the refined form
    and carry ``allocation_info: {"role": allocation_role}``. Raises OperationError on a bad format."""
    out = dict(task)
    out["resources"] = normalize_resources(task.get("resources") or [], allocation_role)
    executor = task.get("executor")
    if isinstance(executor, dict):
        out["executor"] = {
            **executor,
            "resources": normalize_resources(executor.get("resources") or [], allocation_role),
        }
    return out


# ------------------------------------------------------------------------------------------------------
# Master-level resource checks (validation.cpp namespace resource)
# ------------------------------------------------------------------------------------------------------


def _disk_info_error(resources: list[Resource]) -> str | None:
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
    if res.is_revocable(resource):
        return "Persistent volumes cannot be created from revocable resources"
    if res.is_unreserved(resource):
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
        if resource.get("name") == "gpus" and resource.get("type") == res.SCALAR:
            value = resource["scalar"]["value"]
            if value != int(value):
                return "The 'gpus' resource must be an unsigned integer"
    return None


def validate_resources(resources: list[Resource]) -> str | None:
    """Mesos master ``resource::validate`` on refined resources."""
    error = res.validate_all(resources)
    if error is not None:
        return f"Invalid resources: {error}"
    error = _gpus_error(resources)
    if error is not None:
        return f"Invalid 'gpus' resource: {error}"
    error = _disk_info_error(resources)
    if error is not None:
        return f"Invalid DiskInfo: {error}"
    for resource in resources:
        if res.is_dynamic(resource) and res.is_revocable(resource):
            return (
                f"Invalid ReservationInfo: Dynamically reserved resource {_text(resource)}"
                " cannot be created from revocable resources"
            )
    return None


def unique_persistence_error(resources: Iterable[Resource]) -> str | None:
    """Persistence ids must be unique per role (``resource::validateUniquePersistenceID``)."""
    seen: set[tuple[str, str]] = set()
    for resource in resources:
        pid = res.persistence_id(resource)
        if pid is None:
            continue
        key = (res.reservation_role(resource), pid)
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
        kinds.setdefault(resource.get("name", ""), set()).add(res.is_revocable(resource))
    for name, flags in kinds.items():
        if len(flags) > 1:
            return f"Cannot use both revocable and non-revocable '{name}' at the same time"
    return None


def _persistent_volume_error(volumes: list[Resource]) -> str | None:
    for volume in volumes:
        disk = volume.get("disk")
        if disk is None:
            return f"Resource {_text(volume)} does not have DiskInfo"
        if disk.get("persistence") is None:
            return "'persistence' is not set in DiskInfo"
        if disk.get("volume") is None:
            return "Expecting 'volume' to be set for persistent volume"
        if disk["volume"].get("mode") == "RO":
            return "Read-only persistent volume not supported"
    return None


def _text(resource: Resource) -> str:
    return str(Resources.trusted([resource])) if res.validate(resource) is None else repr(resource)


# ------------------------------------------------------------------------------------------------------
# Per-operation validation (validation.cpp namespace operation)
# ------------------------------------------------------------------------------------------------------


def _refinement_error(resource: Resource, framework: FrameworkContext, verb: str) -> str | None:
    if len(resource.get("reservations") or ()) > 1 and RESERVATION_REFINEMENT not in framework.capabilities:
        return (
            f"Resource {_text(resource)} with reservation refinement cannot be {verb} by a framework"
            " without RESERVATION_REFINEMENT capability"
        )
    return None


def _reserve_error(resources: list[Resource], framework: FrameworkContext) -> str | None:
    for resource in resources:
        error = _reserve_one_error(resource, framework)
        if error is not None:
            return error
    error = single_role_error(resources)
    return None if error is None else f"Invalid reservation resources: {error}"


def _reserve_one_error(resource: Resource, framework: FrameworkContext) -> str | None:
    if not res.is_dynamic(resource):
        return f"Resource {_text(resource)} is not dynamically reserved"
    error = _refinement_error(resource, framework, "reserved")
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
    owner = res.reservation_role(resource)
    alloc = (resource.get("allocation_info") or {}).get("role")
    roles = "{ " + ", ".join(sorted(framework.roles)) + " }"
    if alloc is None:
        return (
            f"A reserve operation was attempted on unallocated resource {_text(resource)}, but"
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


def _unreserve_error(resources: list[Resource], framework: FrameworkContext) -> str | None:
    for resource in resources:
        if not res.is_dynamic(resource):
            return f"Resource {_text(resource)} is not dynamically reserved"
        if res.is_volume(resource):
            return (
                f"A dynamically reserved persistent volume {_text(resource)} cannot be unreserved"
                " directly. Please destroy the persistent volume first then unreserve the resource"
            )
        error = _refinement_error(resource, framework, "unreserved")
        if error is not None:
            return error
    return None


def _create_error(
    volumes: list[Resource], framework: FrameworkContext, allocation_role: str, used_ids: set[str]
) -> str | None:
    error = _persistent_volume_error(volumes)
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
        pid = res.persistence_id(volume)
        if res.reservation_role(volume) == allocation_role and pid in used_ids:
            return f"Persistence ID '{pid}' is not unique"
    return unique_persistence_error(volumes)


def _create_one_error(volume: Resource, framework: FrameworkContext) -> str | None:
    if res.is_shared(volume) and SHARED_RESOURCES not in framework.capabilities:
        return (
            f"Create volume operation for '{_text(volume)}' has been attempted by a framework"
            " with no SHARED_RESOURCES capability"
        )
    error = _refinement_error(volume, framework, "created")
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


def _destroy_error(volumes: list[Resource], allocation_role: str, used_ids: set[str]) -> str | None:
    error = _persistent_volume_error(volumes)
    if error is not None:
        return f"Not a persistent volume: {error}"
    for volume in volumes:
        if res.reservation_role(volume) != allocation_role or res.persistence_id(volume) not in used_ids:
            return "Persistent volumes not found"
    return None


# ------------------------------------------------------------------------------------------------------
# Conversions (getResourceConversions + ResourceConversion::apply)
# ------------------------------------------------------------------------------------------------------


def _stripped(volume: Resource) -> Resource:
    """The disk a volume was created from: no persistence/volume (no disk at all for ROOT), not shared."""
    out = {k: v for k, v in volume.items() if k != "shared"}
    disk = volume.get("disk") or {}
    if disk.get("source") is not None:
        out["disk"] = {k: v for k, v in disk.items() if k not in ("persistence", "volume")}
    else:
        out.pop("disk", None)
    return out


def conversions(operation: dict[str, Any]) -> list[tuple[Resources, Resources]]:
    """(consumed, converted) pairs of a normalized, valid operation, in order."""
    kind = operation["type"]
    items = operation[kind.lower()][_FIELDS[kind]]
    out = []
    for item in items:
        one = Resources.trusted([item])
        if kind == "RESERVE":
            out.append((one.pop_reservation(), one))
        elif kind == "UNRESERVE":
            out.append((one, one.pop_reservation()))
        elif kind == "CREATE":
            out.append((Resources.trusted([_stripped(item)]), one))
        else:
            out.append((one, Resources.trusted([_stripped(item)])))
    return out


def converted(operation: dict[str, Any], allocation_role: str) -> tuple[Resources, Resources]:
    """(all consumed, all produced) of a valid operation, refined and allocated to ``allocation_role``."""
    pairs = conversions(normalize_operation(operation, allocation_role))
    consumed, produced = Resources(), Resources()
    for used, made in pairs:
        consumed, produced = consumed + used, produced + made
    return consumed, produced


def _convert(pool: Resources, operation: dict[str, Any]) -> Resources:
    for consumed, made in conversions(operation):
        if not pool.contains(consumed):
            raise OperationError(f"{pool} does not contain {consumed}")
        pool = pool - consumed + made
        if operation["type"] == "DESTROY" and pool.contains(consumed):
            raise OperationError(
                f"Persistent volume {consumed} cannot be removed due to additional shared copies"
            )
    return pool


# ------------------------------------------------------------------------------------------------------
# Public entry points
# ------------------------------------------------------------------------------------------------------


def apply(
    pool: Resources,
    operation: dict[str, Any],
    framework: FrameworkContext,
    allocation_role: str,
    persistence_ids_in_role: set[str],
) -> Resources:
    """Apply one RESERVE/UNRESERVE/CREATE/DESTROY (Offer.Operation JSON, either resource format) to
    ``pool`` (the remaining offered resources: refined, allocated to ``allocation_role``) and return the
    converted pool. Raises OperationError with a Mesos-like message when a Mesos master would drop the
    operation. ``persistence_ids_in_role``: ids of the persistent volumes checkpointed on the agent for
    ``allocation_role`` (for CREATE uniqueness and DESTROY existence)."""
    if operation.get("type") == "RESERVE" and (operation.get("reserve") or {}).get("source"):
        raise OperationError("A RESERVE operation with 'source' set can only be made by operators")
    try:
        normalized = normalize_operation(operation, allocation_role)
    except ResourceError as exc:
        raise OperationError(str(exc)) from None
    kind = normalized["type"]
    items = normalized[kind.lower()][_FIELDS[kind]]
    error = _operation_error(kind, items, framework, allocation_role, persistence_ids_in_role)
    if error is not None:
        raise OperationError(error)
    return _convert(pool, normalized)


def _operation_error(
    kind: str, items: list[Resource], framework: FrameworkContext, role: str, used_ids: set[str]
) -> str | None:
    error = validate_resources(items)
    if error is not None:
        return f"Invalid resources: {error}"
    if kind == "RESERVE":
        return _reserve_error(items, framework)
    if kind == "UNRESERVE":
        return _unreserve_error(items, framework)
    if kind == "CREATE":
        return _create_error(items, framework, role, used_ids)
    return _destroy_error(items, role, used_ids)


def task_resources(task: dict[str, Any], existing_executor_ids: Iterable[str] = ()) -> Resources:
    """Resources a normalized TaskInfo consumes: its own plus a new executor's."""
    total = Resources.trusted(task.get("resources") or [])
    executor = task.get("executor")
    if isinstance(executor, dict) and _value(executor.get("executor_id")) not in set(existing_executor_ids):
        total = total + Resources.trusted(executor.get("resources") or [])
    return total


def _value(obj: object) -> str:
    return obj.get("value", "") if isinstance(obj, dict) else ""


def validate_task(
    task: dict[str, Any],
    pool: Resources,
    agent_id: str,
    framework: FrameworkContext,
    live_task_ids: set[str],
    unreachable_task_ids: set[str],
    existing_executor_ids: Iterable[str] = (),
) -> str | None:
    """Why a Mesos master would reject this LAUNCH task (TASK_ERROR, REASON_TASK_INVALID), or None.
    ``task`` must be normalized (``normalize_task``); ``pool`` is the remaining offered resources;
    ``existing_executor_ids``: executors of this framework already on the agent (their resources are not
    charged again)."""
    checks = (
        lambda: _task_id_error(task, live_task_ids, unreachable_task_ids),
        lambda: _task_agent_error(task, agent_id),
        lambda: _durations_error(task),
        lambda: _task_resources_error(task),
        lambda: _command_error(task.get("command"), "Task's `CommandInfo` is invalid: "),
        lambda: _executor_error(task, pool, existing_executor_ids),
    )
    for check in checks:
        error = check()
        if error is not None:
            return error
    return None


def _task_id_error(task: dict[str, Any], live: set[str], unreachable: set[str]) -> str | None:
    task_id = _value(task.get("task_id"))
    error = ids.validate_id(task_id)
    if error is not None:
        return error
    if task_id in live:
        return f"Task has duplicate ID: {task_id}"
    if task_id in unreachable:
        return f"Task reuses the ID of an unreachable task: {task_id}"
    return None


def _task_agent_error(task: dict[str, Any], agent_id: str) -> str | None:
    given = _value(task.get("agent_id"))
    if given != agent_id:
        return f"Task uses invalid agent {given} while agent {agent_id} is expected"
    return None


def _nanos(duration: object) -> int | float | None:
    if not isinstance(duration, dict):
        return None
    value = duration.get("nanoseconds")
    return value if isinstance(value, int | float) else None


def _durations_error(task: dict[str, Any]) -> str | None:
    grace = _nanos((task.get("kill_policy") or {}).get("grace_period"))
    if grace is not None and grace < 0:
        return "Task's 'kill_policy.grace_period' must be non-negative"
    limit = _nanos(task.get("max_completion_time"))
    if limit is not None and limit < 0:
        return "Task's `max_completion_time` must be non-negative"
    return None


def _task_resources_error(task: dict[str, Any]) -> str | None:
    resources = task.get("resources") or []
    if not resources:
        return "Task uses no resources"
    checks = (
        (validate_resources, "Task uses invalid resources: "),
        (unique_persistence_error, "Task uses duplicate persistence ID: "),
        (single_role_error, "Invalid task resources: "),
        (revocable_mix_error, "Task mixes revocable and non-revocable resources: "),
    )
    for check, prefix in checks:
        error = check(resources)
        if error is not None:
            return prefix + error
    return None


def _command_error(command: object, prefix: str) -> str | None:
    if not isinstance(command, dict):
        return None
    for variable in (command.get("environment") or {}).get("variables") or []:
        if variable.get("type", "VALUE") == "VALUE" and variable.get("value") is None:
            return f"{prefix}Environment variable '{variable.get('name', '')}' must have a value set"
    return None


def _executor_error(task: dict[str, Any], pool: Resources, existing: Iterable[str]) -> str | None:
    executor = task.get("executor")
    if (executor is not None) == (task.get("command") is not None):
        return "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
    if executor is not None:
        error = _executor_info_error(executor)
        if error is not None:
            return error
    error = _task_and_executor_error(task)
    if error is not None:
        return error
    total = task_resources(task, existing)
    if not pool.contains(total):
        return f"Total resources {total} required by task and its executor is more than available {pool}"
    return None


def _executor_info_error(executor: dict[str, Any]) -> str | None:
    error = ids.validate_id(_value(executor.get("executor_id")))
    if error is not None:
        return error
    nanos = _nanos(executor.get("shutdown_grace_period"))
    if nanos is not None and nanos < 0:
        return "ExecutorInfo's 'shutdown_grace_period' must be non-negative"
    error = _command_error(executor.get("command"), "Executor's `CommandInfo` is invalid: ")
    if error is not None:
        return error
    resources = executor.get("resources") or []
    error = validate_resources(resources) or unique_persistence_error(resources)
    if error is not None:
        return f"Executor uses invalid resources: {error}"
    if executor.get("type") not in (None, "CUSTOM"):
        return "'ExecutorInfo.type' must be 'CUSTOM'"
    if executor.get("command") is None:
        return "'ExecutorInfo.command' must be set"
    if any(res.is_shared(r) for r in resources):
        return f"Executor resources {_list_text(resources)} should not contain any shared resources"
    return None


def _task_and_executor_error(task: dict[str, Any]) -> str | None:
    total = list(task.get("resources") or []) + list((task.get("executor") or {}).get("resources") or [])
    error = unique_persistence_error(total)
    if error is not None:
        return f"Task and its executor use duplicate persistence ID: {error}"
    error = revocable_mix_error(total)
    if error is not None:
        return f"Task and its executor mix revocable and non-revocable resources: {error}"
    return None


def _list_text(resources: list[Resource]) -> str:
    return "; ".join(_text(r) for r in resources)
