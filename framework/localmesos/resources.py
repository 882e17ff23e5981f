"""``Resources``: the immutable multiset of Mesos resources that localmesos holds.

Why this module exists: every decision of the master (offers, ACCEPT operations, task launches, /state)
depends on Mesos' exact rules for when two resources are "the same kind" and how they add up (facts §3.1,
Mesos src/common/resources.cpp). Getting one rule wrong (say, merging two reservations whose labels differ)
makes localmesos accept what Mesos rejects, and mesopress would be tested against a lie.

Inside localmesos resources are always in the refined form (``reservations`` stack, no ``role`` and no
``reservation``); ``resources_formats.upgrade``/``downgrade`` convert at the edges. ``Resources`` is
immutable: every operation returns a new object, so callers can share instances freely (the allocator keeps
thousands of them).

The rules live in small modules below this one: ``resources_identity`` (one resource dict, identity key,
roles), ``resources_values`` (fixed-point scalars, ranges, sets), ``resources_entries`` (Mesos add/subtract
on stored entries), ``resources_formats`` (pre-refinement <-> refined), ``resources_validate``
(Resources::validate), ``resources_display`` (Mesos-like text) and ``resources_text`` (agent
``--resources`` parsing).

Trade-offs, for speed: each resource is stored once with a precomputed hashable identity key and a parsed
value (scalars as integer thousandths, which is Mesos' own fixed point; ranges as coalesced tuples; sets as
frozensets). Stored dicts are never mutated and never handed out; ``__iter__``/``to_json`` return copies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from localmesos.resources_display import describe, entry_text
from localmesos.resources_entries import (
    Entry,
    Slots,
    add_entry,
    clone,
    make_entry,
    slot_contains,
    slot_equal,
    sub_entry,
    with_count,
)
from localmesos.resources_formats import upgrade
from localmesos.resources_identity import (
    RANGES,
    SCALAR,
    SET,
    Resource,
    ResourceError,
    is_dynamic,
    is_revocable,
    is_shared,
    is_static,
    is_volume,
    persistence_id,
)
from localmesos.resources_validate import validate
from localmesos.resources_values import coalesce, ranges_text


class Resources:
    """An immutable multiset of refined v1 ``Resource`` JSON dicts, with Mesos' identity and merge rules.

    ``Resources(list_of_dicts)`` validates each dict (``validate``; pre-refinement input is upgraded
    first) and raises ResourceError for an invalid one; equal-kind resources merge and empty ones are
    dropped. All other operations return new objects.
    """

    __slots__ = ("_slots",)

    def __init__(self, resources: Iterable[Resource] | Resources = ()) -> None:
        if isinstance(resources, Resources):
            self._slots: Slots = resources._slots
            return
        slots: Slots = {}
        for resource in resources:
            add_entry(slots, make_entry(clone(_checked(resource))))
        self._slots = slots

    @classmethod
    def _of(cls, slots: Slots) -> Resources:
        obj = cls.__new__(cls)
        obj._slots = slots
        return obj

    @classmethod
    def trusted(cls, resources: Iterable[Resource]) -> Resources:
        """Build from refined dicts that are known to be valid (no validation, no copies: the caller
        must not mutate them afterwards). For hot paths inside localmesos."""
        slots: Slots = {}
        for resource in resources:
            add_entry(slots, make_entry(resource))
        return cls._of(slots)

    def _entries(self) -> Iterator[Entry]:
        for entries in self._slots.values():
            yield from entries

    # --- arithmetic -----------------------------------------------------------------------------

    def __add__(self, other: Resources | Iterable[Resource]) -> Resources:
        """Union with merging (scalars add, ranges/sets union; volumes and MOUNT/BLOCK disks never merge)."""
        other = _coerce(other)
        if not other._slots:
            return self
        if not self._slots:
            return other
        slots = dict(self._slots)
        for entry in other._entries():
            add_entry(slots, entry)
        return Resources._of(slots)

    def __sub__(self, other: Resources | Iterable[Resource]) -> Resources:
        """Difference; raises ValueError("<self> does not contain <other>") when not contained."""
        other = _coerce(other)
        if not other._slots:
            return self
        slots = dict(self._slots)
        for entry in other._entries():
            if not sub_entry(slots, entry):
                raise ValueError(f"{self} does not contain {other}")
        return Resources._of(slots)

    def contains(self, other: Resources | Iterable[Resource] | Resource) -> bool:
        """True iff ``other`` fits (same kind, value <=; volumes and MOUNT/BLOCK disks only whole).
        A single invalid Resource dict is never contained (as in Mesos)."""
        if isinstance(other, dict):
            if validate(other) is not None:
                return False
            other = Resources.trusted([upgrade(other)])
        other = _coerce(other)
        for key, entries in other._slots.items():
            mine = self._slots.get(key)
            if mine is None:
                return False
            if not slot_contains(mine, entries):
                return False
        return True

    def __contains__(self, other: object) -> bool:
        if not isinstance(other, Resources | dict | list | tuple):
            return False
        return self.contains(other)

    def __eq__(self, other: object) -> bool:
        """Multiset equality under Mesos identity (order-independent)."""
        if not isinstance(other, Resources):
            return NotImplemented
        if self._slots.keys() != other._slots.keys():
            return False
        return all(slot_equal(self._slots[k], other._slots[k]) for k in self._slots)

    def __hash__(self) -> int:
        return hash(frozenset(self._slots))

    def __bool__(self) -> bool:
        return bool(self._slots)

    def __len__(self) -> int:
        """Number of distinct stored resources (shared copies counted once, like Mesos' size())."""
        return sum(len(entries) for entries in self._slots.values())

    @property
    def empty(self) -> bool:
        return not self._slots

    def __iter__(self) -> Iterator[Resource]:
        """Copies of the resource dicts, one per stored resource (a shared resource with n copies
        appears n times)."""
        for entry in self._entries():
            for _ in range(entry.count):
                yield clone(entry.res)

    def to_json(self) -> list[Resource]:
        """A list of fresh Resource dicts (refined form) suitable for the wire."""
        return list(self)

    def __repr__(self) -> str:
        return f"Resources({self})"

    def __str__(self) -> str:
        """Mesos-like text: ``cpus(allocated: r)(reservations: [(DYNAMIC,r,p)]):1; ports:[1-2]``."""
        return "; ".join(entry_text(entry) for entry in self._entries() for _ in range(entry.count)) or "{}"

    # --- selection ------------------------------------------------------------------------------

    def filter(self, pred: Callable[[Resource], bool]) -> Resources:
        """Resources whose dict satisfies ``pred`` (``pred`` must not mutate its argument)."""
        slots: Slots = {}
        for key, entries in self._slots.items():
            kept = tuple(e for e in entries if pred(e.res))
            if kept:
                slots[key] = kept
        return Resources._of(slots)

    def names(self) -> set[str]:
        return {key[0] for key in self._slots}

    def get(self, name: str) -> Resources:
        return self.filter(lambda r: r.get("name") == name)

    def scalar(self, name: str) -> float:
        """Sum of the scalar ``name`` over all kinds (0.0 if none); shared copies count once."""
        total = 0
        for key, entries in self._slots.items():
            if key[0] == name and key[1] == SCALAR:
                total += sum(e.value for e in entries)
        return total / 1000.0

    def ranges(self, name: str) -> list[tuple[int, int]]:
        """Merged, sorted inclusive (begin, end) ranges of ``name`` over all kinds."""
        parts: list[tuple[int, int]] = []
        for key, entries in self._slots.items():
            if key[0] == name and key[1] == RANGES:
                for e in entries:
                    parts.extend(e.value)
        return list(coalesce(parts))

    def set_items(self, name: str) -> set[str]:
        items: set[str] = set()
        for key, entries in self._slots.items():
            if key[0] == name and key[1] == SET:
                for e in entries:
                    items |= e.value
        return items

    def _filter_keys(self, pred: Callable[[tuple], bool]) -> Resources:
        return Resources._of({key: entries for key, entries in self._slots.items() if pred(key)})

    def reserved(self, role: str | None = None) -> Resources:
        """Reserved resources; with ``role``, those whose reservation stack ends in ``role``."""
        if role is None:
            return self._filter_keys(lambda key: bool(key[3]))
        return self._filter_keys(lambda key: bool(key[3]) and key[3][-1][1] == role)

    def unreserved(self) -> Resources:
        return self._filter_keys(lambda key: not key[3])

    def static_reserved(self) -> Resources:
        return self.filter(is_static)

    def dynamic_reserved(self) -> Resources:
        return self.filter(is_dynamic)

    def volumes(self) -> Resources:
        """Persistent volumes (resources with disk.persistence)."""
        return self.filter(is_volume)

    def persistence_ids(self) -> set[str]:
        return {pid for e in self._entries() if (pid := persistence_id(e.res)) is not None}

    def allocatable_to(self, role: str) -> Resources:
        """What an offer to ``role`` may hold: unreserved + reserved for ``role`` (or for an ancestor of
        ``role``, as Mesos' isAllocatableTo; ancestors only matter with hierarchical roles)."""
        prefix = role + "/"

        def allowed(key: tuple) -> bool:
            if not key[3]:
                return True
            owner = key[3][-1][1]
            return owner == role or prefix.startswith(owner + "/")

        return self._filter_keys(allowed)

    def revocable(self) -> Resources:
        return self.filter(is_revocable)

    def non_revocable(self) -> Resources:
        return self.filter(lambda r: not is_revocable(r))

    def shared(self) -> Resources:
        return self.filter(is_shared)

    def non_shared(self) -> Resources:
        return self.filter(lambda r: not is_shared(r))

    def allocation_roles(self) -> set[str | None]:
        return {key[2][0] if key[2] else None for key in self._slots}

    # --- transformations ------------------------------------------------------------------------

    def _map(self, change: Callable[[Resource], Resource]) -> Resources:
        slots: Slots = {}
        for entry in self._entries():
            new = make_entry(change(entry.res))
            add_entry(slots, with_count(new, entry.count))
        return Resources._of(slots)

    def _retag(self, alloc_key: tuple | None, change: Callable[[Resource], Resource]) -> Resources:
        """Re-key every entry with a new allocation part (cheaper than recomputing identities)."""
        slots: Slots = {}
        for entry in self._entries():
            key = entry.key[:2] + (alloc_key,) + entry.key[3:]
            add_entry(slots, Entry(key, change(entry.res), entry.value, entry.exclusive, entry.count))
        return Resources._of(slots)

    def allocate(self, role: str) -> Resources:
        """Copy with ``allocation_info: {"role": role}`` on every resource."""
        alloc_key = (role,)
        if all(key[2] == alloc_key for key in self._slots):
            return self
        info = {"role": role}
        return self._retag(alloc_key, lambda r: {**r, "allocation_info": info})

    def unallocate(self) -> Resources:
        """Copy with ``allocation_info`` stripped."""
        if all(key[2] is None for key in self._slots):
            return self
        return self._retag(None, lambda r: {k: v for k, v in r.items() if k != "allocation_info"})

    def push_reservation(self, reservation: dict[str, Any]) -> Resources:
        """Copy with ``reservation`` pushed on every stack (the result of a RESERVE)."""
        return self._map(lambda r: {**r, "reservations": [*(r.get("reservations") or ()), reservation]})

    def pop_reservation(self) -> Resources:
        """Copy with the last reservation popped from every stack (the result of an UNRESERVE)."""
        return self._map(_popped)

    def to_unreserved(self) -> Resources:
        return self._map(lambda r: {k: v for k, v in r.items() if k != "reservations"})

    # --- summaries ------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Mesos /state style (non-revocable only): {"cpus": 4.0, "gpus": 0.0, "mem": 4096.0,
        "disk": 20000.0, "ports": "[31000-31999]"}."""
        out: dict[str, Any] = {"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}
        plain = self.non_revocable()
        for name, kind in sorted({(key[0], key[1]) for key in plain._slots}):
            if kind == SCALAR:
                out[name] = plain.scalar(name)
            elif kind == RANGES:
                out[name] = ranges_text(tuple(plain.ranges(name)))
            else:
                out[name] = "{" + ", ".join(sorted(plain.set_items(name))) + "}"
        return out

    def reserved_by_role(self) -> dict[str, Resources]:
        """Reserved resources keyed by the last role of their reservation stack."""
        out: dict[str, Slots] = {}
        for key, entries in self._slots.items():
            if key[3]:
                out.setdefault(key[3][-1][1], {})[key] = entries
        return {role: Resources._of(slots) for role, slots in out.items()}


def _popped(resource: Resource) -> Resource:
    stack = resource.get("reservations") or ()
    if not stack:
        raise ResourceError(f"cannot pop a reservation from unreserved {entry_text(make_entry(resource))}")
    out = {k: v for k, v in resource.items() if k != "reservations"}
    if len(stack) > 1:
        out["reservations"] = list(stack[:-1])
    return out


def _coerce(other: Resources | Iterable[Resource]) -> Resources:
    return other if isinstance(other, Resources) else Resources(other)


def _checked(resource: Resource) -> Resource:
    """Validate and upgrade one inbound resource; raise ResourceError if Mesos would refuse it."""
    if not isinstance(resource, dict):
        raise ResourceError(f"Resource must be a JSON object, not {type(resource).__name__}")
    error = validate(resource)
    if error is not None:
        raise ResourceError(f"Resource '{describe(resource)}' is invalid: {error}")
    return upgrade(resource)
