"""The small storage interface the state store is written against.

Why it exists: the scheduler's state lives in ZooKeeper, but the core, the plans and their tests must not
know kazoo. This module names the few things the store needs from a hierarchical key-value store (read,
list, fenced atomic writes) and the errors it may see; `state.memory` implements it in memory for unit
and sim tests, `adapters.zkstore` on ZooKeeper.

Paths are relative to the service's root and use "/" between segments ("pods/db-0/tasks/node").
Parents exist implicitly: writing a path creates its missing parents with empty data.

Fencing: every write carries a `Fence` obtained by `claim()` when this process became leader. A write is
refused with `Fenced` as soon as another process has claimed after us, or our claim's holder (the
election node of our session) is gone. A deposed leader therefore cannot overwrite its successor's state,
even if it has not noticed yet that it was deposed. Writes are idempotent: `Put` sets or creates, `Delete`
of a missing path does nothing, so a write retried after a lost reply leaves the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

SEPARATOR = "/"
_FORBIDDEN_SEGMENTS = {"", ".", ".."}


class StoreError(Exception):
    """Any failure of the store; subclasses say which."""


class NotFound(StoreError):
    """The path does not exist."""


class Fenced(StoreError):
    """The write was refused because this process no longer holds the leadership it claimed."""


class StoreUnavailable(StoreError):
    """The store could not be reached in time; the caller may retry later."""


class AccessDenied(StoreError):
    """The store refused access to a protected path (e.g. secrets without the right credentials)."""


@dataclass(frozen=True)
class Fence:
    """Proof of leadership: the epoch we claimed and the holder (election node) that claimed it."""

    epoch: int
    holder: str


@dataclass(frozen=True)
class Put:
    """Create `path` with `data`, or replace its data if it exists."""

    path: str
    data: bytes


@dataclass(frozen=True)
class Delete:
    """Delete `path` and everything below it; nothing happens if it does not exist."""

    path: str


Op = Put | Delete


class Persister(Protocol):
    """What the state store needs from a hierarchical store."""

    def get(self, path: str) -> bytes:
        """Return the data at `path`; raise NotFound if it does not exist."""
        ...

    def children(self, path: str) -> list[str]:
        """Return the sorted names of the children of `path` ("" is the root); NotFound if missing."""
        ...

    def apply(self, ops: Sequence[Op], fence: Fence) -> None:
        """Apply all `ops` atomically, or none of them; raise Fenced if `fence` is stale."""
        ...

    def claim(self, holder: str, info: bytes) -> Fence:
        """Start a new leader epoch for `holder`, recording `info`; every older fence becomes stale."""
        ...

    def leader_info(self) -> bytes | None:
        """Return the `info` of the latest claim, or None if nobody ever claimed."""
        ...


def validate(path: str) -> str:
    """Return `path` if it is a well-formed relative path; raise ValueError otherwise."""
    for segment in split(path):
        if segment in _FORBIDDEN_SEGMENTS or any(ord(c) < 32 for c in segment):
            raise ValueError(f"error validating store path {path!r}: bad segment {segment!r}")
    return path


def split(path: str) -> list[str]:
    """Split a relative path into its segments ("" has none)."""
    return path.split(SEPARATOR) if path else []


def join(*segments: str) -> str:
    """Join segments into a relative path, checking that none of them contains a separator."""
    for segment in segments:
        if SEPARATOR in segment or segment in _FORBIDDEN_SEGMENTS:
            raise ValueError(f"error joining store path: bad segment {segment!r}")
    return SEPARATOR.join(segments)


def parents(path: str) -> list[str]:
    """Return the proper ancestors of `path`, outermost first, without the root."""
    parts = split(path)
    return [SEPARATOR.join(parts[:i]) for i in range(1, len(parts))]


def is_below(path: str, ancestor: str) -> bool:
    """True if `path` is `ancestor` itself or lies below it."""
    return not ancestor or path == ancestor or path.startswith(ancestor + SEPARATOR)
