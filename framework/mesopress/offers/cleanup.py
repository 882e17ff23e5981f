"""Garbage: our labelled reservations and volumes in an offer that no known pod instance owns.

They are left behind by a replacement (the old agent comes back), by an ACCEPT whose footprint was
never stored, or by an uninstall. A resource is garbage only if it carries *our* service label in
*our* role (the pool never indexes anything else) and neither its resource id nor, for a volume, its
persistence id appears in any stored footprint. Unlabelled, static and other services' reservations
are never touched: one clean-up that destroyed another framework's reservations in the same role is
the bug we will not have. Volumes are destroyed before their disk is unreserved (facts §2 e).

The caller must pass *every* stored footprint, including launches recorded but not yet confirmed,
and only ask for clean-up once its state is loaded.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from mesopress.offers import operations
from mesopress.offers.pool import Index
from mesopress.offers.requests import Context


@dataclass(frozen=True)
class Garbage:
    volumes: tuple[dict[str, Any], ...] = ()
    reserved: tuple[dict[str, Any], ...] = ()
    instances: frozenset[str] = frozenset()  # whose labels the released resources carry

    def __bool__(self) -> bool:
        return bool(self.volumes or self.reserved)


def find_garbage(
    index: Index, known_resource_ids: Collection[str], known_persistence_ids: Collection[str]
) -> Garbage:
    """Our labelled resources in the offer that no known footprint names."""
    volumes: list[dict[str, Any]] = []
    reserved: list[dict[str, Any]] = []
    owners: set[str] = set()
    for owner, resource in index.labelled:
        persistence = ((resource.get("disk") or {}).get("persistence") or {}).get("id")
        if owner.resource_id in known_resource_ids or persistence in known_persistence_ids:
            continue
        (volumes if persistence else reserved).append(resource)
        owners.add(owner.instance)
    return Garbage(tuple(volumes), tuple(reserved), frozenset(owners))


def find_in_offer(offer: Mapping[str, Any], ctx: Context) -> Garbage:
    """Garbage in one offer, judged against every footprint in ``ctx``.

    With no footprints at all this is everything of ours in the offer: what an uninstall releases
    (after killing the tasks, since resources in use are never offered).
    """
    index = Index(offer, ctx.role, ctx.service)
    return find_garbage(index, ctx.known_resource_ids(), ctx.known_persistence_ids())


def release(garbage: Garbage) -> list[dict[str, Any]]:
    """DESTROY the volumes, then UNRESERVE their disks and the other reservations."""
    ops = []
    if garbage.volumes:
        ops.append(operations.make("DESTROY", garbage.volumes))
    unreserve = [operations.plain_disk(v) for v in garbage.volumes] + list(garbage.reserved)
    if unreserve:
        ops.append(operations.make("UNRESERVE", unreserve))
    return ops
