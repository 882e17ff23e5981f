"""RecordIO framing of the scheduler event stream: ``<decimal length>\\n<record bytes>``, repeated.

Why this module exists: the SUBSCRIBE response body is a sequence of records inside an HTTP chunked body,
and both sides (the server writing events, tests reading them) must agree on the exact framing Mesos uses
(stout ``recordio::encode``; facts §1.2): no separator after a record, length in ASCII, never 0, and
record boundaries independent of chunk boundaries.
"""

from __future__ import annotations

import json
from typing import Any


class RecordIOError(ValueError):
    """The byte stream is not valid RecordIO."""


def encode(record: bytes) -> bytes:
    """Frame one record: ``b"<len>\\n" + record``. Empty records are not allowed (Mesos never sends one)."""
    if not record:
        raise RecordIOError("a RecordIO record must not be empty")
    return str(len(record)).encode("ascii") + b"\n" + record


def encode_json(event: dict[str, Any]) -> bytes:
    """Frame one event as compact JSON."""
    return encode(json.dumps(event, separators=(",", ":")).encode("utf-8"))


class Decoder:
    """Incremental decoder: feed arbitrary byte slices, get back the complete records seen so far."""

    MAX_HEADER = 20  # digits of a uint64

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        records: list[bytes] = []
        while True:
            record = self._next()
            if record is None:
                return records
            records.append(record)

    def _next(self) -> bytes | None:
        newline = self._buffer.find(b"\n")
        if newline < 0:
            if len(self._buffer) > self.MAX_HEADER or not self._buffer.isdigit() and self._buffer:
                raise RecordIOError(f"bad RecordIO length header {self._buffer[:30]!r}")
            return None
        header = self._buffer[:newline]
        if not header.isdigit() or len(header) > self.MAX_HEADER:
            raise RecordIOError(f"bad RecordIO length header {header[:30]!r}")
        length = int(header)
        if length == 0:
            raise RecordIOError("RecordIO record of length 0")
        end = newline + 1 + length
        if len(self._buffer) < end:
            return None
        record = self._buffer[newline + 1 : end]
        self._buffer = self._buffer[end:]
        return record

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet forming a complete record."""
        return self._buffer


def decode(data: bytes) -> list[bytes]:
    """Decode a complete RecordIO byte string; raise RecordIOError if it ends mid-record."""
    decoder = Decoder()
    records = decoder.feed(data)
    if decoder.pending:
        raise RecordIOError(f"truncated RecordIO stream: {len(decoder.pending)} bytes left over")
    return records
