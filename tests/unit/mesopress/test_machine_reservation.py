"""The reservation/volume machine: the full from-by-to matrix, then lost operations and clean-up."""

from __future__ import annotations

import random

import pytest

from mesopress.machines import reservation as rv
from mesopress.machines.reservation import ReservationState, Status
from mesopress.machines.result import Kind
from support import matrix

NOW = 1000.0
S = Status
CODES = {
    "PR": S.PROPOSED, "RS": S.RESERVE_SENT, "RV": S.RESERVED, "CS": S.CREATE_SENT, "VC": S.VOLUME_CREATED,
    "OR": S.ORPHANED, "DS": S.DESTROY_SENT, "US": S.UNRESERVE_SENT, "GO": S.GONE,
}  # fmt: skip


def _at(status: Status, **changes: object) -> ReservationState:
    base = dict(persistence_id="p-galera-0", instance="galera-0", status=status, agent_id="a1")
    return ReservationState(**{**base, **changes})  # type: ignore[arg-type]


FIXTURES = {
    S.PROPOSED: _at(S.PROPOSED, agent_id=None),
    S.RESERVE_SENT: _at(S.RESERVE_SENT),
    S.RESERVED: _at(S.RESERVED, confirmed=True),
    S.CREATE_SENT: _at(S.CREATE_SENT, confirmed=True),
    S.VOLUME_CREATED: _at(S.VOLUME_CREATED, confirmed=True, has_volume=True),
    S.ORPHANED: _at(S.ORPHANED, confirmed=True, has_volume=True),
    S.DESTROY_SENT: _at(S.DESTROY_SENT, confirmed=True, has_volume=True),
    S.UNRESERVE_SENT: _at(S.UNRESERVE_SENT, confirmed=True),
    S.GONE: _at(S.GONE, confirmed=True),
}
EVENTS: dict[str, rv.Event] = {
    "reserve": rv.Reserve("a1"),
    "create": rv.Create(),
    "seen": rv.Seen("a1", volume=True),
    "in_use": rv.InUse(),
    "not_seen": rv.NotSeen(60.0),
    "orphan": rv.Orphan("replaced"),
    "agent_gone": rv.AgentGone("a1"),
}

# "." NOOP, "!" ILLEGAL, else SUCCESS into that status code.
EXPECTED = """
.   reserve create seen in_use not_seen orphan agent_gone
PR  RS      !      VC   !      .        GO     .
RS  !       !      VC   VC     PR       OR     RS
RV  !       CS     VC   VC     .        OR     RV
CS  !       !      VC   VC     RV       OR     CS
VC  !       !      .    .      .        OR     VC
OR  !       !      DS   .      .        .      OR
DS  !       !      DS   .      GO       .      DS
US  !       !      DS   .      GO       .      US
GO  !       !      DS   .      .        .      .
"""


def _matrix() -> list[tuple[Status, str, str]]:
    return matrix.parse(EXPECTED, CODES)


def test_table_and_matrix_cover_every_status_and_event() -> None:
    assert set(rv.TABLE) == set(Status)
    assert all(set(row) == set(EVENTS) for row in rv.TABLE.values())
    assert {(s, c) for s, c, _ in _matrix()} == {(s, c) for s in Status for c in EVENTS}
    assert {e.key for e in EVENTS.values()} == set(EVENTS)


@pytest.mark.parametrize(("status", "column", "cell"), _matrix(), ids=lambda v: getattr(v, "name", v))
def test_all_transitions(status: Status, column: str, cell: str) -> None:
    matrix.check(rv.transition, FIXTURES[status], EVENTS[column], NOW, cell, CODES)


def test_reserve_sends_reserve_and_create_in_one_accept() -> None:
    result = rv.transition(FIXTURES[S.PROPOSED], rv.Reserve("a1"), NOW)
    assert result.effects == (rv.Send("p-galera-0", "a1", ("RESERVE", "CREATE")),)
    assert result.state.since == NOW and result.state.agent_id == "a1"


def test_lost_create_is_seen_as_reservation_only_and_created_again() -> None:
    reserved = rv.transition(FIXTURES[S.RESERVE_SENT], rv.Seen("a1", volume=False), NOW).state
    assert reserved.status is S.RESERVED and reserved.confirmed and not reserved.has_volume
    result = rv.transition(reserved, rv.Create(), NOW)
    assert result.effects == (rv.Send("p-galera-0", "a1", ("CREATE",)),)


