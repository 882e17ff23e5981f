"""The full-crash recovery of a Galera cluster as a resumable, pure state machine.

Why this module exists: after every node died, the cluster comes back only through a sequence that must
survive a scheduler failover at any point (habit 8): collect every node's recovered position, choose one
node (`bootstrap.choose_bootstrap`), bootstrap it alone, then join the others one at a time, each after
the previous is Synced. The state is a small JSON-able record written to ZooKeeper
(`recovery/galera/<cluster>`) after every transition; a new leader reads it back with `from_dict` and
carries on where the old one stopped.

    COLLECTING --all reported--> CHOSEN --Launched--> BOOTSTRAPPING --NodeSynced--> JOINING(n) ... DONE
               --OperatorForce--> FORCED --Launched--^

Every transition returns `machines.result.Result`: SUCCESS (store the state, then run the effects in
order), NOOP (stale or duplicate) or ILLEGAL (a decision made on stale information). Effects: `LogDecision`
(the choice and its evidence), `StartBootstrap`, `StartJoin`, `Alert` (an operator is needed). Time is a
parameter: deadlines are stored moments and `Timeout` only asks whether one passed. A node that fails to
join `MAX_ATTEMPTS` times is skipped with an Alert, so one broken node never blocks the others; a failing
bootstrap is retried and alerts, because no other node may take its place without `OperatorForce`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mesopress.galera import bootstrap, position
from mesopress.machines.result import Effect, Result, illegal, noop, success

COLLECTING, CHOSEN, FORCED, BOOTSTRAPPING, JOINING, DONE = (
    "COLLECTING",
    "CHOSEN",
    "FORCED",
    "BOOTSTRAPPING",
    "JOINING",
    "DONE",
)
PHASES = (COLLECTING, CHOSEN, FORCED, BOOTSTRAPPING, JOINING, DONE)
MAX_ATTEMPTS = 3
STEP_TIMEOUT_S = 600.0


# --- events (what the caller observed) -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PositionReported:
    """A recovery task on `node` read its position from the node's own volume."""

    node: str
    position: position.Position | position.Unknown


@dataclasses.dataclass(frozen=True)
class OperatorForce:
    """An operator chose `node` to bootstrap without waiting for the others."""

    node: str


@dataclasses.dataclass(frozen=True)
class Launched:
    """The bootstrap task of `node` was launched (after `StartBootstrap`)."""

    node: str


@dataclasses.dataclass(frozen=True)
class NodeSynced:
    """`node` reports Primary and Synced."""

    node: str


@dataclasses.dataclass(frozen=True)
class NodeFailed:
    """The task of `node` ended before it was Synced."""

    node: str
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Timeout:
    """The caller's timer: did the stored deadline pass?"""


Event = PositionReported | OperatorForce | Launched | NodeSynced | NodeFailed | Timeout


# --- effects (what the caller does, in order, after storing the state) ----------------------------


@dataclasses.dataclass(frozen=True)
class LogDecision(Effect):
    """Log (and show) the bootstrap choice with every node's position as evidence."""

    node: str
    reason: str
    evidence: tuple[tuple[str, str], ...]
    forced: bool


@dataclasses.dataclass(frozen=True)
class StartBootstrap(Effect):
    """Launch `node` with bootstrap=true (it sets safe_to_bootstrap and starts a new primary component)."""

    node: str


@dataclasses.dataclass(frozen=True)
class StartJoin(Effect):
    """Launch `node` normally: it recovers its position and joins by IST (or SST)."""

    node: str


@dataclasses.dataclass(frozen=True)
class Alert(Effect):
    """Something needs an operator; shown in the API with `reason`."""

    reason: str


