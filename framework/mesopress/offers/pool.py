"""One offer's resources, indexed once, and the claims stages make on them.

``Index`` reads an offer (refined form, facts §2) in one pass and sorts each resource into: unreserved
cpus/mem/ROOT disk/ports we may reserve, our own labelled reservations by resource id, our volumes by
persistence id, and everything else, which is never touched (other roles, static reservations,
unlabelled or other services' reservations, revocable or shared resources, MOUNT/PATH disks). A
``Pool`` is an index plus claims; ``fork`` is cheap (the index is shared, only claims are copied), so
the evaluator can try a request on an offer and throw the attempt away. Works on offers with tens of
thousands of entries: parsing is linear, fixed ports are found by bisection.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from mesopress.offers import labels, placement

EPSILON = 0.0005  # Mesos keeps scalars with 3 decimal places
SCALARS = ("cpus", "mem", "disk")
_NO_RESERVED: dict[str, list[dict[str, Any]]] = {}
_NO_VOLUMES: dict[str, dict[str, Any]] = {}
_NO_LABELLED: list[tuple[labels.Owner, dict[str, Any]]] = []


class Index:
    """The parts of one offer mesopress may use; built once per offer."""

    def __init__(self, offer: Mapping[str, Any], role: str, service: str) -> None:
        self.offer = offer
        self.role = role
        self.service = service
        self.offer_id: str = offer["id"]["value"]
        self.agent_id: str = offer["agent_id"]["value"]
        self.hostname: str = offer.get("hostname", "")
        self.role_ok = (offer.get("allocation_info") or {}).get("role", role) == role
        self.scalars: dict[str, float] = dict.fromkeys(SCALARS, 0.0)
        self.ranges: list[tuple[int, int]] = []
        # Most offers hold nothing of ours: share empty containers until something is added.
        self.reserved: dict[str, list[dict[str, Any]]] = _NO_RESERVED
        self.volumes: dict[str, dict[str, Any]] = _NO_VOLUMES
        self.labelled: list[tuple[labels.Owner, dict[str, Any]]] = _NO_LABELLED
        if self.role_ok:
            for resource in offer.get("resources") or ():
                self._add(resource, role, service)
        self.ranges.sort()
        self.starts = [b for b, _ in self.ranges]

    def _add(self, resource: dict[str, Any], role: str, service: str) -> None:
        if not _usable(resource, role):
            return
        if resource.get("reservations"):
            self._add_reserved(resource, role, service)
        elif resource.get("role", "*") == "*":
            self._add_unreserved(resource)

    def _add_unreserved(self, resource: dict[str, Any]) -> None:
        name = resource.get("name")
        if name in SCALARS and resource.get("type") == "SCALAR" and not resource.get("disk"):
            self.scalars[name] += float(resource["scalar"]["value"])
        elif name == "ports" and resource.get("type") == "RANGES":
            self.ranges.extend((r["begin"], r["end"]) for r in resource["ranges"].get("range", ()))

    def _add_reserved(self, resource: dict[str, Any], role: str, service: str) -> None:
        owner = labels.owner(resource, role, service)
        if owner is None:
            return
        if self.labelled is _NO_LABELLED:
            self.labelled, self.reserved, self.volumes = [], {}, {}
        self.labelled.append((owner, resource))
        persistence = ((resource.get("disk") or {}).get("persistence") or {}).get("id")
        if persistence:
            self.volumes[persistence] = resource
        else:
            self.reserved.setdefault(owner.resource_id, []).append(resource)

    @functools.cached_property
    def site(self) -> placement.Site:
        """The agent as placement sees it (read only when placement is checked)."""
        return placement.site_of(self.offer)


def _usable(resource: Mapping[str, Any], role: str) -> bool:
    allocated = (resource.get("allocation_info") or {}).get("role", role)
    return allocated == role and "revocable" not in resource and "shared" not in resource


class Pool:
    """An ``Index`` plus what stages have taken from it so far."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.used: dict[str, float] = dict.fromkeys(SCALARS, 0.0)
        self.taken_ports: set[int] = set()
        self.taken_ids: set[str] = set()

    @classmethod
    def of(cls, offer: Mapping[str, Any], role: str, service: str) -> Pool:
        return cls(Index(offer, role, service))

    def fork(self) -> Pool:
        copy = Pool(self.index)
        copy.used = dict(self.used)
        copy.taken_ports = set(self.taken_ports)
        copy.taken_ids = set(self.taken_ids)
        return copy

    def available(self, name: str) -> float:
        return self.index.scalars.get(name, 0.0) - self.used.get(name, 0.0)

    def take_scalar(self, name: str, amount: float) -> bool:
        """Claim ``amount`` of unreserved ``name``; False (nothing claimed) if there is not enough."""
        if self.available(name) + EPSILON < amount:
            return False
        self.used[name] = self.used.get(name, 0.0) + amount
        return True

    def take_ports(self, wanted: Sequence[int]) -> list[int] | None:
        """Claim unreserved ports: fixed numbers as given, 0 = the lowest free one; None if short."""
        claimed = set(self.taken_ports)
        if not all(self._claim(port, claimed) for port in wanted if port):
            return None
        chosen = list(wanted)
        for i, port in enumerate(wanted):
            found = port or self._any(claimed)
            if found is None:
                return None
            claimed.add(found)
            chosen[i] = found
        self.taken_ports = claimed
        return chosen

    def _claim(self, port: int, claimed: set[int]) -> bool:
        if not self._free(port, claimed):
            return False
        claimed.add(port)
        return True

    def _free(self, port: int, claimed: set[int]) -> bool:
        i = bisect.bisect_right(self.index.starts, port) - 1
        return i >= 0 and self.index.ranges[i][1] >= port and port not in claimed

    def _any(self, claimed: set[int]) -> int | None:
        for begin, end in self.index.ranges:
            for port in range(begin, end + 1):
                if port not in claimed:
                    return port
        return None

    def take_reserved(self, resource_id: str) -> list[dict[str, Any]]:
        """Claim our reserved resources labelled ``resource_id`` ([] if absent or already taken)."""
        if resource_id in self.taken_ids:
            return []
        self.taken_ids.add(resource_id)
        return self.index.reserved.get(resource_id, [])

    def take_volume(self, persistence_id: str) -> dict[str, Any] | None:
        """Claim our volume with ``persistence_id`` (None if absent or already taken)."""
        key = "volume:" + persistence_id
        if key in self.taken_ids or persistence_id not in self.index.volumes:
            return None
        self.taken_ids.add(key)
        return self.index.volumes[persistence_id]