def test_reservation_never_seen_is_retried_after_its_deadline_only() -> None:
    sent = _at(S.RESERVE_SENT, since=950.0)
    assert rv.transition(sent, rv.NotSeen(60.0), NOW).kind is Kind.NOOP
    result = rv.transition(sent, rv.NotSeen(30.0), NOW)
    assert result.state.status is S.PROPOSED and result.state.attempts == 1
    assert isinstance(result.effects[0], rv.Retry) and "not seen in offers" in result.reason


def test_volume_offered_without_its_volume_is_never_created_again() -> None:
    result = rv.transition(FIXTURES[S.VOLUME_CREATED], rv.Seen("a1", volume=False), NOW)
    assert result.kind is Kind.NOOP


def test_seen_on_a_new_agent_id_follows_the_agent() -> None:
    result = rv.transition(FIXTURES[S.VOLUME_CREATED], rv.Seen("a9"), NOW)
    assert result.kind is Kind.SUCCESS and result.state.agent_id == "a9"


def test_orphan_waits_for_its_agent_and_is_cleaned_when_it_returns_under_a_new_id() -> None:
    gone = rv.transition(FIXTURES[S.ORPHANED], rv.AgentGone("a1"), NOW).state
    assert gone.agent_gone and rv.needs_cleaning(gone)
    assert rv.transition(gone, rv.NotSeen(60.0), NOW + 10_000).kind is Kind.NOOP
    result = rv.transition(gone, rv.Seen("a9", volume=True), NOW + 20_000)
    assert result.effects == (rv.Send("p-galera-0", "a9", ("DESTROY", "UNRESERVE")),)
    assert not result.state.agent_gone


def test_orphan_never_seen_expires() -> None:
    orphan = rv.transition(FIXTURES[S.RESERVE_SENT], rv.Orphan("launch failed"), NOW).state
    result = rv.transition(orphan, rv.NotSeen(60.0), NOW + 61)
    assert result.state.status is S.GONE and result.effects == (rv.Forget("p-galera-0"),)


def test_destroy_done_but_unreserve_lost_sends_unreserve_again() -> None:
    result = rv.transition(FIXTURES[S.DESTROY_SENT], rv.Seen("a1", volume=False), NOW)
    assert result.state.status is S.UNRESERVE_SENT
    assert result.effects == (rv.Send("p-galera-0", "a1", ("UNRESERVE",)),)


def test_clean_up_counts_as_done_when_not_seen_again_and_reopens_if_it_reappears() -> None:
    done = rv.transition(FIXTURES[S.UNRESERVE_SENT], rv.NotSeen(60.0), NOW)
    assert done.state.status is S.GONE and done.effects == (rv.Forget("p-galera-0"),)
    again = rv.transition(done.state, rv.Seen("a1", volume=False), NOW + 5)
    assert again.state.status is S.UNRESERVE_SENT


def test_agent_gone_for_another_agent_is_noop() -> None:
    assert rv.transition(FIXTURES[S.ORPHANED], rv.AgentGone("a7"), NOW).kind is Kind.NOOP


def test_state_round_trips_through_plain_dicts() -> None:
    state = _at(S.DESTROY_SENT, confirmed=True, has_volume=True, agent_gone=True, attempts=3, since=5.0)
    assert ReservationState.from_dict(state.to_dict()) == state


def test_next_deadline() -> None:
    assert rv.next_deadline(_at(S.DESTROY_SENT, since=10.0), 60.0) == (70.0, rv.NotSeen(60.0))
    assert rv.next_deadline(FIXTURES[S.ORPHANED], 60.0) is None  # ever seen: wait for the agent
    assert rv.next_deadline(_at(S.ORPHANED, confirmed=False), 60.0) == (60.0, rv.NotSeen(60.0))
    assert rv.next_deadline(FIXTURES[S.VOLUME_CREATED], 60.0) is None


def test_random_histories_never_create_over_a_known_volume() -> None:
    """Whatever offers and timers say, CREATE is never sent once the volume has been seen."""
    rng = random.Random(11)
    events = list(EVENTS.values()) + [rv.Seen("a1", volume=False), rv.Seen("a9"), rv.AgentGone("a9")]
    for _ in range(200):
        state, now, volume_known = rv.ReservationState("p-galera-0", "galera-0"), 0.0, False
        for _ in range(30):
            event, now = rng.choice(events), now + rng.choice((1.0, 100.0))
            result = rv.transition(state, event, now)
            sends = [e for e in result.effects if isinstance(e, rv.Send)]
            if any("CREATE" in send.operations for send in sends):
                assert not volume_known, (state, event)
            state = result.state
            volume_known = (
                volume_known or state.status is S.VOLUME_CREATED
            ) and state.status is not S.PROPOSED
            assert rv.ReservationState.from_dict(state.to_dict()) == state
