"""The pod-instance machine: the full from-by-to matrix, then the stories behind the important cells."""

from __future__ import annotations

import dataclasses
import random

import pytest

from mesopress.machines import instance
from mesopress.machines import instance_events as ev
from mesopress.machines.instance import InstanceState, Status
from mesopress.machines.instance_events import Goal
from mesopress.machines.result import Kind
from support import matrix

NOW = 1000.0
S = Status
CODES = {
    "PR": S.PENDING_RESERVE, "LA": S.LAUNCHING, "SG": S.STAGING, "ST": S.STARTING, "RU": S.RUNNING,
    "RD": S.READY, "FA": S.FAILED, "UR": S.UNREACHABLE, "LP": S.LOST_PERMANENTLY, "RP": S.REPLACING,
    "KI": S.KILLING, "SP": S.STOPPED, "DE": S.DECOMMISSIONED,
}  # fmt: skip


def _at(status: Status, **changes: object) -> InstanceState:
    base = dict(name="galera-0", status=status, task_id="t1", agent_id="a1", reserved=True)
    return InstanceState(**{**base, **changes})  # type: ignore[arg-type]


# One natural state per status (goal RUNNING unless the status implies another).
FIXTURES = {
    S.PENDING_RESERVE: _at(S.PENDING_RESERVE, task_id=None, agent_id=None, reserved=False),
    S.LAUNCHING: _at(S.LAUNCHING, reserved=False),
    S.STAGING: _at(S.STAGING),
    S.STARTING: _at(S.STARTING),
    S.RUNNING: _at(S.RUNNING),
    S.READY: _at(S.READY),
    S.FAILED: _at(S.FAILED),
    S.UNREACHABLE: _at(S.UNREACHABLE, unreachable_since=0.0),
    S.LOST_PERMANENTLY: _at(S.LOST_PERMANENTLY),
    S.REPLACING: _at(S.REPLACING, task_id=None, agent_id=None, reserved=False, replacement=True),
    S.KILLING: _at(S.KILLING, goal=Goal.STOPPED),
    S.STOPPED: _at(S.STOPPED, goal=Goal.STOPPED),
    S.DECOMMISSIONED: _at(S.DECOMMISSIONED, goal=Goal.DECOMMISSIONED),
}


def _status(state: str, reason: str = "") -> ev.TaskStatus:
    return ev.TaskStatus("t1", state, reason, "a1")


EVENTS: dict[str, ev.Event] = {
    "offer": ev.OfferAccepted("a2", "t2"),
    "staging": _status("TASK_STAGING"),
    "starting": _status("TASK_STARTING"),
    "running": _status("TASK_RUNNING"),
    "killing": _status("TASK_KILLING"),
    "ended": _status("TASK_FAILED", "REASON_COMMAND_EXECUTOR_FAILED"),
    "unreach": _status("TASK_UNREACHABLE", "REASON_AGENT_REMOVED"),
    "gone": _status("TASK_GONE_BY_OPERATOR", "REASON_AGENT_REMOVED_BY_OPERATOR"),
    "ready": ev.ReadinessPassed(),
    "agent_gone": ev.AgentGone("a1"),
    "deadline": ev.UnreachableDeadlinePassed(600.0),
    "replace": ev.OperatorReplace(),
    "kill": ev.KillRequested(Goal.STOPPED),
    "start": ev.StartRequested(),
    "seen": ev.ReservationSeen("a9"),
    "not_seen": ev.ReservationNotSeen(60.0),
    "replacement": ev.ReplacementStarted(),
    "restart": ev.RestartRequested(),
}

