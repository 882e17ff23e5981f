"""RecordIO framing: exact bytes, incremental decoding across arbitrary splits, and malformed input."""

from __future__ import annotations

import json

import pytest

from localmesos import recordio


def test_encode_is_length_newline_record() -> None:
    assert recordio.encode(b'{"type":"HEARTBEAT"}') == b'20\n{"type":"HEARTBEAT"}'


def test_encode_counts_bytes_not_characters() -> None:
    record = "é".encode()
    assert recordio.encode(record) == b"2\n" + record


def test_encode_refuses_empty_record() -> None:
    with pytest.raises(recordio.RecordIOError):
        recordio.encode(b"")


def test_encode_json_is_compact() -> None:
    framed = recordio.encode_json({"type": "HEARTBEAT"})
    header, body = framed.split(b"\n", 1)
    assert int(header) == len(body)
    assert json.loads(body) == {"type": "HEARTBEAT"}


@pytest.mark.parametrize("split", [1, 2, 3, 5, 7, 100], ids=lambda n: f"slices-of-{n}")
def test_decoder_reassembles_records_split_anywhere(split: int) -> None:
    records = [b"a", b"hello", b"x" * 123, b'{"k":"v"}']
    stream = b"".join(recordio.encode(r) for r in records)
    decoder = recordio.Decoder()
    seen: list[bytes] = []
    for i in range(0, len(stream), split):
        seen.extend(decoder.feed(stream[i : i + split]))
    assert seen == records
    assert decoder.pending == b""


def test_decode_whole_stream() -> None:
    assert recordio.decode(b"1\na3\nbcd") == [b"a", b"bcd"]


@pytest.mark.parametrize(
    "data",
    [b"x\nabc", b"0\n", b"-1\nab", b"123456789012345678901\n", b"abc"],
    ids=["non-digit-header", "zero-length", "negative", "header-too-long", "garbage-without-newline"],
)
def test_decoder_rejects_malformed_headers(data: bytes) -> None:
    with pytest.raises(recordio.RecordIOError):
        recordio.Decoder().feed(data)


def test_decode_rejects_truncated_stream() -> None:
    with pytest.raises(recordio.RecordIOError, match="truncated"):
        recordio.decode(b"5\nab")
