"""The stored form of resources: entries (identity key + parsed value) and Mesos' add/subtract on slots.

Why this module exists: ``Resources`` keeps, per identity key, a tuple of entries ("slots"); Mesos'
Resources::add and ::subtract rules (merge scalars/ranges/sets, count shared copies, keep volumes and
MOUNT/BLOCK disks whole) are applied here on a mutable slot dict that ``Resources`` builds and then
freezes. Trade-off, for speed: entries are plain slotted objects holding the refined dict, which is never
mutated and never handed out (``clone`` copies it).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from localmesos.resources_identity import Resource, identity, is_exclusive
from localmesos.resources_values import (
    VALUE_FIELD,
    Value,
    is_empty,
    parse_value,
    value_add,
    value_contains,
    value_json,
    value_sub,
)


class Entry:
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


def make_entry(resource: Resource) -> Entry:
    key = identity(resource)
    value = parse_value(resource)
    if key[-1]:  # shared: only identical copies merge, by counting
        key = key + (value,)
    return Entry(key, resource, value, is_exclusive(resource))


def with_value(entry: Entry, value: Value) -> Entry:
    res = dict(entry.res)
    res[VALUE_FIELD[entry.kind]] = value_json(entry.kind, value)
    return Entry(entry.key, res, value, entry.exclusive, entry.count)


def with_count(entry: Entry, count: int) -> Entry:
    return Entry(entry.key, entry.res, entry.value, entry.exclusive, count)


def clone(obj: Any) -> Any:
    """A deep copy of a JSON value (faster than copy.deepcopy)."""
    if isinstance(obj, dict):
        return {k: clone(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [clone(v) for v in obj]
    return obj


Slots = dict[tuple, tuple[Entry, ...]]


def add_entry(slots: Slots, entry: Entry) -> None:
    """Mesos Resources::add: merge into an addable entry or append; empty values are dropped."""
    if is_empty(entry.value) or entry.count <= 0:
        return
    current = slots.get(entry.key)
    if current is None:
        slots[entry.key] = (entry,)
    elif entry.key[7]:  # shared
        slots[entry.key] = (with_count(current[0], current[0].count + entry.count),)
    elif entry.exclusive:
        slots[entry.key] = current + (entry,)
    else:
        head = current[0]
        slots[entry.key] = (with_value(head, value_add(head.kind, head.value, entry.value)),)


def sub_entry(slots: Slots, entry: Entry) -> bool:
    """Remove ``entry`` from ``slots``; False (slots untouched) when it is not contained."""
    if is_empty(entry.value) or entry.count <= 0:
        return True
    current = slots.get(entry.key)
    if current is None:
        return False
    if entry.key[7]:  # shared
        left = current[0].count - entry.count
        if left < 0:
            return False
        _replace(slots, entry.key, (with_count(current[0], left),) if left else ())
        return True
    if entry.exclusive:
        for i, item in enumerate(current):
            if item.value == entry.value:
                _replace(slots, entry.key, current[:i] + current[i + 1 :])
                return True
        return False
    head = current[0]
    if not value_contains(head.kind, head.value, entry.value):
        return False
    rest = value_sub(head.kind, head.value, entry.value)
    _replace(slots, entry.key, () if is_empty(rest) else (with_value(head, rest),))
    return True


def _replace(slots: Slots, key: tuple, entries: tuple[Entry, ...]) -> None:
    if entries:
        slots[key] = entries
    else:
        del slots[key]



def slot_contains(mine: tuple[Entry, ...], theirs: tuple[Entry, ...]) -> bool:
    head = mine[0]
    if head.key[7]:
        return head.count >= theirs[0].count
    if head.exclusive:
        have = Counter(e.value for e in mine)
        need = Counter(e.value for e in theirs)
        return all(have[v] >= n for v, n in need.items())
    return value_contains(head.kind, head.value, theirs[0].value)


def slot_equal(mine: tuple[Entry, ...], theirs: tuple[Entry, ...]) -> bool:
    if len(mine) == 1 and len(theirs) == 1:
        return mine[0].value == theirs[0].value and mine[0].count == theirs[0].count
    return Counter(e.value for e in mine) == Counter(e.value for e in theirs)