# Expected outcome of every (status, event): "." NOOP, "!" ILLEGAL, else SUCCESS into that status code.
EXPECTED = """
.   offer  staging  starting  running  killing  ended  unreach  gone  ready  agent_gone  deadline  replace  kill  start  seen  not_seen  replacement  restart
PR  LA     PR       PR        PR       .        .      .        .     .      .           .         .        SP    .      .     .         !            .
LA  !      SG       ST        RU       KI       PR     PR       PR    .      PR          .         KI       KI    .      .     PR        !            .
SG  !      .        ST        RU       KI       FA     UR       LP    .      LP          .         KI       KI    .      FA    .         !            .
ST  !      .        .         RU       KI       FA     UR       LP    .      LP          .         KI       KI    .      FA    .         !            .
RU  !      .        .         .        KI       FA     UR       LP    RD     LP          .         KI       KI    .      FA    .         !            KI
RD  !      .        .         .        KI       FA     UR       LP    .      LP          .         KI       KI    .      FA    .         !            KI
FA  LA     SG       ST        RU       .        .      UR       LP    .      LP          .         LP       SP    .      FA    FA        !            .
UR  !      SG       ST        RU       KI       FA     .        LP    .      LP          LP        LP       UR    .      FA    .         !            .
LP  !      SG       ST        RU       .        .      .        .     .      .           .         LP       LP    .      FA    .         RP           .
RP  LA     RP       RP        RP       .        .      .        .     .      .           .         .        SP    .      .     .         .            .
KI  !      KI       KI        KI       .        SP     UR       LP    .      LP          .         KI       KI    KI     SP    .         !            .
SP  !      KI       KI        KI       .        .      .        LP    .      LP          .         LP       .     FA     SP    .         !            .
DE  !      DE       DE        DE       .        .      .        .     .      .           .         !        .     !      .     .         !            !
"""  # noqa: E501


def _matrix() -> list[tuple[Status, str, str]]:
    return matrix.parse(EXPECTED, CODES)


def test_table_and_matrix_cover_every_status_and_event() -> None:
    assert set(instance.TABLE) == set(Status)
    assert all(set(row) == set(EVENTS) for row in instance.TABLE.values())
    assert {(s, c) for s, c, _ in _matrix()} == {(s, c) for s in Status for c in EVENTS}
    assert {e.key for e in EVENTS.values()} == set(EVENTS)


@pytest.mark.parametrize(("status", "column", "cell"), _matrix(), ids=lambda v: getattr(v, "name", v))
def test_all_transitions(status: Status, column: str, cell: str) -> None:
    matrix.check(instance.transition, FIXTURES[status], EVENTS[column], NOW, cell, CODES)


def test_only_a_granted_replacement_ever_abandons_a_reservation() -> None:
    """Transient trouble never leads to Replace or DestroyOld for an instance holding a reservation."""
    for status, column, _ in _matrix():
        before = FIXTURES[status]
        effects = instance.transition(before, EVENTS[column], NOW).effects
        abandons = [e for e in effects if isinstance(e, ev.Replace | ev.DestroyOld)]
        if before.reserved and column != "replacement":
            assert abandons == [], (status, column)


# ---- the stories --------------------------------------------------------------------------------------


def test_task_death_is_transient_relaunch_in_place_never_a_new_volume() -> None:
    result = instance.transition(FIXTURES[S.RUNNING], EVENTS["ended"], NOW)
    assert result.effects == (ev.Relaunch("galera-0", "a1", in_place=True),)
    assert result.state.since == NOW and result.state.reserved
    assert instance.offer_need(result.state) == ("relaunch", "a1")


def test_agent_rebooted_under_new_id_relaunches_on_the_same_reservation_there() -> None:
    unreachable = instance.transition(FIXTURES[S.RUNNING], EVENTS["unreach"], NOW).state
    result = instance.transition(unreachable, ev.ReservationSeen("a9"), NOW + 5)
    assert result.state.status is S.FAILED and result.state.agent_id == "a9"
    assert result.effects == (ev.Kill("galera-0", "t1", "a1"), ev.Relaunch("galera-0", "a9", in_place=True))


