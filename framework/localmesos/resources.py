"""Mesos resources as localmesos holds them: identity, merging, arithmetic and wire formats.

Why this module exists: every decision of the master (offers, ACCEPT operations, task launches, /state)
depends on Mesos' exact rules for when two resources are "the same kind" and how they add up (facts §3.1,
Mesos src/common/resources.cpp). Getting one rule wrong (say, merging two reservations whose labels differ)
makes localmesos accept what Mesos rejects, and mesopress would be tested against a lie.

Inside localmesos resources are always in the refined form (``reservations`` stack, no ``role`` and no
``reservation``); ``upgrade``/``downgrade`` convert at the edges. ``Resources`` is immutable: every operation
returns a new object, so callers can share instances freely (the allocator keeps thousands of them).

Trade-offs, for speed: each resource is stored once with a precomputed hashable identity key and a parsed
value (scalars as integer thousandths, which is Mesos' own fixed point; ranges as coalesced tuples; sets as
frozensets). Stored dicts are never mutated and never handed out; ``__iter__``/``to_json`` return copies.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeGuard

Resource = dict[str, Any]
Ranges = tuple[tuple[int, int], ...]
# A parsed value: int thousandths (SCALAR), coalesced Ranges (RANGES) or frozenset[str] (SET); the
# helpers below dispatch on the resource type, so the static type is left open.
Value = Any

SCALAR, RANGES, SET = "SCALAR", "RANGES", "SET"
STATIC, DYNAMIC = "STATIC", "DYNAMIC"
_VALUE_FIELD = {SCALAR: "scalar", RANGES: "ranges", SET: "set"}
_EXCLUSIVE_SOURCES = frozenset({"MOUNT", "BLOCK"})
_ROLE_BAD_CHARS = frozenset("\t\n\v\f\r /\x7f")


class ResourceError(ValueError):
    """A resource (or resource text) that Mesos would refuse; the message says why."""


# ------------------------------------------------------------------------------------------------------
# Small helpers on single resource dicts (refined form unless stated otherwise)
# ------------------------------------------------------------------------------------------------------


def _has(d: dict[str, Any] | None, key: str) -> bool:
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
    return _has(disk, "persistence")


def is_shared(resource: Resource) -> bool:
    return _has(resource, "shared")


def is_revocable(resource: Resource) -> bool:
    return _has(resource, "revocable")


def persistence_id(resource: Resource) -> str | None:
    disk: Any = resource.get("disk")
    if not _has(disk, "persistence"):
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
# Identity
# ------------------------------------------------------------------------------------------------------


def _freeze(obj: Any) -> Any:
    """A hashable, order-normalised image of a JSON value (dict keys sorted)."""
    if isinstance(obj, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in obj.items() if v is not None))
    if isinstance(obj, list):
        return tuple(_freeze(v) for v in obj)
    return obj


def _labels_key(labels: dict[str, Any] | None) -> tuple | None:
    """Labels compare order-independently (Mesos operator== on Labels)."""
    if labels is None:
        return None
    items = labels.get("labels") or ()
    return tuple(sorted((lab.get("key", ""), lab.get("value")) for lab in items))


def _reservation_key(info: dict[str, Any]) -> tuple:
    return (info.get("type", "UNKNOWN"), info.get("role", ""), info.get("principal"),
            _labels_key(info.get("labels")))  # fmt: skip


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
        _has(resource, "revocable"),
        provider.get("value") if isinstance(provider, dict) else None,
        _has(resource, "shared"),
    )


def _exclusive(resource: Resource) -> bool:
    """Never merged, subtracted only whole: non-shared volumes and MOUNT/BLOCK (or RAW with id) disks."""
    disk = resource.get("disk")
    if disk is None:
        return False
    if _has(disk, "persistence"):
        return True
    source = disk.get("source")
    if source is None:
        return False
    kind = source.get("type")
    return kind in _EXCLUSIVE_SOURCES or (kind == "RAW" and _has(source, "id"))


# ------------------------------------------------------------------------------------------------------
# Values: fixed-point scalars, coalesced ranges, sets
# ------------------------------------------------------------------------------------------------------


def to_fixed(value: float) -> int:
    """Mesos' fixed point: llround(value * 1000) (half away from zero)."""
    scaled = value * 1000.0
    return int(math.floor(scaled + 0.5)) if scaled >= 0 else -int(math.floor(-scaled + 0.5))


