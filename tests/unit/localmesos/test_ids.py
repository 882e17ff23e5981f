"""ids: Mesos id formats and validateID rules (facts §0)."""

import re
import uuid

import pytest

from localmesos import ids


def test_master_id_is_a_random_uuid():
    first, second = ids.new_master_id(), ids.new_master_id()
    assert str(uuid.UUID(first)) == first
    assert first != second


def test_stream_id_is_a_random_uuid_within_128_bytes():
    stream = ids.new_stream_id()
    assert str(uuid.UUID(stream)) == stream
    assert len(stream.encode()) <= 128
    assert stream != ids.new_stream_id()


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, "M-0000"), (7, "M-0007"), (42, "M-0042"), (9999, "M-9999"), (12345, "M-12345")],
    ids=["first", "one-digit", "two-digits", "four-digits", "overflows-width"],
)
def test_framework_id_has_four_digit_counter(n, expected):
    assert ids.framework_id("M", n) == expected


def test_offer_and_agent_ids():
    assert ids.offer_id("M", 12) == "M-O12"
    assert ids.agent_id("M", 1) == "M-S1"
    assert ids.agent_id("M", 0) == "M-S0"


def test_generated_ids_are_valid_ids():
    master = ids.new_master_id()
    for value in (ids.framework_id(master, 3), ids.offer_id(master, 5), ids.agent_id(master, 9), master):
        assert ids.validate_id(value) is None
    assert re.fullmatch(r"[0-9a-f-]{36}-0003", ids.framework_id(master, 3))


@pytest.mark.parametrize(
    "value",
    ["a", "galera-0__a7f3", "x" * 255, "é" * 127, "with space", "dots.in.middle", "...", "a..b", "*"],
    ids=[
        "one-char",
        "typical",
        "max-length",
        "multibyte-at-limit",
        "space",
        "dots",
        "three-dots",
        "dotdot-inside",
        "star",
    ],
)
def test_valid_ids(value):
    assert ids.validate_id(value) is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "ID must not be empty"),
        ("x" * 256, "ID must not be greater than 255 characters"),
        ("é" * 128, "ID must not be greater than 255 characters"),
        (".", "'.' is disallowed"),
        ("..", "'..' is disallowed"),
        ("a/b", "'a/b' contains invalid characters"),
        ("/", "'/' contains invalid characters"),
        ("a\\b", "'a\\b' contains invalid characters"),
        ("tab\tid", "'tab\tid' contains invalid characters"),
        ("nl\n", "'nl\n' contains invalid characters"),
        ("nul\x00", "'nul\x00' contains invalid characters"),
        ("del\x7f", "'del\x7f' contains invalid characters"),
        (None, "ID must be a string"),
        (5, "ID must be a string"),
    ],
    ids=[
        "empty",
        "too-long",
        "too-many-bytes",
        "dot",
        "dotdot",
        "slash",
        "only-slash",
        "backslash",
        "tab",
        "newline",
        "nul",
        "del",
        "none",
        "int",
    ],
)
def test_invalid_ids(value, message):
    assert ids.validate_id(value) == message
