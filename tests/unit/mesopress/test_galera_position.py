"""Parsing positions from grastate.dat, `--wsrep-recover` logs and stored records: total, never a guess."""

from __future__ import annotations

import pytest

from mesopress.galera import position
from mesopress.galera.position import ZERO_UUID, Position, Unknown

UUID = "8a6d5a3c-ad2f-11ee-9b1c-2f6b3c1e0f01"

GRASTATE = [
    (
        "clean-shutdown",
        f"# GALERA saved state\nversion: 2.1\nuuid:    {UUID}\nseqno:   42\nsafe_to_bootstrap: 1\n",
        Position(UUID, 42, True),
    ),
    (
        "crashed-seqno-minus-one",
        f"version: 2.1\nuuid: {UUID}\nseqno: -1\nsafe_to_bootstrap: 0\n",
        Position(UUID, -1),
    ),
    ("never-joined", f"uuid: {ZERO_UUID}\nseqno: -1\n", Position(ZERO_UUID, -1)),
    ("upper-case-uuid", f"uuid: {UUID.upper()}\nseqno: 7\n", Position(UUID, 7)),
    ("no-safe-to-bootstrap-line", f"uuid: {UUID}\nseqno: 3\n", Position(UUID, 3)),
    ("empty-file", "", Unknown("grastate.dat has no uuid or no seqno")),
    ("truncated", f"uuid: {UUID}\n", Unknown("grastate.dat has no uuid or no seqno")),
    ("garbage-seqno", f"uuid: {UUID}\nseqno: 4x2\n", None),
    ("short-uuid", "uuid: 8a6d5a3c\nseqno: 4\n", None),
    (
        "commented-out-values",
        f"# uuid: {UUID}\n# seqno: 5\n",
        Unknown("grastate.dat has no uuid or no seqno"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in GRASTATE], ids=[c[0] for c in GRASTATE])
def test_parse_grastate(text: str, expected: Position | Unknown | None) -> None:
    parsed = position.parse_grastate(text)
    if expected is None:
        assert isinstance(parsed, Unknown) and parsed.reason.startswith("grastate.dat: not a <uuid>:<seqno>")
    else:
        assert parsed == expected


LOG_LINE = "2026-11-28  1:02:03 0 [Note] WSREP: Recovered position: {}"
RECOVER_LOG = [
    ("with-colon", LOG_LINE.format(f"{UUID}:17"), Position(UUID, 17)),
    ("without-colon", f"[Note] WSREP: Recovered position {UUID}:18", Position(UUID, 18)),
    ("last-line-wins", LOG_LINE.format(f"{UUID}:1") + "\n" + LOG_LINE.format(f"{UUID}:2"), Position(UUID, 2)),
    ("with-gtid-suffix", LOG_LINE.format(f"{UUID}:9,0-1-9"), Position(UUID, 9)),
    ("empty-datadir", LOG_LINE.format(f"{ZERO_UUID}:-1"), Position(ZERO_UUID, -1)),
    (
        "no-line",
        "[ERROR] InnoDB: corruption\n",
        Unknown("no 'WSREP: Recovered position' line in the recovery log"),
    ),
    (
        "garbled-line",
        LOG_LINE.format("zz:??"),
        Unknown("recovery log: not a <uuid>:<seqno> position: 'zz:??'"),
    ),
    ("cut-off-line", "[Note] WSREP: Recovered position: ", None),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in RECOVER_LOG], ids=[c[0] for c in RECOVER_LOG])
def test_parse_recover_log(text: str, expected: Position | Unknown | None) -> None:
    parsed = position.parse_recover_log(text)
    if expected is None:
        assert isinstance(parsed, Unknown)
    else:
        assert parsed == expected


USABLE = [
    ("real-position", Position(UUID, 5), True),
    ("seqno-zero-is-a-real-start", Position(UUID, 0), True),
    ("seqno-minus-one", Position(UUID, -1), False),
    ("all-zero-uuid", Position(ZERO_UUID, 12), False),
    ("unknown", Unknown("x"), False),
    ("not-reported", None, False),
]


@pytest.mark.parametrize(("reading", "expected"), [c[1:] for c in USABLE], ids=[c[0] for c in USABLE])
def test_usable(reading: Position | Unknown | None, expected: bool) -> None:
    assert position.usable(reading) is expected


RECORDS = [
    ("position", {"uuid": UUID, "seqno": 4}, Position(UUID, 4)),
    ("unknown", {"unknown": "timed out"}, Unknown("timed out")),
    ("seqno-as-text", {"uuid": UUID, "seqno": "4"}, None),
    ("seqno-as-bool", {"uuid": UUID, "seqno": True}, None),
    ("not-a-dict", ["x"], None),
    ("bad-uuid", {"uuid": "nope", "seqno": 4}, None),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in RECORDS], ids=[c[0] for c in RECORDS])
def test_from_dict_never_raises(data: object, expected: Position | Unknown | None) -> None:
    parsed = position.from_dict(data)
    assert parsed == expected if expected is not None else isinstance(parsed, Unknown)


@pytest.mark.parametrize("reading", [Position(UUID, 3, True), Unknown("why")], ids=["position", "unknown"])
def test_to_dict_round_trips(reading: Position | Unknown) -> None:
    assert position.from_dict(reading.to_dict()) == reading


SAFE = [
    (
        "flip-zero-to-one",
        "uuid: u\nseqno: -1\nsafe_to_bootstrap: 0\n",
        True,
        "uuid: u\nseqno: -1\nsafe_to_bootstrap: 1\n",
    ),
    ("flip-one-to-zero", "uuid: u\nsafe_to_bootstrap: 1\n", False, "uuid: u\nsafe_to_bootstrap: 0\n"),
    (
        "add-missing-line",
        "# GALERA saved state\nuuid: u\n",
        True,
        "# GALERA saved state\nuuid: u\nsafe_to_bootstrap: 1\n",
    ),
]


@pytest.mark.parametrize(("text", "safe", "expected"), [c[1:] for c in SAFE], ids=[c[0] for c in SAFE])
def test_with_safe_to_bootstrap(text: str, safe: bool, expected: str) -> None:
    assert position.with_safe_to_bootstrap(text, safe) == expected


def test_position_prints_as_start_position() -> None:
    assert str(Position(UUID, 12)) == f"{UUID}:12"
    assert position.parse(str(Position(UUID, 12))) == Position(UUID, 12)