def test_missed_unreachable_update_is_caught_by_the_reservation_coming_back() -> None:
    """TASK_UNREACHABLE is not retried: a scheduler that was away still thinks the task runs."""
    result = instance.transition(FIXTURES[S.READY], ev.ReservationSeen("a9"), NOW)
    assert result.state.status is S.FAILED and result.state.agent_id == "a9"
    assert result.effects[-1] == ev.Relaunch("galera-0", "a9", in_place=True)


def test_lost_then_running_resurrects_without_relaunch() -> None:
    lost = instance.transition(FIXTURES[S.READY], _status("TASK_LOST", "REASON_AGENT_REMOVED"), NOW).state
    assert lost.status is S.UNREACHABLE and lost.unreachable_since == NOW
    result = instance.transition(lost, _status("TASK_RUNNING", "REASON_AGENT_REREGISTERED"), NOW + 30)
    assert result.state.status is S.RUNNING and result.state.unreachable_since is None
    assert result.effects == ()


def test_unreachable_deadline_counts_from_the_stored_moment_across_failover() -> None:
    state = instance.transition(FIXTURES[S.RUNNING], EVENTS["unreach"], 100.0).state
    stored = InstanceState.from_dict(state.to_dict())  # a new leader reads it back
    early = instance.transition(stored, ev.UnreachableDeadlinePassed(600.0), 699.0)
    assert early.kind is Kind.NOOP and "599s of 600s" in early.reason
    late = instance.transition(stored, ev.UnreachableDeadlinePassed(600.0), 700.0)
    assert late.state.status is S.LOST_PERMANENTLY and late.effects == ()


def test_master_unreachable_time_is_preferred_over_now() -> None:
    status = ev.TaskStatus("t1", "TASK_UNREACHABLE", "REASON_AGENT_REMOVED", "a1", unreachable_time=42.0)
    assert instance.transition(FIXTURES[S.RUNNING], status, NOW).state.unreachable_since == 42.0


def test_replacement_hands_old_reservation_to_cleanup_and_reserves_elsewhere() -> None:
    result = instance.transition(FIXTURES[S.LOST_PERMANENTLY], ev.ReplacementStarted(), NOW)
    assert [type(e) for e in result.effects] == [ev.DestroyOld, ev.Replace]
    assert result.effects[1] == ev.Replace("galera-0", "a1")
    assert result.state.replacement and not result.state.reserved and result.state.agent_id is None
    launched = instance.transition(result.state, ev.OfferAccepted("a2", "t2"), NOW + 1)
    assert launched.effects == (ev.RecordIntent("galera-0", "t2", "a2", in_place=False),)
    ready = instance.transition(launched.state, ev.TaskStatus("t2", "TASK_RUNNING", "", "a2"), NOW + 2)
    assert not instance.transition(ready.state, ev.ReadinessPassed(), NOW + 3).state.replacement


def test_operator_replace_of_a_running_task_kills_first_then_waits_for_the_slot() -> None:
    killing = instance.transition(FIXTURES[S.RUNNING], ev.OperatorReplace(), NOW)
    assert killing.effects == (ev.Kill("galera-0", "t1", "a1"),) and killing.state.goal is Goal.REPLACE
    dead = instance.transition(killing.state, _status("TASK_KILLED"), NOW + 1)
    assert dead.state.status is S.LOST_PERMANENTLY


def test_operator_replace_works_while_the_agent_is_down() -> None:
    result = instance.transition(FIXTURES[S.UNREACHABLE], ev.OperatorReplace(), NOW)
    assert result.state.status is S.LOST_PERMANENTLY and result.state.goal is Goal.REPLACE


def test_old_reservation_back_before_replacement_is_reused() -> None:
    result = instance.transition(FIXTURES[S.LOST_PERMANENTLY], ev.ReservationSeen("a1"), NOW)
    assert result.state.status is S.FAILED
    replace_wanted = dataclasses.replace(FIXTURES[S.LOST_PERMANENTLY], goal=Goal.REPLACE)
    assert instance.transition(replace_wanted, ev.ReservationSeen("a1"), NOW).kind is Kind.NOOP