def _coalesce(ranges: Iterable[tuple[int, int]]) -> Ranges:
    """Sort and merge overlapping or adjacent inclusive ranges."""
    out: list[list[int]] = []
    for begin, end in sorted(ranges):
        if out and begin <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([begin, end])
    return tuple((b, e) for b, e in out)


def _ranges_contain(outer: Ranges, inner: Ranges) -> bool:
    """Both coalesced: every inner range lies inside one outer range."""
    i = 0
    for begin, end in inner:
        while i < len(outer) and outer[i][1] < begin:
            i += 1
        if i == len(outer) or outer[i][0] > begin or outer[i][1] < end:
            return False
    return True


def _ranges_minus(outer: Ranges, inner: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    for begin, end in outer:
        cur = begin
        for b, e in inner:
            if e < cur or b > end:
                continue
            if b > cur:
                out.append((cur, b - 1))
            cur = max(cur, e + 1)
        if cur <= end:
            out.append((cur, end))
    return tuple(out)


def _parse_value(resource: Resource) -> Value:
    kind = resource.get("type")
    if kind == SCALAR:
        return to_fixed(float(resource["scalar"]["value"]))
    if kind == RANGES:
        items = (resource.get("ranges") or {}).get("range") or ()
        return _coalesce((int(r["begin"]), int(r["end"])) for r in items)
    return frozenset((resource.get("set") or {}).get("item") or ())


def _value_json(kind: str, value: Value) -> dict[str, Any]:
    if kind == SCALAR:
        return {"value": value / 1000.0}
    if kind == RANGES:
        return {"range": [{"begin": b, "end": e} for b, e in value]}
    return {"item": sorted(value)}


def _is_empty(value: Value) -> bool:
    return not value


def _value_contains(kind: str, outer: Value, inner: Value) -> bool:
    if kind == SCALAR:
        return inner <= outer
    if kind == RANGES:
        return _ranges_contain(outer, inner)
    return inner <= outer


def _value_add(kind: str, left: Value, right: Value) -> Value:
    if kind == SCALAR:
        return left + right
    if kind == RANGES:
        return _coalesce(left + right)
    return left | right


def _value_sub(kind: str, left: Value, right: Value) -> Value:
    if kind == SCALAR:
        return left - right
    if kind == RANGES:
        return _ranges_minus(left, right)
    return left - right


def _ranges_text(value: Ranges) -> str:
    return "[" + ", ".join(f"{b}-{e}" for b, e in value) + "]"


def _value_text(kind: str, value: Value) -> str:
    if kind == SCALAR:
        return _number_text(value / 1000.0)
    if kind == RANGES:
        return _ranges_text(value)
    return "{" + ", ".join(sorted(value)) + "}"


def _number_text(number: float) -> str:
    return str(int(number)) if number == int(number) else repr(number)


# ------------------------------------------------------------------------------------------------------
# Entries and the Resources multiset
# ------------------------------------------------------------------------------------------------------


class _Entry:
    """One stored resource: identity key, refined dict (never mutated), parsed value, shared count.
    Treated as immutable (a plain slotted class because frozen dataclasses are slow to build)."""

    __slots__ = ("key", "res", "value", "exclusive", "count")

    def __init__(self, key: tuple, res: Resource, value: Value, exclusive: bool, count: int = 1) -> None:
        self.key = key
        self.res = res
        self.value = value
        self.exclusive = exclusive
        self.count = count

    @property
    def kind(self) -> str:
        return self.key[1]


def _entry(resource: Resource) -> _Entry:
    key = identity(resource)
    value = _parse_value(resource)
    if key[-1]:  # shared: only identical copies merge, by counting
        key = key + (value,)
    return _Entry(key, resource, value, _exclusive(resource))


def _with_value(entry: _Entry, value: Value) -> _Entry:
    res = dict(entry.res)
    res[_VALUE_FIELD[entry.kind]] = _value_json(entry.kind, value)
    return _Entry(entry.key, res, value, entry.exclusive, entry.count)


def _with_count(entry: _Entry, count: int) -> _Entry:
    return _Entry(entry.key, entry.res, entry.value, entry.exclusive, count)


def _clone(obj: Any) -> Any:
    """A deep copy of a JSON value (faster than copy.deepcopy)."""
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clone(v) for v in obj]
    return obj


