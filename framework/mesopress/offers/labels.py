"""Reservation labels: how a reservation says whose it is, and reading that back from an offer.

Every dynamic reservation mesopress makes carries three labels: the service name, the pod instance
and a resource id (``model.ids``). After any failover the labels alone tell our reservations from
everyone else's in the same role (reservations belong to a role, not to a framework: facts §3.1), so
``owner`` is the single test the pool and the clean-up use. Unlabelled reservations, static ones and
those of other services are never ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mesopress.model import ids


@dataclass(frozen=True)
class Owner:
    """Who a reservation belongs to inside our service."""

    instance: str
    resource_id: str


def make_reservation(
    role: str, principal: str, service: str, instance: str, resource_id: str
) -> dict[str, Any]:
    """One DYNAMIC reservation (a refined stack entry) with our three labels."""
    return {
        "type": "DYNAMIC",
        "role": role,
        "principal": principal,
        "labels": to_labels(
            {ids.LABEL_SERVICE: service, ids.LABEL_INSTANCE: instance, ids.LABEL_RESOURCE_ID: resource_id}
        ),
    }


def to_labels(values: Mapping[str, str]) -> dict[str, Any]:
    """``{"k": "v"}`` -> Mesos ``Labels`` JSON ``{"labels": [{"key": "k", "value": "v"}]}``."""
    return {"labels": [{"key": k, "value": v} for k, v in values.items()]}


def from_labels(labels: Mapping[str, Any] | None) -> dict[str, str]:
    """Mesos ``Labels`` JSON -> a dict (a label without value reads as "")."""
    items = (labels or {}).get("labels") or ()
    return {item.get("key", ""): item.get("value", "") for item in items}


def top_reservation(resource: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The last (innermost) entry of a refined reservation stack, or None if unreserved."""
    stack = resource.get("reservations") or ()
    return stack[-1] if stack else None


def owner(resource: Mapping[str, Any], role: str, service: str) -> Owner | None:
    """The instance and resource id if ``resource`` is dynamically reserved for ``role`` by us."""
    top = top_reservation(resource)
    if top is None or top.get("type") != "DYNAMIC" or top.get("role") != role:
        return None
    values = from_labels(top.get("labels"))
    if values.get(ids.LABEL_SERVICE) != service or not values.get(ids.LABEL_RESOURCE_ID):
        return None
    return Owner(values.get(ids.LABEL_INSTANCE, ""), values[ids.LABEL_RESOURCE_ID])
