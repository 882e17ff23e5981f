"""Offer operations applied to a pool of resources, with the checks a Mesos 1.11 master makes.

Why this module exists: what mesopress must survive is exactly which RESERVE / UNRESERVE / CREATE /
DESTROY operations and which task launches a real master refuses, and what the remaining offer looks like
afterwards (facts §3.3, §3.4). The checks and their messages follow Mesos' src/master/validation.cpp
(``operation::validate``, ``resource::validate``, ``task::validate``) and the conversions follow
``getResourceConversions`` / ``ResourceConversion::apply``. Everything here is pure: the master passes in
the pool (the remaining offered resources), what it knows about the framework and the agent, and gets back
a new pool or a reason.

The checks are split by Mesos' namespaces: ``operations_resources`` (resource checks),
``operations_validate`` (per-operation rules); this module normalises, validates tasks, converts and
applies.

Deliberate simplifications: no authorization (ACLs), no resource providers or operation feedback (the
master handles ``Offer.Operation.id``), no GROW/SHRINK_VOLUME, and "in use by a task" for DESTROY shows up
as the pool not containing the volume rather than as Mesos' separate "in use" message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from localmesos import ids
from localmesos import resources_display as display
from localmesos import resources_formats as formats
from localmesos import resources_identity as rid
from localmesos import resources_validate as rvalidate
from localmesos.operations_resources import (
    list_text,
    revocable_mix_error,
    single_role_error,
    unique_persistence_error,
    validate_resources,
)
from localmesos.operations_validate import (
    FrameworkContext,
    create_error,
    destroy_error,
    reserve_error,
    unreserve_error,
)
from localmesos.resources import Resource, ResourceError, Resources

_FIELDS = {"RESERVE": "resources", "UNRESERVE": "resources", "CREATE": "volumes", "DESTROY": "volumes"}


class OperationError(Exception):
    """An operation the master drops (or a task it refuses); the message is the one Mesos logs."""


# ------------------------------------------------------------------------------------------------------
# Normalisation (master::accept: validateAndUpgradeResources + injectAllocationInfo)
# ------------------------------------------------------------------------------------------------------


def normalize_resources(resources: Iterable[Resource], allocation_role: str | None) -> list[Resource]:
    """Validate each resource's format, upgrade it to the refined form and give it
    ``allocation_info: {"role": allocation_role}`` when it has none. Raises OperationError."""
    out = []
    for resource in resources:
        error = rvalidate.validate(resource)
        if error is not None:
            raise OperationError(f"Resource '{display.describe(resource)}' is invalid: {error}")
        upgraded = formats.upgrade(resource)
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
        return reserve_error(items, framework)
    if kind == "UNRESERVE":
        return unreserve_error(items, framework)
    if kind == "CREATE":
        return create_error(items, framework, role, used_ids)
    return destroy_error(items, role, used_ids)


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
    if any(rid.is_shared(r) for r in resources):
        return f"Executor resources {list_text(resources)} should not contain any shared resources"
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