Slots = dict[tuple, tuple[_Entry, ...]]


def _add_entry(slots: Slots, entry: _Entry) -> None:
    """Mesos Resources::add: merge into an addable entry or append; empty values are dropped."""
    if _is_empty(entry.value) or entry.count <= 0:
        return
    current = slots.get(entry.key)
    if current is None:
        slots[entry.key] = (entry,)
    elif entry.key[7]:  # shared
        slots[entry.key] = (_with_count(current[0], current[0].count + entry.count),)
    elif entry.exclusive:
        slots[entry.key] = current + (entry,)
    else:
        head = current[0]
        slots[entry.key] = (_with_value(head, _value_add(head.kind, head.value, entry.value)),)


def _sub_entry(slots: Slots, entry: _Entry) -> bool:
    """Remove ``entry`` from ``slots``; False (slots untouched) when it is not contained."""
    if _is_empty(entry.value) or entry.count <= 0:
        return True
    current = slots.get(entry.key)
    if current is None:
        return False
    if entry.key[7]:  # shared
        left = current[0].count - entry.count
        if left < 0:
            return False
        _replace(slots, entry.key, (_with_count(current[0], left),) if left else ())
        return True
    if entry.exclusive:
        for i, item in enumerate(current):
            if item.value == entry.value:
                _replace(slots, entry.key, current[:i] + current[i + 1 :])
                return True
        return False
    head = current[0]
    if not _value_contains(head.kind, head.value, entry.value):
        return False
    rest = _value_sub(head.kind, head.value, entry.value)
    _replace(slots, entry.key, () if _is_empty(rest) else (_with_value(head, rest),))
    return True


def _replace(slots: Slots, key: tuple, entries: tuple[_Entry, ...]) -> None:
    if entries:
        slots[key] = entries
    else:
        del slots[key]


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
            _add_entry(slots, _entry(_clone(_checked(resource))))
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
            _add_entry(slots, _entry(resource))
        return cls._of(slots)

    def _entries(self) -> Iterator[_Entry]:
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
            _add_entry(slots, entry)
        return Resources._of(slots)

    def __sub__(self, other: Resources | Iterable[Resource]) -> Resources:
        """Difference; raises ValueError("<self> does not contain <other>") when not contained."""
        other = _coerce(other)
        if not other._slots:
            return self
        slots = dict(self._slots)
        for entry in other._entries():
            if not _sub_entry(slots, entry):
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
            if not _slot_contains(mine, entries):
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
        return all(_slot_equal(self._slots[k], other._slots[k]) for k in self._slots)

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
                yield _clone(entry.res)

    def to_json(self) -> list[Resource]:
        """A list of fresh Resource dicts (refined form) suitable for the wire."""
        return list(self)

    def __repr__(self) -> str:
        return f"Resources({self})"

    def __str__(self) -> str:
        """Mesos-like text: ``cpus(allocated: r)(reservations: [(DYNAMIC,r,p)]):1; ports:[1-2]``."""
        return "; ".join(_text(entry) for entry in self._entries() for _ in range(entry.count)) or "{}"

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
        return list(_coalesce(parts))

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
            new = _entry(change(entry.res))
            _add_entry(slots, _with_count(new, entry.count))
        return Resources._of(slots)

    def _retag(self, alloc_key: tuple | None, change: Callable[[Resource], Resource]) -> Resources:
        """Re-key every entry with a new allocation part (cheaper than recomputing identities)."""
        slots: Slots = {}
        for entry in self._entries():
            key = entry.key[:2] + (alloc_key,) + entry.key[3:]
            _add_entry(slots, _Entry(key, change(entry.res), entry.value, entry.exclusive, entry.count))
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
                out[name] = _ranges_text(tuple(plain.ranges(name)))
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
        raise ResourceError(f"cannot pop a reservation from unreserved {_text(_entry(resource))}")
    out = {k: v for k, v in resource.items() if k != "reservations"}
    if len(stack) > 1:
        out["reservations"] = list(stack[:-1])
    return out


def _slot_contains(mine: tuple[_Entry, ...], theirs: tuple[_Entry, ...]) -> bool:
    head = mine[0]
    if head.key[7]:
        return head.count >= theirs[0].count
    if head.exclusive:
        have = Counter(e.value for e in mine)
        need = Counter(e.value for e in theirs)
        return all(have[v] >= n for v, n in need.items())
    return _value_contains(head.kind, head.value, theirs[0].value)


