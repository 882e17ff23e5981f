"""Which node may bootstrap after a full crash, and how one node starts from what its volume holds.

Table-driven after mariadb-operator's recovery_status_test.go."""

from __future__ import annotations

import pytest

from mesopress.galera import bootstrap
from mesopress.galera.bootstrap import Choice, StartPlan, Wait
from mesopress.galera.position import ZERO_UUID, Position, Unknown

A = "8a6d5a3c-ad2f-11ee-9b1c-2f6b3c1e0f01"
B = "11111111-2222-3333-4444-555555555555"
NODES = {"galera-0", "galera-1", "galera-2"}


def p(seqno: int, uuid: str = A) -> Position:
    return Position(uuid, seqno)


# (id, positions, forced, expected node or None for Wait, a fragment of the reason)
CASES = [
    (
        "highest-seqno-wins",
        {"galera-0": p(10), "galera-1": p(12), "galera-2": p(11)},
        None,
        "galera-1",
        "highest seqno 12",
    ),
    (
        "tie-goes-to-first-name",
        {"galera-0": p(7), "galera-1": p(7), "galera-2": p(3)},
        None,
        "galera-0",
        "tied with galera-1",
    ),
    (
        "waits-for-a-missing-node",
        {"galera-0": p(10), "galera-1": p(12)},
        None,
        None,
        "waiting for the position of galera-2",
    ),
    (
        "none-counts-as-missing",
        {"galera-0": p(10), "galera-1": p(12), "galera-2": None},
        None,
        None,
        "galera-2",
    ),
    ("waits-for-everyone", {}, None, None, "galera-0, galera-1, galera-2"),
    (
        "empty-node-never-chosen-issue-1701",
        {"galera-0": p(5), "galera-1": p(9, ZERO_UUID), "galera-2": p(4)},
        None,
        "galera-0",
        "not candidates: galera-1",
    ),
    (
        "seqno-minus-one-never-chosen",
        {"galera-0": p(-1), "galera-1": p(2), "galera-2": p(-1)},
        None,
        "galera-1",
        "not candidates: galera-0, galera-2",
    ),
    (
        "unparseable-is-never-most-advanced",
        {"galera-0": Unknown("garbled"), "galera-1": p(2), "galera-2": p(1)},
        None,
        "galera-1",
        "not candidates: galera-0",
    ),
    (
        "all-unusable-waits-for-operator",
        {"galera-0": Unknown("x"), "galera-1": p(-1), "galera-2": p(3, ZERO_UUID)},
        None,
        None,
        "an operator must force",
    ),
    (
        "disagreeing-uuids-wait-for-operator",
        {"galera-0": p(10), "galera-1": p(12, B), "galera-2": p(11)},
        None,
        None,
        "disagree on the cluster uuid",
    ),
    (
        "nodes-outside-the-cluster-are-ignored",
        {"galera-0": p(1), "galera-1": p(2), "galera-2": p(3), "galera-9": p(99)},
        None,
        "galera-2",
        "highest seqno 3",
    ),
    (
        "seqno-zero-is-a-candidate",
        {"galera-0": p(0), "galera-1": p(-1), "galera-2": Unknown("x")},
        None,
        "galera-0",
        "highest seqno 0",
    ),
    ("forced-without-waiting", {"galera-0": p(10)}, "galera-0", "galera-0", "operator forced galera-0"),
    (
        "forced-warns-about-lost-writes",
        {"galera-0": p(10), "galera-1": p(12)},
        "galera-0",
        "galera-0",
        "WARNING: galera-1",
    ),
    (
        "forced-unknown-position-is-allowed",
        {"galera-1": Unknown("no log")},
        "galera-1",
        "galera-1",
        "operator forced galera-1",
    ),
    (
        "forced-empty-node-is-refused",
        {"galera-2": p(-1, ZERO_UUID)},
        "galera-2",
        None,
        "refusing to force galera-2",
    ),
    ("forced-stranger-is-refused", {}, "galera-7", None, "not a member"),
]


