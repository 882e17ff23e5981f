"""The Persister on ZooKeeper (kazoo): fenced, atomic, idempotent writes under /mesopress/<service>.

Why it exists: ZooKeeper is where the scheduler's state survives crashes and failovers, and it is the only
place that can refuse a write from a leader that was deposed without noticing. Every `apply()` is one
ZooKeeper multi-op transaction that begins with two checks:

    check(<root>/leader/epoch, version=fence.epoch)   a successor's claim bumped this version
    check(<fence.holder>, version=-1)                  our ephemeral election node still exists

so a write from a stale leader fails as a whole with `Fenced`, whether a successor already claimed or our
session merely expired. `claim()` sets the epoch node's data (bumping its version) in a transaction that
checks the claimant's election node, so only a live contender can start an epoch.

Idempotence under retry: a transaction is planned from what exists (`Put` becomes create or set, parents
are created, `Delete` expands to the subtree deepest first and skips missing nodes), and is re-planned and
re-sent after a connection loss or a concurrent change, so a commit whose reply was lost is harmless. Calls
are bounded by `timeout`; on expiry `StoreUnavailable` means "outcome unknown, send nothing".

Secrets: every node at or below `secrets` is created with one ACL, `digest:<user>:<hash>:cdrwa`, from the
scheduler's credentials (clients add them with `connect(..., credentials=...)`); other clients, including
the world, get NoAuth. Everything else is world-readable so operators and standbys can inspect it. Without
credentials the secrets are stored open and a warning is logged (local/dev mode only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from kazoo.client import KazooClient
from kazoo.exceptions import (
    ConnectionClosedError,
    KazooException,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.retry import ForceRetryError, KazooRetry, RetryFailedError
from kazoo.security import make_digest_acl

from mesopress.state import persister, store
from mesopress.state.persister import (
    AccessDenied,
    Delete,
    Fence,
    Fenced,
    NotFound,
    Op,
    StoreError,
    StoreUnavailable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_NODE_BYTES = 1000 * 1000  # below ZooKeeper's default jute.maxbuffer of 1 MiB
_RACES = (NodeExistsError, NoNodeError, NotEmptyError)


def connect(hosts: str, timeout: float = 10.0, credentials: tuple[str, str] | None = None) -> KazooClient:
    """Start a client that retries at least every second and authenticates every session it opens."""
    auth = {("digest", f"{credentials[0]}:{credentials[1]}")} if credentials else None
    retry = {"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 1.0}  # kazoo's default: up to 1 h
    client = KazooClient(hosts, timeout, auth_data=auth, connection_retry=retry, command_retry=retry)
    client.start(timeout=timeout)
    return client


class ZkPersister:
    """A Persister rooted at `root` (e.g. /mesopress/wordpress) on a started kazoo client."""

    def __init__(
        self,
        client: KazooClient,
        root: str,
        credentials: tuple[str, str] | None = None,
        timeout: float = 10.0,
        protected: Sequence[str] = (store.SECRETS,),
    ) -> None:
        self.client = client
        self.root = root.rstrip("/")
        self.epoch_path = f"{self.root}/{store.LEADER}/epoch"
        self.election_path = f"{self.root}/{store.LEADER}/election"
        self.timeout = timeout
        self._protected = tuple(protected)
        self._secret_acl = [make_digest_acl(*credentials, all=True)] if credentials else None
        if credentials is None:
            log.warning("secrets under %s/%s are stored without an ACL", self.root, store.SECRETS)

    def ensure_root(self) -> None:
        """Create the root and the leader nodes if missing (idempotent, not fenced)."""
        for path in (self.election_path, self.epoch_path):
            self.call("creating the root", self.client.ensure_path, path)

    def get(self, path: str) -> bytes:
        data, _stat = self.call(f"reading {path!r}", self._wait, self.client.get_async, self._abs(path))
        return bytes(data)

    def children(self, path: str) -> list[str]:
        names = self.call(f"listing {path!r}", self._wait, self.client.get_children_async, self._abs(path))
        return sorted(names)

    def apply(self, ops: Sequence[Op], fence: Fence) -> None:
        for op in ops:
            if isinstance(op, persister.Put) and len(op.data) > MAX_NODE_BYTES:
                raise StoreError(f"error writing {op.path!r}: {len(op.data)} bytes exceed {MAX_NODE_BYTES}")
        self.call("writing state", self._apply_once, ops, fence)

    def claim(self, holder: str, info: bytes) -> Fence:
        return self.call("claiming leadership", self._claim_once, holder, info)

    def leader_info(self) -> bytes | None:
        try:
            data, _stat = self.call("reading the leader", self._wait, self.client.get_async, self.epoch_path)
        except NotFound:
            return None
        return bytes(data) or None

    def epoch(self) -> int:
        """The current epoch (the epoch node's version)."""
        stat = self.call("reading the epoch", self._wait, self.client.exists_async, self.epoch_path)
        return -1 if stat is None else int(stat.version)

    def holder_alive(self, holder: str) -> bool:
        """True while the election node `holder` (an absolute path) exists, i.e. its session lives."""
        return self.call("checking a holder", self._wait, self.client.exists_async, holder) is not None

    def destroy(self) -> None:
        """Delete the whole root, leader nodes included: only once no scheduler of the service runs."""
        try:
            self.call("deleting the root", lambda: self.client.delete(self.root, recursive=True))
        except NotFound:
            pass

    def _wait(self, call: Callable[..., Any], *args: Any) -> Any:
        """Run a kazoo *_async call and wait at most `timeout` for its answer."""
        return call(*args).get(timeout=self.timeout)

    def _abs(self, path: str) -> str:
        persister.validate(path)
        return f"{self.root}/{path}" if path else self.root

    def _acl(self, path: str) -> list[Any] | None:
        protected = any(persister.is_below(path, p) for p in self._protected)
        return self._secret_acl if protected else None

    def _apply_once(self, ops: Sequence[Op], fence: Fence) -> None:
        txn = self.client.transaction()
        txn.check(self.epoch_path, fence.epoch)
        txn.check(fence.holder, -1)
        for step in _Planner(self).plan(ops):
            kind, path, *rest = step
            getattr(txn, kind)(self._abs(path), *rest)
        self._check_results(txn.commit_async().get(timeout=self.timeout), fence)

    def _claim_once(self, holder: str, info: bytes) -> Fence:
        txn = self.client.transaction()
        txn.check(holder, -1)
        txn.set_data(self.epoch_path, info)
        results = txn.commit_async().get(timeout=self.timeout)
        if isinstance(results[0], Exception):
            raise Fenced(f"error claiming leadership for {holder}: its election node is gone")
        if isinstance(results[1], Exception):
            raise results[1]
        return Fence(epoch=int(results[1].version), holder=holder)

    def _check_results(self, results: list[Any], fence: Fence) -> None:
        failed = [(i, r) for i, r in enumerate(results) if isinstance(r, Exception) and not _rolled_back(r)]
        if not failed:
            return
        index, error = failed[0]
        if index < 2:
            raise Fenced(f"error writing with epoch {fence.epoch}: newer leader or our session ended")
        if isinstance(error, _RACES):
            raise ForceRetryError(f"state changed while writing: {error!r}")
        raise error

    def call(self, doing: str, func: Callable[..., T], *args: Any) -> T:
        """Run a kazoo call with retries within `timeout`, translating its errors into StoreErrors."""
        retry = KazooRetry(max_tries=-1, delay=0.05, max_delay=1.0, deadline=self.timeout)
        try:
            result: T = retry(func, *args)
            return result
        except NoNodeError as err:
            raise NotFound(f"error {doing}: no such node") from err
        except NoAuthError as err:
            raise AccessDenied(f"error {doing}: not authorized") from err
        except (RetryFailedError, KazooTimeoutError, ConnectionClosedError) as err:
            raise StoreUnavailable(f"error {doing}: ZooKeeper unavailable ({err!r})") from err
        except KazooException as err:
            raise StoreError(f"error {doing}: {err!r}") from err


class _Planner:
    """Turns Put/Delete into create/set_data/delete steps against what exists, within one batch."""

    def __init__(self, zk: ZkPersister) -> None:
        self.zk = zk
        self.overlay: dict[str, bool] = {}

    def plan(self, ops: Sequence[Op]) -> list[tuple[Any, ...]]:
        steps: list[tuple[Any, ...]] = []
        for op in ops:
            if not op.path:
                raise ValueError("error writing the root node: not allowed")
            steps += self._delete(op.path) if isinstance(op, Delete) else self._put(op.path, op.data)
        return steps

    def _exists(self, path: str) -> bool:
        if path not in self.overlay:
            stat = self.zk._wait(self.zk.client.exists_async, self.zk._abs(path))
            self.overlay[path] = stat is not None
        return self.overlay[path]

    def _put(self, path: str, data: bytes) -> list[tuple[Any, ...]]:
        missing = [p for p in [*persister.parents(path), path] if not self._exists(p)]
        steps = [("create", p, data if p == path else b"", self.zk._acl(p)) for p in missing]
        self.overlay.update((p, True) for p in missing)
        return steps if path in missing else [*steps, ("set_data", path, data)]

    def _delete(self, path: str) -> list[tuple[Any, ...]]:
        below = self._subtree(path) if self._exists(path) else []
        self.overlay.update((node, False) for node in below)
        return [("delete", node) for node in reversed(below)]

    def _subtree(self, path: str) -> list[str]:
        """`path` and every existing node below it, parents before children."""
        nodes = [path]
        try:
            found = set(self.zk._wait(self.zk.client.get_children_async, self.zk._abs(path)))
        except NoNodeError:
            found = set()
        found |= {p.split("/")[-1] for p, e in self.overlay.items() if e and _is_child(p, path)}
        for name in sorted(found):
            child = f"{path}/{name}"
            if self._exists(child):
                nodes += self._subtree(child)
        return nodes


def _rolled_back(result: Exception) -> bool:
    return isinstance(result, RolledBackError | RuntimeInconsistency)


def _is_child(candidate: str, path: str) -> bool:
    return candidate.startswith(path + "/") and "/" not in candidate[len(path) + 1 :]