def _slot_equal(mine: tuple[_Entry, ...], theirs: tuple[_Entry, ...]) -> bool:
    if len(mine) == 1 and len(theirs) == 1:
        return mine[0].value == theirs[0].value and mine[0].count == theirs[0].count
    return Counter(e.value for e in mine) == Counter(e.value for e in theirs)


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


def describe(resource: Resource) -> str:
    """Mesos-like text of one resource for messages, e.g. ``cpus(allocated: r):1`` (JSON if broken)."""
    try:
        return _text(_entry(upgrade(resource)))
    except Exception:  # the text is only for a message; the resource is broken anyway
        return json.dumps(resource, sort_keys=True, default=str)


# ------------------------------------------------------------------------------------------------------
# Text form (Mesos' operator<< on Resource)
# ------------------------------------------------------------------------------------------------------


def _reservation_text(info: dict[str, Any]) -> str:
    parts = [info.get("type", "UNKNOWN"), info.get("role", "")]
    if info.get("principal") is not None:
        parts.append(info["principal"])
    if info.get("labels") is not None:
        labels = info["labels"].get("labels") or ()
        parts.append("{" + ", ".join(f"{x.get('key', '')}: {x.get('value', '')}" for x in labels) + "}")
    return "(" + ",".join(parts) + ")"


def _disk_text(disk: dict[str, Any]) -> str:
    parts = []
    source = disk.get("source")
    if source is not None:
        root = (source.get("mount") or source.get("path") or {}).get("root")
        parts.append(source.get("type", "UNKNOWN") + (f":{root}" if root else ""))
    persistence = disk.get("persistence")
    if persistence is not None:
        volume = disk.get("volume") or {}
        text = persistence.get("id", "")
        if volume.get("container_path"):
            text += ":" + volume["container_path"]
        if volume.get("mode"):
            text += ":" + volume["mode"]
        parts.append(text)
    return "[" + ",".join(parts) + "]"


def _text(entry: _Entry) -> str:
    res = entry.res
    out = res.get("name", "")
    alloc = res.get("allocation_info")
    if alloc is not None:
        out += f"(allocated: {alloc.get('role', '')})"
    stack = res.get("reservations")
    if stack:
        out += "(reservations: [" + ", ".join(_reservation_text(r) for r in stack) + "])"
    if res.get("disk") is not None:
        out += _disk_text(res["disk"])
    if _has(res, "revocable"):
        out += "{REV}"
    if _has(res, "shared"):
        out += "<SHARED>"
    return out + ":" + _value_text(entry.kind, entry.value)


# ------------------------------------------------------------------------------------------------------
# Formats: pre-refinement <-> refined
# ------------------------------------------------------------------------------------------------------


def _format_error(resource: Resource) -> str | None:
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
    if _labels_key(reservation.get("labels") or {}) != _labels_key(info.get("labels") or {}):
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
    error = _format_error(resource)
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


# ------------------------------------------------------------------------------------------------------
# Validation (Mesos Resources::validate and roles::validate)
# ------------------------------------------------------------------------------------------------------


def validate_role(role: object) -> str | None:
    """Mesos roles::validate (hierarchical roles): the reason ``role`` is invalid, or None."""
    if not isinstance(role, str):
        return "Role must be a string"
    if role == "*":
        return None
    if not role:
        return "Empty role name is invalid"
    if role.startswith("/"):
        return f"Role '{role}' cannot start with a slash"
    if role.endswith("/"):
        return f"Role '{role}' cannot end with a slash"
    for component in (c for c in role.split("/") if c):
        if component in (".", "..", "*"):
            return f"Role '{role}' cannot include '{component}' as a component"
        if component.startswith("-"):
            return f"Role component '{component}' is invalid because it starts with a dash"
        if any(ch in _ROLE_BAD_CHARS for ch in component):
            return f"Role component '{component}' is invalid because it contains backspace or whitespace"
    return None


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scalar_error(resource: Resource) -> str | None:
    if not _has(resource, "scalar") or _has(resource, "ranges") or _has(resource, "set"):
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
    if _has(resource, "scalar") or not _has(resource, "ranges") or _has(resource, "set"):
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
    if _has(resource, "scalar") or _has(resource, "ranges") or not _has(resource, "set"):
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
    if not _has(resource, "shared"):
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
    for step in (check, _disk_error, _format_error, _shared_error):
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