def test_update_of_an_old_task_kills_it_and_changes_nothing() -> None:
    state = _at(S.RUNNING, task_id="t2")
    result = instance.transition(state, _status("TASK_RUNNING"), NOW)
    assert result.kind is Kind.SUCCESS and result.state == state
    assert result.effects == (ev.Kill("galera-0", "t1", "a1"),)
    assert instance.transition(state, EVENTS["ended"], NOW).kind is Kind.NOOP


def test_agent_gone_for_another_agent_is_noop() -> None:
    assert instance.transition(FIXTURES[S.RUNNING], ev.AgentGone("a7"), NOW).kind is Kind.NOOP


def test_relaunch_in_place_that_fails_stays_on_the_reservation() -> None:
    state = _at(S.LAUNCHING, reserved=True)
    assert instance.transition(state, EVENTS["ended"], NOW).state.status is S.FAILED
    assert instance.transition(state, EVENTS["unreach"], NOW).state.status is S.UNREACHABLE


def test_first_launch_that_fails_cleans_up_and_starts_over() -> None:
    result = instance.transition(FIXTURES[S.LAUNCHING], EVENTS["ended"], NOW)
    assert result.state.agent_id is None
    assert [type(e) for e in result.effects] == [ev.DestroyOld]


def test_launch_without_any_update_is_retried_after_the_deadline() -> None:
    state = _at(S.LAUNCHING, reserved=True, since=900.0)
    assert instance.transition(state, ev.ReservationNotSeen(200.0), NOW).kind is Kind.NOOP
    result = instance.transition(state, ev.ReservationNotSeen(60.0), NOW)
    assert result.state.status is S.FAILED and result.state.attempts == 1
    assert result.effects == (ev.Kill("galera-0", "t1", "a1"), ev.Relaunch("galera-0", "a1"))


def test_reservation_not_seen_for_a_relaunch_retries_and_restarts_the_clock() -> None:
    result = instance.transition(FIXTURES[S.FAILED], ev.ReservationNotSeen(60.0), NOW)
    assert result.state.since == NOW and result.state.attempts == 1
    assert "retrying" in result.reason


def test_decommission_kills_then_hands_reservation_to_cleanup() -> None:
    killing = instance.transition(FIXTURES[S.READY], ev.KillRequested(Goal.DECOMMISSIONED), NOW).state
    result = instance.transition(killing, _status("TASK_KILLED"), NOW + 1)
    assert result.state.status is S.DECOMMISSIONED
    assert [type(e) for e in result.effects] == [ev.DestroyOld]


def test_decommission_of_an_instance_on_a_gone_agent_finishes() -> None:
    state = instance.transition(FIXTURES[S.UNREACHABLE], ev.KillRequested(Goal.DECOMMISSIONED), NOW).state
    assert state.status is S.UNREACHABLE
    assert instance.transition(state, ev.AgentGone("a1"), NOW).state.status is S.DECOMMISSIONED


def test_task_still_reported_alive_while_killing_gets_the_kill_again() -> None:
    """A kill sent while the ACCEPT was in flight reaches no task; the next update repeats it."""
    result = instance.transition(FIXTURES[S.KILLING], _status("TASK_RUNNING"), NOW)
    assert result.state.status is S.KILLING and result.effects == (ev.Kill("galera-0", "t1", "a1"),)


def test_failed_launch_of_a_replacement_keeps_the_replacement_slot() -> None:
    replacing = instance.transition(FIXTURES[S.LOST_PERMANENTLY], ev.ReplacementStarted(), NOW).state
    launching = instance.transition(replacing, ev.OfferAccepted("a2", "t2"), NOW).state
    result = instance.transition(
        launching, ev.TaskStatus("t2", "TASK_ERROR", "REASON_TASK_INVALID", "a2"), NOW
    )
    assert result.state.status is S.REPLACING and result.state.replacement
    assert result.effects == (ev.DestroyOld("galera-0", "a2", result.reason),)
    assert instance.offer_need(result.state) == ("replace", None)


