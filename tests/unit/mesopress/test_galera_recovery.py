"""The full-crash recovery machine: the whole phase-by-event matrix, the happy path, operator force,
retries, skips, timeouts, and resuming from the stored record after every step."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mesopress.galera import recovery
from mesopress.galera.position import ZERO_UUID, Position, Unknown
from mesopress.galera.recovery import (
    BOOTSTRAPPING,
    CHOSEN,
    COLLECTING,
    DONE,
    FORCED,
    JOINING,
    Alert,
    Launched,
    LogDecision,
    NodeFailed,
    NodeSynced,
    OperatorForce,
    PositionReported,
    RecoveryState,
    StartBootstrap,
    StartJoin,
    Timeout,
)
from mesopress.machines.result import Kind

U = "8a6d5a3c-ad2f-11ee-9b1c-2f6b3c1e0f01"
NODES = {"galera-0", "galera-1", "galera-2"}
T0 = 1000.0
LATE = T0 + recovery.STEP_TIMEOUT_S + 1


def roundtrip(state: RecoveryState) -> RecoveryState:
    """What a new leader reads back from ZooKeeper."""
    return RecoveryState.from_dict(json.loads(json.dumps(state.to_dict())))


def step(state: RecoveryState, event: recovery.Event, now: float = T0) -> recovery.Result[RecoveryState]:
    result = recovery.transition(roundtrip(state), event, now)
    assert roundtrip(result.state) == result.state
    return result


def reported(seqnos: dict[str, int]) -> RecoveryState:
    state = recovery.start(NODES, T0)
    for node, seqno in seqnos.items():
        state = step(state, PositionReported(node, Position(U, seqno))).state
    return state


def in_phase(phase: str) -> RecoveryState:
    chosen = reported({"galera-0": 5, "galera-1": 9, "galera-2": 7})  # CHOSEN galera-1
    states = {
        COLLECTING: reported({"galera-0": 5}),
        CHOSEN: chosen,
        FORCED: step(reported({"galera-0": 5}), OperatorForce("galera-0")).state,
        BOOTSTRAPPING: step(chosen, Launched("galera-1")).state,
        JOINING: step(chosen, NodeSynced("galera-1")).state,
    }
    states[DONE] = dataclasses.replace(states[JOINING], phase=DONE, joining=None)
    return states[phase]


def current(state: RecoveryState) -> str:
    return state.joining or state.chosen or "galera-2"


EVENTS = {
    "PositionReported": lambda s: PositionReported("galera-2", Position(U, 3)),
    "OperatorForce": lambda s: OperatorForce("galera-2"),
    "Launched": lambda s: Launched(current(s)),
    "NodeSynced": lambda s: NodeSynced(current(s)),
    "NodeFailed": lambda s: NodeFailed(current(s), "exited 1"),
    "Timeout": lambda s: Timeout(),
}

# phase -> event -> (kind, phase after)
MATRIX = {
    COLLECTING: {
        "PositionReported": (Kind.SUCCESS, COLLECTING),
        "OperatorForce": (Kind.SUCCESS, FORCED),
        "Launched": (Kind.ILLEGAL, COLLECTING),
        "NodeSynced": (Kind.ILLEGAL, COLLECTING),
        "NodeFailed": (Kind.ILLEGAL, COLLECTING),
        "Timeout": (Kind.SUCCESS, COLLECTING),
    },
    CHOSEN: {
        "PositionReported": (Kind.NOOP, CHOSEN),
        "OperatorForce": (Kind.ILLEGAL, CHOSEN),
        "Launched": (Kind.SUCCESS, BOOTSTRAPPING),
        "NodeSynced": (Kind.SUCCESS, JOINING),
        "NodeFailed": (Kind.SUCCESS, CHOSEN),
        "Timeout": (Kind.SUCCESS, CHOSEN),
    },
    FORCED: {
        "PositionReported": (Kind.NOOP, FORCED),
        "OperatorForce": (Kind.ILLEGAL, FORCED),
        "Launched": (Kind.SUCCESS, BOOTSTRAPPING),
        "NodeSynced": (Kind.SUCCESS, JOINING),
        "NodeFailed": (Kind.SUCCESS, FORCED),
        "Timeout": (Kind.SUCCESS, FORCED),
    },
    BOOTSTRAPPING: {
        "PositionReported": (Kind.NOOP, BOOTSTRAPPING),
        "OperatorForce": (Kind.ILLEGAL, BOOTSTRAPPING),
        "Launched": (Kind.ILLEGAL, BOOTSTRAPPING),
        "NodeSynced": (Kind.SUCCESS, JOINING),
        "NodeFailed": (Kind.SUCCESS, CHOSEN),
        "Timeout": (Kind.SUCCESS, CHOSEN),
    },
    JOINING: {
        "PositionReported": (Kind.NOOP, JOINING),
        "OperatorForce": (Kind.ILLEGAL, JOINING),
        "Launched": (Kind.ILLEGAL, JOINING),
        "NodeSynced": (Kind.SUCCESS, JOINING),
        "NodeFailed": (Kind.SUCCESS, JOINING),
        "Timeout": (Kind.SUCCESS, JOINING),
    },
    DONE: {name: (Kind.NOOP, DONE) for name in EVENTS},
}
CELLS = [(phase, name, *MATRIX[phase][name]) for phase in MATRIX for name in EVENTS]


@pytest.mark.parametrize(("phase", "event", "kind", "after"), CELLS, ids=[f"{c[0]}-{c[1]}" for c in CELLS])
def test_every_phase_by_every_event(phase: str, event: str, kind: Kind, after: str) -> None:
    state = in_phase(phase)
    result = step(state, EVENTS[event](state), now=LATE)
    assert (result.kind, result.state.phase) == (kind, after), result.reason
    if kind is not Kind.SUCCESS:
        assert result.state == roundtrip(state) and result.effects == () and result.reason


def test_happy_path_bootstraps_the_highest_and_joins_the_others_one_at_a_time() -> None:
    state = recovery.start(NODES, T0)
    state = step(state, PositionReported("galera-0", Position(U, 5))).state
    result = step(state, PositionReported("galera-2", Unknown("garbled log")))
    assert result.state.phase == COLLECTING and "galera-1" in result.reason and result.effects == ()
    result = step(result.state, PositionReported("galera-1", Position(U, 9)))
    assert result.state.phase == CHOSEN and result.state.chosen == "galera-1"
    log, boot = result.effects
    assert isinstance(log, LogDecision) and log.node == "galera-1" and not log.forced
    assert dict(log.evidence)["galera-2"] == "unknown (garbled log)"
    assert boot == StartBootstrap("galera-1")
    state = step(result.state, Launched("galera-1")).state
    result = step(state, NodeSynced("galera-1"))
    assert result.effects == (StartJoin("galera-0"),) and result.state.joining == "galera-0"
    result = step(result.state, NodeSynced("galera-0"))
    assert result.effects == (StartJoin("galera-2"),)
    result = step(result.state, NodeSynced("galera-2"))
    assert result.state.phase == DONE and result.state.joined == ("galera-1", "galera-0", "galera-2")


def test_operator_force_skips_the_wait_and_is_logged_as_forced() -> None:
    result = step(reported({"galera-0": 5}), OperatorForce("galera-0"))
    assert result.state.phase == FORCED and result.state.chosen == "galera-0"
    assert isinstance(result.effects[0], LogDecision) and result.effects[0].forced


def test_operator_force_of_an_empty_node_is_refused() -> None:
    state = step(recovery.start(NODES, T0), PositionReported("galera-2", Position(ZERO_UUID, -1))).state
    result = step(state, OperatorForce("galera-2"))
    assert result.kind is Kind.ILLEGAL and "refusing to force galera-2" in result.reason


def test_reports_from_strangers_and_duplicates_are_noops() -> None:
    state = reported({"galera-0": 5})
    assert step(state, PositionReported("galera-9", Position(U, 99))).kind is Kind.NOOP
    assert step(state, PositionReported("galera-0", Position(U, 5))).kind is Kind.NOOP


def test_a_node_that_keeps_failing_to_join_is_skipped_with_an_alert() -> None:
    state = in_phase(JOINING)
    assert state.joining == "galera-0"
    for attempt in range(2, recovery.MAX_ATTEMPTS + 1):
        result = step(state, NodeFailed("galera-0", "sst failed"))
        assert result.effects == (StartJoin("galera-0"),) and result.state.attempts == attempt
        state = result.state
    result = step(state, NodeFailed("galera-0", "sst failed"))
    alert, join = result.effects
    assert isinstance(alert, Alert) and "skipped galera-0" in alert.reason
    assert join == StartJoin("galera-2") and result.state.skipped == ("galera-0",)
    assert step(result.state, NodeSynced("galera-2")).state.phase == DONE


def test_a_failed_bootstrap_is_retried_on_the_same_node_and_alerts_after_max_attempts() -> None:
    state = in_phase(BOOTSTRAPPING)
    for _ in range(recovery.MAX_ATTEMPTS):
        result = step(state, NodeFailed("galera-1", "exited 1"))
        assert result.effects[-1] == StartBootstrap("galera-1") and result.state.chosen == "galera-1"
        state = step(result.state, Launched("galera-1")).state
    assert isinstance(result.effects[0], Alert)


def test_timeouts_only_fire_after_the_stored_deadline() -> None:
    state = reported({"galera-0": 5})
    assert step(state, Timeout(), now=T0 + 1).kind is Kind.NOOP
    result = step(state, Timeout(), now=LATE)
    assert isinstance(result.effects[0], Alert) and "galera-1, galera-2" in result.effects[0].reason
    assert result.state.deadline == LATE + recovery.STEP_TIMEOUT_S


def test_events_about_other_nodes_do_not_move_the_flow() -> None:
    state = in_phase(JOINING)
    assert step(state, NodeSynced("galera-2")).kind is Kind.NOOP
    assert step(state, NodeFailed("galera-2")).kind is Kind.NOOP
    assert step(in_phase(CHOSEN), Launched("galera-0")).kind is Kind.NOOP


def test_from_dict_refuses_an_unknown_phase() -> None:
    with pytest.raises(ValueError, match="phase"):
        RecoveryState.from_dict({"expected": ["a"], "phase": "BOGUS"})