# ------------------------------------------------------------------------------------------------------
# Agent --resources text
# ------------------------------------------------------------------------------------------------------


def parse(spec: str, default_role: str = "*") -> Resources:
    """Parse agent ``--resources`` text (Mesos Resources::parse): either a JSON array of Resource
    objects, or ``name(role):value;...`` with scalar (``4``), ranges (``[31000-31999, 32001-32002]``)
    and set (``{a,b}``) values; ``cpus(galera):2`` is a static reservation. Each resource is validated;
    volumes, revocable resources, dynamic reservations and one name with two types are refused, like
    Mesos' command-line checks. Raises ResourceError."""
    try:
        parsed = json.loads(spec)
    except ValueError:
        parsed = None
    if isinstance(parsed, list):
        raw = [_from_json(item, default_role) for item in parsed]
    else:
        raw = [_from_token(token, default_role) for token in spec.split(";") if token.strip()]
    resources = Resources(raw)
    _check_command_line(resources)
    return resources


def _from_json(item: object, default_role: str) -> Resource:
    if not isinstance(item, dict):
        raise ResourceError("Some JSON resources were not formatted properly: expected an object")
    out = dict(item)
    if out.get("role") is None and not out.get("reservations"):
        out["role"] = default_role
    return out


def _from_token(token: str, default_role: str) -> Resource:
    head, sep, value = token.partition(":")
    if not sep or ":" in value:
        raise ResourceError(f"Bad value for resources, missing or extra ':' in {token}")
    name, role = _name_and_role(head, token, default_role)
    resource: Resource = {"name": name, "role": role}
    resource.update(_parse_text_value(name, value.strip()))
    return resource


def _name_and_role(head: str, token: str, default_role: str) -> tuple[str, str]:
    open_paren = head.find("(")
    if open_paren < 0:
        return head.strip(), default_role
    close_paren = head.find(")")
    if close_paren < 0 or close_paren < open_paren:
        raise ResourceError(f"Bad value for resources, mismatched parentheses in {token}")
    return head[:open_paren].strip(), head[open_paren + 1 : close_paren].strip()


def _parse_text_value(name: str, text: str) -> Resource:
    if text.startswith("["):
        return {"type": RANGES, "ranges": {"range": _parse_ranges(name, text)}}
    if text.startswith("{"):
        if not text.endswith("}"):
            raise ResourceError(f"Failed to parse resource {name} value {text}: missing '}}'")
        items = [item.strip() for item in text[1:-1].split(",") if item.strip()]
        return {"type": SET, "set": {"item": items}}
    try:
        number = float(text)
    except ValueError:
        raise ResourceError(f"Bad type for resource {name} value {text} type TEXT") from None
    if not math.isfinite(number):
        raise ResourceError(f"Failed to parse resource {name} value {text}: not a finite number")
    return {"type": SCALAR, "scalar": {"value": number}}


def _parse_ranges(name: str, text: str) -> list[dict[str, int]]:
    if not text.endswith("]"):
        raise ResourceError(f"Failed to parse resource {name} value {text}: missing ']'")
    out = []
    for part in (p.strip() for p in text[1:-1].split(",")):
        if not part:
            continue
        begin, sep, end = part.partition("-")
        try:
            pair = (int(begin.strip()), int(end.strip()) if sep else int(begin.strip()))
        except ValueError:
            raise ResourceError(f"Failed to parse resource {name} value {text}: bad range {part}") from None
        out.append({"begin": pair[0], "end": pair[1]})
    return out


def _check_command_line(resources: Resources) -> None:
    types: dict[str, str] = {}
    for entry in resources._entries():
        res = entry.res
        if is_volume(res):
            raise ResourceError("Persistent volumes cannot be specified at the command line")
        if is_revocable(res):
            raise ResourceError(
                "Revocable resources cannot be specified at the command line; do not include a"
                " 'revocable' key in the resources JSON"
            )
        if is_dynamic(res):
            raise ResourceError(
                "Dynamic reservations cannot be specified at the command line; do not include a"
                " reservation with DYNAMIC type in the resources JSON"
            )
        if types.setdefault(res["name"], entry.kind) != entry.kind:
            raise ResourceError(
                f"Resources with the same name ('{res['name']}') but different types are not allowed"
            )
