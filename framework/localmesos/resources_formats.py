"""Resource formats: pre-refinement (``role`` + ``reservation``) <-> refined (``reservations`` stack).

Why this module exists: inside localmesos every resource is refined; frameworks without
RESERVATION_REFINEMENT send and receive the old format (facts §2). Converting is only safe when the input
format is consistent, so this module holds both the conversions and the reservation-format part of Mesos'
Resources::validate that guards them.
"""

from __future__ import annotations

from typing import Any

from localmesos.resources_identity import (
    DYNAMIC,
    STATIC,
    Resource,
    ResourceError,
    is_strict_subrole,
    labels_key,
    validate_role,
)


def format_error(resource: Resource) -> str | None:
    """The reservation-format part of Mesos Resources::validate (either format)."""
    stack = resource.get("reservations") or []
    if not isinstance(stack, list) or not all(isinstance(r, dict) for r in stack):
        return "Invalid reservation: 'Resource.reservations' must be a list of objects"
    if not stack:
        return _pre_refinement_error(resource)
    return _refined_error(resource, stack)


def _pre_refinement_error(resource: Resource) -> str | None:
    role = resource.get("role")
    role = "*" if role is None else role
    error = validate_role(role)
    if error is not None:
        return error
    reservation = resource.get("reservation")
    if reservation is None:
        return None
    if not isinstance(reservation, dict):
        return "Invalid reservation: 'Resource.reservation' must be an object"
    if reservation.get("type") is not None:
        return "'Resource.ReservationInfo.type' must not be set for the 'Resource.reservation' field"
    if reservation.get("role") is not None:
        return "'Resource.ReservationInfo.role' must not be set for the 'Resource.reservation' field"
    if role == "*":
        return 'Invalid reservation: role "*" cannot be dynamically reserved'
    return None


def _refined_error(resource: Resource, stack: list[dict[str, Any]]) -> str | None:
    for info in stack:
        error = _reservation_info_error(info)
        if error is not None:
            return error
    ancestor = stack[0]["role"]
    for info in stack[1:]:
        if info["type"] == STATIC:
            return "Invalid refined reservation: A refined reservation cannot be STATIC"
        if not is_strict_subrole(info["role"], ancestor):
            return f"Invalid refined reservation: role '{info['role']}' is not a refinement of '{ancestor}'"
        ancestor = info["role"]
    if len(stack) == 1:
        return _mixed_format_error(resource, stack[0])
    if resource.get("role") is not None:
        return (
            "Invalid resource format: 'Resource.role' must not be set if there is more than one"
            " reservation in 'Resource.reservations'"
        )
    if resource.get("reservation") is not None:
        return (
            "Invalid resource format: 'Resource.reservation' must not be set if there is more than one"
            " reservation in 'Resource.reservations'"
        )
    return None


def _reservation_info_error(info: dict[str, Any]) -> str | None:
    if info.get("type") is None:
        return "Invalid reservation: 'Resource.ReservationInfo.type' field must be set."
    if info["type"] not in (STATIC, DYNAMIC):
        return "Unsupported 'Resource.ReservationInfo.Type'"
    if info.get("role") is None:
        return "Invalid reservation: 'Resource.ReservationInfo.role' field must be set."
    error = validate_role(info["role"])
    if error is not None:
        return error
    if info["role"] == "*":
        return 'Invalid reservation: role "*" cannot be reserved'
    return None


def _mixed_format_error(resource: Resource, info: dict[str, Any]) -> str | None:
    """One reservation: ``role``/``reservation`` may also be set if they agree with it."""
    role = resource.get("role")
    reservation = resource.get("reservation")
    if role is not None and role != info["role"]:
        return (
            f"Invalid resource format: 'Resource.role' field with '{role}' does not match the role"
            f" '{info['role']}' in 'Resource.reservations'"
        )
    if info["type"] == STATIC:
        if reservation is not None:
            return (
                "Invalid resource format: 'Resource.reservation' must not be set if the single"
                " reservation in 'Resource.reservations' is STATIC"
            )
        return None
    if (role is None) != (reservation is None):
        return (
            "Invalid resource format: 'Resource.role' and 'Resource.reservation' must either be both"
            " set or both not set if the single reservation in 'Resource.reservations' is DYNAMIC"
        )
    if reservation is None:
        return None
    if reservation.get("principal", "") != info.get("principal", ""):
        return (
            f"Invalid resource format: 'Resource.reservation.principal' field with"
            f" '{reservation.get('principal', '')}' does not match the principal"
            f" '{info.get('principal', '')}' in 'Resource.reservations'"
        )
    if labels_key(reservation.get("labels") or {}) != labels_key(info.get("labels") or {}):
        return (
            "Invalid resource format: 'Resource.reservation.labels' field does not match the labels"
            " in 'Resource.reservations'"
        )
    return None


def upgrade(resource: Resource) -> Resource:
    """Pre-refinement (``role`` + ``reservation``) -> refined (``reservations`` stack).

    Already-refined resources pass (a consistent mixed form loses ``role``/``reservation``);
    format errors (``reservation.type``/``.role`` set, role "*" with a reservation, inconsistent mixes)
    raise ResourceError. Returns a new dict (nested values are shared with the input)."""
    error = format_error(resource)
    if error is not None:
        raise ResourceError(error)
    out = {k: v for k, v in resource.items() if k not in ("role", "reservation")}
    if resource.get("reservations"):
        return out
    role = resource.get("role")
    if role is None or role == "*":
        out.pop("reservations", None)
        return out
    reservation = resource.get("reservation")
    if reservation is None:
        out["reservations"] = [{"type": STATIC, "role": role}]
    else:
        info: dict[str, Any] = {"type": DYNAMIC, "role": role}
        for field in ("principal", "labels"):
            if reservation.get(field) is not None:
                info[field] = reservation[field]
        out["reservations"] = [info]
    return out


def downgrade(resource: Resource) -> Resource:
    """Refined -> pre-refinement (``role`` + ``reservation{principal,labels}``) for frameworks without
    RESERVATION_REFINEMENT. Raises ResourceError for refined stacks (more than one reservation)."""
    stack = resource.get("reservations") or []
    out = {k: v for k, v in resource.items() if k not in ("reservations", "role", "reservation")}
    if not stack:
        out["role"] = "*"
        return out
    if len(stack) > 1:
        raise ResourceError(
            "Invalid resource format conversion: a resource with refined reservations cannot be"
            " converted to the pre-reservation-refinement format"
        )
    info = stack[0]
    out["role"] = info.get("role", "")
    if info.get("type") == DYNAMIC:
        out["reservation"] = {f: info[f] for f in ("principal", "labels") if info.get(f) is not None}
    return out