class Pools:
    """Offers by id (first copy wins), each indexed only when first needed: in a big cluster most
    offers are only declined, and an offer without any reservation cannot hold anything of ours."""

    def __init__(self, offers: Iterable[Mapping[str, Any]], role: str, service: str) -> None:
        self.role = role
        self.service = service
        self.offers: dict[str, Mapping[str, Any]] = {}
        for offer in offers:
            self.offers.setdefault(offer["id"]["value"], offer)
        self._pools: dict[str, Pool] = {}

    def __iter__(self) -> Iterator[str]:
        return iter(self.offers)

    def __getitem__(self, offer_id: str) -> Pool:
        pool = self._pools.get(offer_id)
        if pool is None:
            pool = self._pools[offer_id] = Pool.of(self.offers[offer_id], self.role, self.service)
        return pool

    def __setitem__(self, offer_id: str, pool: Pool) -> None:
        self._pools[offer_id] = pool

    def role_ok(self, offer_id: str) -> bool:
        return bool((self.offers[offer_id].get("allocation_info") or {}).get("role", self.role) == self.role)

    def may_hold_ours(self, offer_id: str) -> bool:
        """False when the offer has no reserved resource at all (checked without indexing it)."""
        return self.role_ok(offer_id) and any(
            r.get("reservations") for r in self.offers[offer_id]["resources"]
        )
