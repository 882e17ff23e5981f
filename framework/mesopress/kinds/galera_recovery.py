"""When a Galera node may start, and how: the pure gate of the full-crash recovery flow.

Why this module exists: after every node died, starting them as usual is wrong (each would wait for a
Primary component that no longer exists, or worse, a stale node could bootstrap). So the core asks,
before it relaunches a node, what this module answers from plain values: the nodes' statuses and the
stored `galera.recovery.RecoveryState` (None when no recovery runs).

- No recovery: a node may restart in place only while another node is READY (a donor for IST/SST);
  when no node is live and every node holds its volume, `should_start` says to begin a recovery.
- COLLECTING: every node that has not reported runs `galera_node recover` (one-shot) on its
  reservation; reported nodes wait.
- CHOSEN/FORCED/BOOTSTRAPPING: only the chosen node runs, with bootstrap=true.
- JOINING: the node being joined and those already joined run; the others wait (one at a time).
"""

from __future__ import annotations

from collections.abc import Mapping

from mesopress.galera import recovery

LIVE = ("LAUNCHING", "STAGING", "STARTING", "RUNNING", "READY", "KILLING")
RUN, RECOVER, HOLD = "run", "recover", "hold"


def should_start(statuses: Mapping[str, str], with_volume: set[str], bootstrapped: bool) -> bool:
    """Begin a full-crash recovery? Only for a cluster that was bootstrapped, when no node is live
    (running, starting or ready) and at least one holds a volume (the recovery expects exactly those:
    a node never launched has no data to offer)."""
    if not bootstrapped or not with_volume:
        return False
    return not any(s in LIVE for s in statuses.values())


def active(state: recovery.RecoveryState | None) -> bool:
    return state is not None and state.phase != recovery.DONE


def mode(
    node: str, statuses: Mapping[str, str], state: recovery.RecoveryState | None, bootstrapped: bool
) -> str:
    """How `node` may (re)start now: RUN, RECOVER (one-shot position read) or HOLD (not now)."""
    if state is None or not active(state):
        if not bootstrapped:
            return RUN
        others_ready = any(s == "READY" for n, s in statuses.items() if n != node)
        return RUN if others_ready else HOLD
    if node not in state.expected:
        return HOLD  # never launched before the crash: it joins once the recovery is done
    if state.phase == recovery.COLLECTING:
        return HOLD if node in state.positions else RECOVER
    if state.phase in (recovery.CHOSEN, recovery.FORCED, recovery.BOOTSTRAPPING):
        return RUN if node == state.chosen else HOLD
    allowed = {*state.joined, state.joining}
    return RUN if node in allowed else HOLD


def bootstrap_choice(state: recovery.RecoveryState | None) -> str | None:
    """The node a recovery launches with bootstrap=true (only until it is Synced)."""
    if state is not None and state.phase in (recovery.CHOSEN, recovery.FORCED, recovery.BOOTSTRAPPING):
        return state.chosen
    return None


def current(state: recovery.RecoveryState) -> str | None:
    """The node whose Synced the recovery waits for."""
    if state.phase == recovery.JOINING:
        return state.joining
    if state.phase in (recovery.CHOSEN, recovery.FORCED, recovery.BOOTSTRAPPING):
        return state.chosen
    return None
