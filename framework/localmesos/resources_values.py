"""Parsed resource values: Mesos fixed-point scalars, coalesced port ranges and sets.

Why this module exists: the multiset in ``resources.py`` stores each value parsed once (scalars as integer
thousandths, Mesos' own fixed point, so that 0.1 + 0.2 adds up exactly; ranges as sorted, coalesced
tuples; sets as frozensets) and does all arithmetic on those. The value rules are independent of identity
and reservations, so they are kept apart and testable alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from localmesos.resources_identity import RANGES, SCALAR, SET, Resource

Ranges = tuple[tuple[int, int], ...]
# A parsed value: int thousandths (SCALAR), coalesced Ranges (RANGES) or frozenset[str] (SET); the
# helpers below dispatch on the resource type, so the static type is left open.
Value = Any

VALUE_FIELD = {SCALAR: "scalar", RANGES: "ranges", SET: "set"}


def to_fixed(value: float) -> int:
    """Mesos' fixed point: llround(value * 1000) (half away from zero)."""
    scaled = value * 1000.0
    return int(math.floor(scaled + 0.5)) if scaled >= 0 else -int(math.floor(-scaled + 0.5))


def coalesce(ranges: Iterable[tuple[int, int]]) -> Ranges:
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


def parse_value(resource: Resource) -> Value:
    kind = resource.get("type")
    if kind == SCALAR:
        return to_fixed(float(resource["scalar"]["value"]))
    if kind == RANGES:
        items = (resource.get("ranges") or {}).get("range") or ()
        return coalesce((int(r["begin"]), int(r["end"])) for r in items)
    return frozenset((resource.get("set") or {}).get("item") or ())


def value_json(kind: str, value: Value) -> dict[str, Any]:
    if kind == SCALAR:
        return {"value": value / 1000.0}
    if kind == RANGES:
        return {"range": [{"begin": b, "end": e} for b, e in value]}
    return {"item": sorted(value)}


def is_empty(value: Value) -> bool:
    return not value


def value_contains(kind: str, outer: Value, inner: Value) -> bool:
    if kind == SCALAR:
        return inner <= outer
    if kind == RANGES:
        return _ranges_contain(outer, inner)
    return inner <= outer


def value_add(kind: str, left: Value, right: Value) -> Value:
    if kind == SCALAR:
        return left + right
    if kind == RANGES:
        return coalesce(left + right)
    return left | right


def value_sub(kind: str, left: Value, right: Value) -> Value:
    if kind == SCALAR:
        return left - right
    if kind == RANGES:
        return _ranges_minus(left, right)
    return left - right


def ranges_text(value: Ranges) -> str:
    return "[" + ", ".join(f"{b}-{e}" for b, e in value) + "]"


def value_text(kind: str, value: Value) -> str:
    if kind == SCALAR:
        return _number_text(value / 1000.0)
    if kind == RANGES:
        return ranges_text(value)
    return "{" + ", ".join(sorted(value)) + "}"


def _number_text(number: float) -> str:
    return str(int(number)) if number == int(number) else repr(number)
