"""Which node may start a Galera cluster, and how one node starts.

Why this module exists: bootstrapping the wrong node is the one Galera mistake that silently loses
acknowledged writes (a stale node becomes the truth and the others copy it), and bootstrapping an empty
node loses everything (mariadb-operator issue 1701). Both decisions are pure so that every case is in a
table-driven test:

- `choose_bootstrap` picks the node with the highest seqno among the expected nodes, after every one of
  them reported. A node with an all-zero uuid, seqno -1 or an unreadable position is never a candidate; a
  missing report makes it wait, unless an operator forces a node. Nodes that disagree on the cluster uuid
  make it wait too: their histories cannot be compared, so only an operator can choose. The answer
  carries its reason and its evidence (every node's position) so the decision can be logged and shown.
- `decide_start` turns what one task finds on its volume into the way mariadbd is started.

Trade-off: a forced choice still refuses a node known to be empty; an operator who really wants a new,
empty cluster deletes the volumes instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from mesopress.galera.position import ZERO_UUID, Position, Reading, Unknown, usable


@dataclasses.dataclass(frozen=True)
class Choice:
    """Bootstrap `node`; `evidence` maps every expected node to what it reported."""

    node: str
    reason: str
    evidence: Mapping[str, str]
    forced: bool = False


@dataclasses.dataclass(frozen=True)
class Wait:
    """No node can be chosen yet; `missing` names the nodes whose position is still awaited."""

    reason: str
    missing: tuple[str, ...] = ()


def choose_bootstrap(
    positions: Mapping[str, Reading | None], expected: set[str], forced: str | None = None
) -> Choice | Wait:
    """The node to bootstrap after a full crash, or why there is none yet."""
    evidence = {node: _describe(positions.get(node)) for node in sorted(expected)}
    if forced is not None:
        return _forced(forced, positions, expected, evidence)
    missing = tuple(sorted(n for n in expected if positions.get(n) is None))
    if missing:
        return Wait(f"waiting for the position of {', '.join(missing)}", missing)
    candidates = {n: p for n in expected if usable(p := positions.get(n)) and isinstance(p, Position)}
    if not candidates:
        return Wait(
            "no node has a usable position (all empty, seqno -1 or unknown): an operator must force one"
        )
    uuids = sorted({p.uuid for p in candidates.values()})
    if len(uuids) > 1:
        return Wait(f"nodes disagree on the cluster uuid ({', '.join(uuids)}): an operator must force one")
    node = max(sorted(candidates), key=lambda n: candidates[n].seqno)
    return Choice(node, _reason(node, candidates, expected), evidence)


def _forced(
    node: str, positions: Mapping[str, Reading | None], expected: set[str], evidence: dict[str, str]
) -> Choice | Wait:
    if node not in expected:
        return Wait(f"forced node {node} is not a member of the cluster ({', '.join(sorted(expected))})")
    own = positions.get(node)
    if isinstance(own, Position) and own.uuid == ZERO_UUID:
        return Wait(f"refusing to force {node}: its volume holds no cluster state (all-zero uuid)")
    reason = f"operator forced {node} ({_describe(own)})"
    own_seqno = own.seqno if isinstance(own, Position) else -1
    ahead = sorted(
        n
        for n in expected
        if usable(p := positions.get(n)) and isinstance(p, Position) and p.seqno > own_seqno
    )
    if ahead:
        reason += f"; WARNING: {', '.join(ahead)} reported a higher seqno, their extra writes will be lost"
    return Choice(node, reason, evidence, forced=True)


def _reason(node: str, candidates: Mapping[str, Position], expected: set[str]) -> str:
    best = candidates[node]
    reason = f"{node} has the highest seqno {best.seqno} of cluster {best.uuid}"
    ties = sorted(n for n, p in candidates.items() if p.seqno == best.seqno and n != node)
    if ties:
        reason += f" (tied with {', '.join(ties)}; first by name)"
    skipped = sorted(expected - candidates.keys())
    if skipped:
        reason += f"; not candidates: {', '.join(skipped)}"
    return reason


def _describe(reading: Reading | None) -> str:
    if reading is None:
        return "not reported"
    if isinstance(reading, Unknown):
        return str(reading)
    if not usable(reading):
        return f"{reading} (not usable)"
    return str(reading)


@dataclasses.dataclass(frozen=True)
class StartPlan:
    """How to start mariadbd on one node; `refuse` set means do not start at all."""

    install: bool = False
    new_cluster: bool = False
    safe_to_bootstrap: bool = False
    start_position: str | None = None
    create_users: bool = False
    refuse: str = ""
    reason: str = ""


def decide_start(
    has_data: bool,
    bootstrap: bool,
    recovered: Reading | None,
    expected: str | None,
    live_peers: Sequence[str] = (),
) -> StartPlan:
    """Decide the start of one node from its volume (`has_data`, `recovered`) and the scheduler's hints.

    `expected` is the position the scheduler believes the node holds (None for a first deploy): an empty
    volume where data was expected is refused, never initialized as a new cluster. `live_peers` are the
    peers whose Galera port answers: a bootstrap next to a live peer would split the cluster in two.
    """
    if bootstrap and live_peers:
        return StartPlan(refuse=f"refusing to bootstrap: peer {', '.join(live_peers)} is up; join it instead")
    if not has_data:
        if expected is not None:
            return StartPlan(
                refuse=f"the data directory is empty but the scheduler expected position {expected}"
            )
        if bootstrap:
            return StartPlan(
                install=True, new_cluster=True, create_users=True, reason="first deploy: new cluster"
            )
        return StartPlan(reason="empty data directory: join by full state transfer (SST)")
    if bootstrap:
        if not usable(recovered):
            return StartPlan(
                refuse=f"refusing to bootstrap from an unusable position: {_describe(recovered)}"
            )
        return StartPlan(
            new_cluster=True,
            safe_to_bootstrap=True,
            start_position=str(recovered),
            create_users=True,
            reason=f"bootstrap from recovered position {recovered}",
        )
    if usable(recovered):
        return StartPlan(
            start_position=str(recovered), reason=f"rejoin from {recovered} (IST if the donor has it)"
        )
    return StartPlan(reason=f"position {_describe(recovered)}: rejoin by full state transfer (SST)")