def test_a_kill_request_only_stops_or_decommissions() -> None:
    with pytest.raises(ValueError, match="goal must be STOPPED or DECOMMISSIONED"):
        ev.KillRequested(Goal.RUNNING)


def test_stop_and_start_again() -> None:
    stopped = instance.transition(FIXTURES[S.FAILED], ev.KillRequested(), NOW).state
    assert stopped.status is S.STOPPED and instance.offer_need(stopped) is None
    started = instance.transition(stopped, ev.StartRequested(), NOW)
    assert started.state.status is S.FAILED and started.effects == (ev.Relaunch("galera-0", "a1"),)


@pytest.mark.parametrize(
    ("task_state", "reason", "condition"),
    [
        ("TASK_STAGING", "", ev.Condition.STAGING),
        ("TASK_RUNNING", "REASON_AGENT_REREGISTERED", ev.Condition.RUNNING),
        ("TASK_FINISHED", "", ev.Condition.TERMINATED),
        ("TASK_FAILED", "", ev.Condition.TERMINATED),
        ("TASK_KILLED", "", ev.Condition.TERMINATED),
        ("TASK_ERROR", "REASON_TASK_INVALID", ev.Condition.TERMINATED),
        ("TASK_DROPPED", "REASON_INVALID_OFFERS", ev.Condition.TERMINATED),
        ("TASK_GONE", "REASON_RECONCILIATION", ev.Condition.TERMINATED),
        ("TASK_LOST", "REASON_INVALID_OFFERS", ev.Condition.TERMINATED),
        ("TASK_LOST", "REASON_AGENT_REMOVED", ev.Condition.UNREACHABLE),
        ("TASK_LOST", "REASON_AGENT_DISCONNECTED", ev.Condition.UNREACHABLE),
        ("TASK_LOST", "REASON_AGENT_REMOVED_BY_OPERATOR", ev.Condition.GONE),
        ("TASK_UNREACHABLE", "REASON_AGENT_REMOVED", ev.Condition.UNREACHABLE),
        ("TASK_UNKNOWN", "REASON_RECONCILIATION", ev.Condition.UNREACHABLE),
        ("TASK_GONE_BY_OPERATOR", "REASON_AGENT_REMOVED_BY_OPERATOR", ev.Condition.GONE),
    ],
    ids=lambda v: getattr(v, "name", v) or "-",
)
def test_classify(task_state: str, reason: str, condition: ev.Condition) -> None:
    assert ev.classify(task_state, reason) is condition


def test_state_round_trips_through_plain_dicts() -> None:
    state = _at(S.UNREACHABLE, unreachable_since=12.5, goal=Goal.REPLACE, attempts=2, reason="x")
    assert InstanceState.from_dict(state.to_dict()) == state
    assert state.to_dict()["status"] == "UNREACHABLE"


def test_offer_need_per_status() -> None:
    assert instance.offer_need(FIXTURES[S.PENDING_RESERVE]) == ("launch", None)
    assert instance.offer_need(FIXTURES[S.REPLACING]) == ("replace", None)
    assert instance.offer_need(FIXTURES[S.RUNNING]) is None


def test_effects_serialise_for_logs() -> None:
    assert ev.Kill("galera-0", "t1", "a1").to_dict() == {
        "effect": "Kill", "instance": "galera-0", "task_id": "t1", "agent_id": "a1"
    }  # fmt: skip


def test_next_deadline_names_the_moment_and_the_question() -> None:
    unreachable = _at(S.UNREACHABLE, unreachable_since=100.0, since=150.0)
    when, event = instance.next_deadline(unreachable, 600.0, 60.0) or (None, None)
    assert when == 700.0 and event == ev.UnreachableDeadlinePassed(600.0)
    assert instance.transition(unreachable, event, when).state.status is S.LOST_PERMANENTLY  # type: ignore[arg-type]
    assert instance.next_deadline(_at(S.FAILED, since=5.0), 600.0, 60.0) == (
        65.0,
        ev.ReservationNotSeen(60.0),
    )
    assert instance.next_deadline(FIXTURES[S.READY], 600.0, 60.0) is None


