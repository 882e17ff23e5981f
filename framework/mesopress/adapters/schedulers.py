"""Which scheduler processes are alive, and at which API URL: read from the election's participant nodes.

Why it exists: the proxy task polls the scheduler's /v1/endpoints, and must keep doing so when the
scheduler that launched it dies. Every scheduler process already advertises itself in ZooKeeper: its
election node `<root>/leader/election/<uuid>__lock__<seq>` is ephemeral (it goes with the process'
session) and holds the identity `host:port` the process' HTTP API serves on (`--hostname`/`HOST` and
`--http-port`/`PORT0`). So no other znode is needed: this module keeps, through a kazoo ChildrenWatch,
an in-memory list of those identities as URLs (`http://host:port`), in sequence order, so the lock
holder (the leader) comes first. The list is read from memory (`urls()`), never from ZooKeeper, so the
core's loop (which renders the proxy's config) and the HTTP API (which serves it in /v1/endpoints) never
wait for ZooKeeper. The watch survives reconnections and session losses (kazoo re-registers it); a
contender that re-contends after a lost session appears again with a new node.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError

log = logging.getLogger(__name__)
_SEQUENCE = re.compile(r"__lock__(\d{10})$")


def url_of(identity: str) -> str:
    """A scheduler's API URL from its election identity (`host:port`; a URL is kept as it is)."""
    identity = identity.strip().rstrip("/")
    return identity if re.match(r"^https?://", identity) else f"http://{identity}"


def ordered(identities: Mapping[str, str], first: str | None = None) -> list[str]:
    """URLs of the contenders `{election node name: identity}` in sequence order (the lock holder first),
    without duplicates or blanks; `first` (a URL, e.g. the leader's own) is moved or added to the front."""
    nodes = sorted((m.group(1), name) for name in identities if (m := _SEQUENCE.search(name)))
    return unique([first or "", *(url_of(identities[name]) for _, name in nodes if identities[name])])


def unique(urls: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for url in urls:
        if url and url not in seen:
            seen.append(url)
    return seen


class LiveSchedulers:
    """The live schedulers' API URLs under one election path, kept up to date by a watch."""

    def __init__(self, client: KazooClient, election_path: str) -> None:
        self.client = client
        self.path = election_path
        self._identities: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stopped = False

    def start(self) -> LiveSchedulers:
        """Create the election path if missing and start watching it; returns at once."""
        self.client.ensure_path(self.path)
        self.client.ChildrenWatch(self.path, self._changed)
        return self

    def stop(self) -> None:
        self._stopped = True  # the watch ends at its next call (returning False)

    def urls(self, first: str | None = None) -> list[str]:
        """Live scheduler URLs, the leader first (or `first`, the caller's own URL when it leads)."""
        with self._lock:
            return ordered(self._identities, first)

    def _changed(self, children: list[str]) -> bool:
        """The watch's callback (kazoo's callback thread): read the data of new nodes only (it never
        changes), forget gone ones, log the new list."""
        if self._stopped:
            return False
        with self._lock:
            known = dict(self._identities)
        found = {}
        for name in children:
            if name in known:
                found[name] = known[name]
                continue
            try:
                data, _ = self.client.get(f"{self.path}/{name}")
            except NoNodeError:
                continue  # gone already: its session ended
            except KazooException as err:
                log.warning("error reading scheduler node %s: %r; left out until the list changes", name, err)
                continue
            found[name] = (data or b"").decode("utf-8", "replace")
        with self._lock:
            before, self._identities = ordered(self._identities), found
            after = ordered(found)
        if after != before:
            log.info("live schedulers: %s", ", ".join(after) or "(none)")
        return True
