"""FrameworkInfo validation of the master (Mesos ``validateFramework`` and ``roles::validate``).

Why this module exists: which FrameworkInfo a master refuses on SUBSCRIBE and UPDATE_FRAMEWORK (roles,
MULTI_ROLE mixes, ids, failover timeouts, suppressed roles, fields that may not change) decides whether a
framework can start at all (facts §1.2, §1.4). These are pure functions of the FrameworkInfo JSON, kept
apart from the framework lifecycle in ``master_frameworks``.
"""

from __future__ import annotations

import math
from typing import Any

from localmesos import ids
from localmesos.master_model import capabilities_of, roles_of, value
from localmesos.resources_identity import validate_role

_MAX_DURATION_SECONDS = (2**63 - 1) / 1e9

def validate_framework_info(info: dict[str, Any]) -> str | None:
    """Why the master refuses this FrameworkInfo on SUBSCRIBE/UPDATE_FRAMEWORK (Mesos validateFramework)."""
    return _validate_roles(info) or _validate_misc(info)


def _validate_roles(info: dict[str, Any]) -> str | None:
    caps = capabilities_of(info)
    if "MULTI_ROLE" in caps:
        if info.get("role") is not None:
            return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable"
        roles = list(info.get("roles") or [])
        duplicates = sorted({r for r in roles if roles.count(r) > 1})
        if duplicates:
            return f"'FrameworkInfo.roles' contains duplicate items: {{ {', '.join(duplicates)} }}"
        prefix = "'FrameworkInfo.roles' contains invalid role: "
    else:
        if info.get("roles"):
            return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable"
        roles = [info.get("role") or "*"]
        prefix = "'FrameworkInfo.role' is not a valid role: "
    for role in roles:
        problem = validate_role(role)
        if problem:
            return prefix + problem
    return None


def validate_suppressed(info: dict[str, Any], suppressed_roles: list[str]) -> str | None:
    """Suppressed roles must be among the framework's roles."""
    roles = set(roles_of(info))
    for role in suppressed_roles:
        if role not in roles:
            return f"Suppressed role '{role}' is not contained in the list of roles"
    return None


def _validate_misc(info: dict[str, Any]) -> str | None:
    fid = value(info.get("id"))
    if info.get("id") is not None and (fid is None or ids.validate_id(fid)):
        return f"Invalid FrameworkID: {ids.validate_id(fid) if fid is not None else 'missing value'}"
    timeout = info.get("failover_timeout")
    if timeout is not None:
        try:
            seconds = float(timeout)
        except (TypeError, ValueError):
            return "Invalid failover_timeout: not a number"
        if math.isnan(seconds) or abs(seconds) > _MAX_DURATION_SECONDS:
            return (
                "Invalid failover_timeout: Argument out of the range that a Duration can represent due "
                "to int64_t's size limit"
            )
    return None


def validate_update(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """UPDATE_FRAMEWORK may not change principal, user or checkpoint."""
    if old.get("principal") != new.get("principal"):
        return "Changing framework's principal is not allowed."
    if old.get("user") != new.get("user"):
        return "Updating 'FrameworkInfo.user' is unsupported"
    if bool(old.get("checkpoint", False)) != bool(new.get("checkpoint", False)):
        return "Updating 'FrameworkInfo.checkpoint' is unsupported"
    return None