TASK_STATES = [
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_ERROR",
    "TASK_LOST",
    "TASK_DROPPED",
    "TASK_UNREACHABLE",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
    "TASK_UNKNOWN",
]


def _random_event(rng: random.Random, state: InstanceState) -> ev.Event:
    if rng.random() < 0.5:  # a Mesos update, usually about the current task
        task = state.task_id if state.task_id and rng.random() < 0.9 else "t-old"
        mesos_state = rng.choice(TASK_STATES)
        reason = rng.choice(("", "REASON_AGENT_REMOVED", "REASON_AGENT_REMOVED_BY_OPERATOR"))
        return ev.TaskStatus(task, mesos_state, reason, state.agent_id or "a1")
    if rng.random() < 0.03:
        return ev.KillRequested(Goal.DECOMMISSIONED)
    if rng.random() < 0.03:
        return ev.RestartRequested()
    others = [e for key, e in EVENTS.items() if key in ("offer", "ready", "deadline", "replace", "kill")]
    others += [e for key, e in EVENTS.items() if key in ("start", "not_seen", "replacement", "seen")]
    event = rng.choice(others + [ev.OfferAccepted("a2", f"t{rng.randrange(1000)}"), ev.AgentGone("a2")])
    return event


def test_random_histories_keep_the_invariants() -> None:
    """Mesos news is never ILLEGAL; only a granted replacement or a decommission abandons a volume."""
    rng, seen = random.Random(7), set()
    mesos = (
        ev.TaskStatus,
        ev.AgentGone,
        ev.ReservationSeen,
        ev.UnreachableDeadlinePassed,
        ev.ReadinessPassed,
    )
    for _ in range(200):
        state, now = InstanceState("galera-0"), 0.0
        for _ in range(40):
            event, now = _random_event(rng, state), now + rng.choice((1.0, 100.0, 1000.0))
            result = instance.transition(state, event, now)
            assert not (isinstance(event, mesos) and result.kind is Kind.ILLEGAL), (state, event)
            for effect in result.effects:
                if isinstance(effect, ev.Replace | ev.DestroyOld) and state.reserved:
                    allowed = (
                        isinstance(event, ev.ReplacementStarted) or result.state.goal is Goal.DECOMMISSIONED
                    )
                    assert allowed, (state, event, effect)
            state = result.state
            seen.add(state.status)
            assert not (state.status is S.REPLACING and state.reserved)
            assert InstanceState.from_dict(state.to_dict()) == state
    assert seen == set(Status)


def test_a_restart_kills_keeps_goal_running_and_relaunches_in_place_when_the_task_ends() -> None:
    """A rolling restart: READY -> KILLING (goal RUNNING, Kill sent) -> TASK_KILLED -> FAILED + Relaunch."""
    result = instance.transition(FIXTURES[S.READY], ev.RestartRequested(), NOW)
    assert result.state.status is S.KILLING and result.state.goal is Goal.RUNNING
    assert [type(e) for e in result.effects] == [ev.Kill]
    ended = ev.TaskStatus(result.state.task_id or "", "TASK_KILLED", "", "a1")
    after = instance.transition(result.state, ended, NOW + 1)
    assert after.state.status is S.FAILED and after.state.reserved
    assert [type(e) for e in after.effects] == [ev.Relaunch]
    assert instance.offer_need(after.state) == ("relaunch", "a1")


def test_a_restart_of_an_instance_that_is_not_running_changes_nothing() -> None:
    for status in (S.FAILED, S.LAUNCHING, S.STAGING, S.KILLING, S.STOPPED, S.UNREACHABLE):
        assert instance.transition(FIXTURES[status], ev.RestartRequested(), NOW).kind is Kind.NOOP