@pytest.mark.parametrize(
    ("positions", "forced", "node", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_choose_bootstrap(positions: dict, forced: str | None, node: str | None, reason: str) -> None:
    answer = bootstrap.choose_bootstrap(positions, NODES, forced)
    if node is None:
        assert isinstance(answer, Wait), answer
    else:
        assert isinstance(answer, Choice), answer
        assert answer.node == node and answer.forced is (forced is not None)
    assert reason in answer.reason


def test_choice_carries_every_nodes_position_as_evidence() -> None:
    positions = {"galera-0": p(10), "galera-1": Unknown("garbled"), "galera-2": p(-1)}
    answer = bootstrap.choose_bootstrap(positions, NODES)
    assert isinstance(answer, Choice)
    assert answer.evidence == {
        "galera-0": f"{A}:10",
        "galera-1": "unknown (garbled)",
        "galera-2": f"{A}:-1 (not usable)",
    }


def test_wait_names_the_missing_nodes() -> None:
    answer = bootstrap.choose_bootstrap({"galera-1": p(1)}, NODES)
    assert answer == Wait("waiting for the position of galera-0, galera-2", ("galera-0", "galera-2"))


# (id, has_data, bootstrap, recovered, expected position hint, plan)
STARTS = [
    ("first-deploy", False, True, None, None, StartPlan(install=True, new_cluster=True, create_users=True)),
    ("fresh-joiner-gets-sst", False, False, None, None, StartPlan()),
    ("restart-in-place-uses-ist", True, False, p(41), None, StartPlan(start_position=f"{A}:41")),
    (
        "recovery-bootstrap",
        True,
        True,
        p(41),
        f"{A}:41",
        StartPlan(new_cluster=True, safe_to_bootstrap=True, start_position=f"{A}:41", create_users=True),
    ),
    ("unknown-position-rejoins-by-sst", True, False, Unknown("x"), None, StartPlan()),
    ("never-joined-rejoins-by-sst", True, False, p(-1, ZERO_UUID), None, StartPlan()),
    ("refuse-bootstrap-from-unknown", True, True, Unknown("x"), None, StartPlan(refuse="unusable position")),
    (
        "refuse-bootstrap-from-empty-state",
        True,
        True,
        p(-1, ZERO_UUID),
        None,
        StartPlan(refuse="unusable position"),
    ),
    (
        "refuse-new-cluster-on-a-wiped-volume",
        False,
        True,
        None,
        f"{A}:41",
        StartPlan(refuse="empty but the scheduler expected"),
    ),
    (
        "refuse-join-on-a-wiped-volume",
        False,
        False,
        None,
        f"{A}:41",
        StartPlan(refuse="empty but the scheduler expected"),
    ),
]


@pytest.mark.parametrize(
    ("has_data", "recovered"), [(False, None), (True, p(41))], ids=["first-deploy", "recovery-bootstrap"]
)
def test_never_bootstrap_next_to_a_live_peer(has_data: bool, recovered: Position | None) -> None:
    plan = bootstrap.decide_start(has_data, True, recovered, None, ["127.0.0.1:5567"])
    assert plan.refuse == "refusing to bootstrap: peer 127.0.0.1:5567 is up; join it instead"


def test_live_peers_do_not_stop_a_join() -> None:
    assert bootstrap.decide_start(True, False, p(41), None, ["127.0.0.1:5567"]).start_position == f"{A}:41"


@pytest.mark.parametrize(
    ("has_data", "boot", "recovered", "hint", "plan"), [c[1:] for c in STARTS], ids=[c[0] for c in STARTS]
)
def test_decide_start(
    has_data: bool, boot: bool, recovered: object, hint: str | None, plan: StartPlan
) -> None:
    decided = bootstrap.decide_start(has_data, boot, recovered, hint)  # type: ignore[arg-type]
    if plan.refuse:
        assert plan.refuse in decided.refuse
        assert not decided.install and not decided.new_cluster
    else:
        assert decided.refuse == "" and decided.reason
        assert (decided.install, decided.new_cluster, decided.safe_to_bootstrap) == (
            plan.install,
            plan.new_cluster,
            plan.safe_to_bootstrap,
        )
        assert (decided.start_position, decided.create_users) == (plan.start_position, plan.create_users)
