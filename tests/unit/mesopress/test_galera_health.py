"""Reading wsrep status rows: ready only when Primary and Synced; a node in SST/IST is never 'dead'."""

from __future__ import annotations

import pytest

from mesopress.galera import health


def rows(
    state: int, comment: str, ready: str = "ON", status: str = "Primary", size: int = 3
) -> list[tuple[str, str]]:
    return [
        ("wsrep_local_state", str(state)),
        ("wsrep_local_state_comment", comment),
        ("wsrep_ready", ready),
        ("wsrep_cluster_status", status),
        ("wsrep_cluster_size", str(size)),
        ("wsrep_last_committed", "1234"),
    ]


# (id, rows, ready, in_transfer, alive)
CASES = [
    ("synced-primary", rows(4, "Synced"), True, False, True),
    ("joiner-in-sst", rows(1, "Joining: receiving State Transfer", ready="OFF"), False, True, True),
    ("donor", rows(2, "Donor/Desynced"), False, True, True),
    ("joined-catching-up-by-ist", rows(3, "Joined"), False, True, True),
    (
        "non-primary-after-split",
        rows(4, "Synced", ready="OFF", status="non-Primary", size=1),
        False,
        False,
        False,
    ),
    ("wsrep-not-ready", rows(4, "Synced", ready="OFF"), False, False, False),
    ("initialized-only", rows(0, "Initialized", ready="OFF", status="Disconnected"), False, False, False),
    ("wsrep-off-no-rows", [], False, False, False),
    (
        "bytes-values-from-the-driver",
        [(b"wsrep_local_state", b"4"), (b"wsrep_ready", b"ON"), (b"wsrep_cluster_status", b"Primary")],
        True,
        False,
        True,
    ),
    (
        "garbage-numbers",
        [("wsrep_local_state", "x"), ("wsrep_ready", "ON"), ("wsrep_cluster_status", "Primary")],
        False,
        False,
        False,
    ),
]


@pytest.mark.parametrize(
    ("data", "ready", "in_transfer", "alive"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_interpret(data: list, ready: bool, in_transfer: bool, alive: bool) -> None:
    node = health.interpret(data)
    assert (node.ready, node.in_transfer, health.alive(node)) == (ready, in_transfer, alive)


def test_all_fields_from_a_synced_node() -> None:
    node = health.interpret(dict(rows(4, "Synced", size=5)))
    assert node == health.NodeHealth(
        ready=True,
        primary=True,
        synced=True,
        in_transfer=False,
        state_comment="Synced",
        cluster_size=5,
        seqno=1234,
    )
    assert node.to_dict()["cluster_size"] == 5


def test_missing_counters_have_safe_defaults() -> None:
    node = health.interpret([("wsrep_ready", "ON")])
    assert (node.cluster_size, node.seqno, node.primary) == (0, -1, False)
