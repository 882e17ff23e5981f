"""An in-memory Persister with the same semantics as the ZooKeeper one.

Why it exists: unit and sim tests exercise the state store and the scheduler core without a ZooKeeper
server, yet must see the same behaviour: implicit parents, atomic and idempotent batches, and fencing.
Holders stand for election nodes; `revoke()` plays the part of a ZooKeeper session that expired, and
`fail_next()` injects outages so callers' retry paths can be tested. It is thread-safe but keeps no
history and no watches: it is a test double, not a cache.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from mesopress.state import persister
from mesopress.state.persister import Delete, Fence, Fenced, NotFound, Op, Put, StoreUnavailable


class MemoryPersister:
    """A dict of relative paths to bytes, with fencing by epoch and live holders."""

    def __init__(self) -> None:
        self._nodes: dict[str, bytes] = {"": b""}
        self._epoch = 0
        self._leader_info: bytes | None = None
        self._live_holders: set[str] = set()
        self._dead_holders: set[str] = set()
        self._failures = 0
        self._lock = threading.Lock()
        self.writes = 0

    def get(self, path: str) -> bytes:
        with self._lock:
            self._maybe_fail()
            try:
                return self._nodes[persister.validate(path)]
            except KeyError:
                raise NotFound(f"error reading {path!r}: no such node") from None

    def children(self, path: str) -> list[str]:
        with self._lock:
            self._maybe_fail()
            if persister.validate(path) not in self._nodes:
                raise NotFound(f"error listing {path!r}: no such node")
            depth = len(persister.split(path))
            return sorted(persister.split(key)[depth] for key in self._nodes if _is_child(key, path, depth))

    def apply(self, ops: Sequence[Op], fence: Fence) -> None:
        with self._lock:
            self._maybe_fail()
            self._check(fence)
            nodes = dict(self._nodes)
            for op in ops:
                _apply_one(nodes, op)
            self._nodes = nodes
            self.writes += 1

    def claim(self, holder: str, info: bytes) -> Fence:
        with self._lock:
            self._maybe_fail()
            if holder in self._dead_holders:
                raise Fenced(f"error claiming leadership for {holder}: its session has ended")
            self._live_holders.add(holder)
            self._epoch += 1
            self._leader_info = info
            return Fence(epoch=self._epoch, holder=holder)

    def leader_info(self) -> bytes | None:
        with self._lock:
            return self._leader_info

    def revoke(self, holder: str) -> None:
        """Simulate the end of the holder's session: its fences become stale."""
        with self._lock:
            self._live_holders.discard(holder)
            self._dead_holders.add(holder)

    def fail_next(self, count: int = 1) -> None:
        """Make the next `count` calls raise StoreUnavailable."""
        with self._lock:
            self._failures += count

    def dump(self) -> dict[str, bytes]:
        """Return a copy of every node, for assertions in tests."""
        with self._lock:
            return dict(self._nodes)

    def _check(self, fence: Fence) -> None:
        if fence.epoch != self._epoch or fence.holder not in self._live_holders:
            raise Fenced(f"error writing with epoch {fence.epoch}: leadership is now at epoch {self._epoch}")

    def _maybe_fail(self) -> None:
        if self._failures > 0:
            self._failures -= 1
            raise StoreUnavailable("error reaching the memory store: injected outage")


def _is_child(key: str, path: str, depth: int) -> bool:
    return key != path and persister.is_below(key, path) and len(persister.split(key)) == depth + 1


def _apply_one(nodes: dict[str, bytes], op: Op) -> None:
    path = persister.validate(op.path)
    if not path:
        raise ValueError("error writing the root node: not allowed")
    if isinstance(op, Put):
        for parent in persister.parents(path):
            nodes.setdefault(parent, b"")
        nodes[path] = op.data
    elif isinstance(op, Delete):
        for key in [k for k in nodes if persister.is_below(k, path)]:
            del nodes[key]