@dataclasses.dataclass(frozen=True)
class RecoveryState:
    """The stored record of one recovery; `positions` holds `position.to_dict()` records."""

    expected: tuple[str, ...]
    phase: str = COLLECTING
    positions: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    chosen: str | None = None
    reason: str = ""
    evidence: dict[str, str] = dataclasses.field(default_factory=dict)
    joining: str | None = None
    joined: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    attempts: int = 0
    deadline: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return data | {
            "expected": list(self.expected),
            "joined": list(self.joined),
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecoveryState:
        if data.get("phase") not in PHASES:
            raise ValueError(f"phase: unknown recovery phase {data.get('phase')!r}")
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        for key in ("expected", "joined", "skipped"):
            values[key] = tuple(values.get(key, ()))
        return cls(**values)


def start(expected: set[str], now: float) -> RecoveryState:
    """A new recovery waiting for the positions of `expected` nodes."""
    return RecoveryState(expected=tuple(sorted(expected)), deadline=now + STEP_TIMEOUT_S)


def transition(state: RecoveryState, event: Event, now: float) -> Result[RecoveryState]:
    """Decide what `event` does to the recovery described by `state`."""
    if state.phase == DONE:
        return noop(state, "recovery is done")
    if isinstance(event, PositionReported) and state.phase != COLLECTING:
        return noop(state, f"late position report from {event.node}: the choice is made")
    node = getattr(event, "node", None)
    if node is not None and node not in state.expected:
        return noop(state, f"{node} is not a member of this recovery")
    handler = _HANDLERS.get((state.phase, type(event)))
    if handler is None:
        return illegal(state, f"{type(event).__name__} does not fit phase {state.phase}")
    return handler(state, event, now)


def _report(state: RecoveryState, event: PositionReported, now: float) -> Result[RecoveryState]:
    record = event.position.to_dict()
    if state.positions.get(event.node) == record:
        return noop(state, f"{event.node} reported the same position again")
    new = dataclasses.replace(state, positions=state.positions | {event.node: record})
    return _decide(new, None, now)


def _force(state: RecoveryState, event: OperatorForce, now: float) -> Result[RecoveryState]:
    result = _decide(state, event.node, now)
    if result.state.phase == COLLECTING:
        return illegal(state, result.reason)
    return result


def _decide(state: RecoveryState, forced: str | None, now: float) -> Result[RecoveryState]:
    readings = {n: position.from_dict(p) for n, p in state.positions.items()}
    answer = bootstrap.choose_bootstrap(readings, set(state.expected), forced)
    if isinstance(answer, bootstrap.Wait):
        return success(state, reason=answer.reason)
    new = dataclasses.replace(
        state,
        phase=FORCED if answer.forced else CHOSEN,
        chosen=answer.node,
        reason=answer.reason,
        evidence=dict(answer.evidence),
        attempts=1,
        deadline=now + STEP_TIMEOUT_S,
    )
    log = LogDecision(answer.node, answer.reason, tuple(sorted(answer.evidence.items())), answer.forced)
    return success(new, log, StartBootstrap(answer.node), reason=answer.reason)


def _launched(state: RecoveryState, event: Launched, now: float) -> Result[RecoveryState]:
    if event.node != state.chosen:
        return noop(state, f"{event.node} is not the bootstrap node {state.chosen}")
    new = dataclasses.replace(state, phase=BOOTSTRAPPING, deadline=now + STEP_TIMEOUT_S)
    return success(new, reason=f"{event.node} launched with bootstrap")


def _synced(state: RecoveryState, event: NodeSynced, now: float) -> Result[RecoveryState]:
    current = state.joining if state.phase == JOINING else state.chosen
    if event.node != current:
        return noop(state, f"{event.node} synced, but the recovery waits for {current}")
    joined = (*state.joined, event.node)
    return _next_joiner(dataclasses.replace(state, joined=joined), now, f"{event.node} is Synced")


def _next_joiner(state: RecoveryState, now: float, why: str, *effects: Effect) -> Result[RecoveryState]:
    remaining = [n for n in state.expected if n not in state.joined and n not in state.skipped]
    if not remaining:
        done = dataclasses.replace(state, phase=DONE, joining=None, deadline=None)
        return success(done, *effects, reason=f"{why}; recovery done")
    node = remaining[0]
    new = dataclasses.replace(state, phase=JOINING, joining=node, attempts=1, deadline=now + STEP_TIMEOUT_S)
    return success(new, *effects, StartJoin(node), reason=f"{why}; joining {node}")


def _failed(state: RecoveryState, event: NodeFailed, now: float) -> Result[RecoveryState]:
    current = state.joining if state.phase == JOINING else state.chosen
    if event.node != current:
        return noop(state, f"{event.node} failed, but the recovery waits for {current}")
    return _retry(state, now, f"{event.node} failed: {event.reason}")


def _timeout(state: RecoveryState, event: Timeout, now: float) -> Result[RecoveryState]:
    if state.deadline is None or now < state.deadline:
        return noop(state, "no deadline passed")
    if state.phase == COLLECTING:
        missing = [n for n in state.expected if n not in state.positions]
        new = dataclasses.replace(state, deadline=now + STEP_TIMEOUT_S)
        why = f"still waiting for the position of {', '.join(missing)}: force a node or bring them back"
        return success(new, Alert(why), reason=why)
    current = state.joining if state.phase == JOINING else state.chosen
    return _retry(state, now, f"{current} did not reach Synced in time")


def _retry(state: RecoveryState, now: float, why: str) -> Result[RecoveryState]:
    deadline = now + STEP_TIMEOUT_S
    if state.phase == JOINING and state.joining is not None:
        node = state.joining
        if state.attempts >= MAX_ATTEMPTS:
            skipped = dataclasses.replace(state, skipped=(*state.skipped, node))
            alert = Alert(f"{why}; skipped {node} after {state.attempts} attempts (replace it)")
            return _next_joiner(skipped, now, why, alert)
        new = dataclasses.replace(state, attempts=state.attempts + 1, deadline=deadline)
        return success(new, StartJoin(node), reason=f"{why}; retrying the join of {node}")
    assert state.chosen is not None
    new = dataclasses.replace(state, phase=CHOSEN if state.phase != FORCED else FORCED, deadline=deadline)
    new = dataclasses.replace(new, attempts=state.attempts + 1)
    effects: list[Effect] = [StartBootstrap(state.chosen)]
    if state.attempts >= MAX_ATTEMPTS:
        effects.insert(0, Alert(f"{why}; bootstrap attempt {state.attempts + 1}: an operator should look"))
    return success(new, *effects, reason=f"{why}; retrying the bootstrap of {state.chosen}")


_HANDLERS: dict[tuple[str, type], Any] = {
    (COLLECTING, PositionReported): _report,
    (COLLECTING, OperatorForce): _force,
    (COLLECTING, Timeout): _timeout,
    **{(phase, Launched): _launched for phase in (CHOSEN, FORCED)},
    **{(phase, NodeSynced): _synced for phase in (CHOSEN, FORCED, BOOTSTRAPPING, JOINING)},
    **{(phase, NodeFailed): _failed for phase in (CHOSEN, FORCED, BOOTSTRAPPING, JOINING)},
    **{(phase, Timeout): _timeout for phase in (CHOSEN, FORCED, BOOTSTRAPPING, JOINING)},
}
