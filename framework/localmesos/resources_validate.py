"""Mesos ``Resources::validate``: the reason one resource (in either format) is invalid, or None.

Why this module exists: localmesos must refuse exactly what Mesos refuses (bad values, overlapping ranges,
DiskInfo on non-disk resources, bad reservation formats, shared non-volumes); callers build messages from
the returned reason, so validation returns text instead of raising.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import TypeGuard

from localmesos.resources_display import describe
from localmesos.resources_formats import format_error
from localmesos.resources_identity import RANGES, SCALAR, SET, Resource, has, is_volume
from localmesos.resources_values import to_fixed


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scalar_error(resource: Resource) -> str | None:
    if not has(resource, "scalar") or has(resource, "ranges") or has(resource, "set"):
        return "Invalid scalar resource"
    scalar = resource["scalar"]
    value = scalar.get("value") if isinstance(scalar, dict) else None
    if not _is_number(value):
        return "Invalid scalar resource"
    if not math.isfinite(value):
        return "Invalid scalar resource: value is not finite"
    if value != 0 and to_fixed(value) <= 0:
        return "Invalid scalar resource: value <= 0"
    return None


def _ranges_error(resource: Resource) -> str | None:
    if has(resource, "scalar") or not has(resource, "ranges") or has(resource, "set"):
        return "Invalid ranges resource"
    items = resource["ranges"].get("range") if isinstance(resource["ranges"], dict) else None
    items = items or []
    pairs = []
    for item in items:
        if not isinstance(item, dict) or not _is_int(item.get("begin")) or not _is_int(item.get("end")):
            return "Invalid ranges resource"
        if item["begin"] < 0 or item["end"] < 0:
            return "Invalid ranges resource"
        if item["begin"] > item["end"]:
            return "Invalid ranges resource: begin > end"
        pairs.append((item["begin"], item["end"]))
    pairs.sort()
    for (_, end), (begin, _) in zip(pairs, pairs[1:], strict=False):
        if begin <= end:
            return "Invalid ranges resource: overlapping ranges"
    return None


def _set_error(resource: Resource) -> str | None:
    if has(resource, "scalar") or has(resource, "ranges") or not has(resource, "set"):
        return "Invalid set resource"
    items = resource["set"].get("item") if isinstance(resource["set"], dict) else None
    items = items or []
    if not all(isinstance(item, str) for item in items):
        return "Invalid set resource"
    if len(set(items)) != len(items):
        return "Invalid set resource: duplicated elements"
    return None


def _disk_error(resource: Resource) -> str | None:
    disk = resource.get("disk")
    if disk is None:
        return None
    if resource["name"] != "disk":
        return f"DiskInfo should not be set for {resource['name']} resource"
    if not isinstance(disk, dict):
        return "Invalid DiskInfo"
    source = disk.get("source")
    if source is None:
        return None
    kind = source.get("type") if isinstance(source, dict) else None
    if kind in ("PATH", "MOUNT"):
        return None
    if kind in ("BLOCK", "RAW"):
        for field, label in (("mount", "Mount"), ("path", "Path")):
            if source.get(field) is not None:
                return f"{label} should not be set for {kind} disk source"
        return None
    return f"Unsupported 'DiskInfo.Source.Type' in '{json.dumps(source, sort_keys=True)}'"


def _shared_error(resource: Resource) -> str | None:
    if not has(resource, "shared"):
        return None
    if resource["name"] != "disk":
        return f"Resource {resource['name']} cannot be shared"
    if not is_volume(resource):
        return "Only persistent volumes can be shared"
    return None


_VALUE_CHECKS: dict[str, Callable[[Resource], str | None]] = {
    SCALAR: _scalar_error,
    RANGES: _ranges_error,
    SET: _set_error,
}


def validate(resource: Resource) -> str | None:
    """Mesos ``Resources::validate`` for one resource in either format: the reason it is invalid, or
    None. Checks name and type, the value (scalar finite and not negative, ranges well formed and not
    overlapping, set without duplicates), DiskInfo only on disk and a known source type, the reservation
    format (STATIC only at the bottom, no role "*", refinements are strict subroles, consistent mixes)
    and that only persistent volumes are shared."""
    if not isinstance(resource, dict):
        return "Resource must be a JSON object"
    name = resource.get("name")
    if not isinstance(name, str) or not name:
        return "Empty resource name"
    kind = resource.get("type")
    if kind not in ("SCALAR", "RANGES", "SET", "TEXT"):
        return "Invalid resource type"
    check = _VALUE_CHECKS.get(kind)
    if check is None:
        return "Unsupported resource type"
    for step in (check, _disk_error, format_error, _shared_error):
        error = step(resource)
        if error is not None:
            return error
    return None


def validate_all(resources: Iterable[Resource]) -> str | None:
    """Mesos ``Resources::validate`` over a repeated field: "Resource '<r>' is invalid: <why>"."""
    for resource in resources:
        error = validate(resource)
        if error is not None:
            return f"Resource '{describe(resource)}' is invalid: {error}"
    return None
