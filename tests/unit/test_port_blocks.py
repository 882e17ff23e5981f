"""tests/support/ports.py: blocks are free, reserved across callers, and never overlap."""

from __future__ import annotations

import socket

import pytest

from support import ports


def test_two_blocks_never_overlap_and_every_port_is_bindable() -> None:
    first = ports.free_port_block(20)
    second = ports.free_port_block(20)
    assert first + 20 <= second or second + 20 <= first
    assert all(ports.bindable(p, ("127.0.0.1",)) for p in range(first, first + 20))


def test_a_block_avoids_the_ephemeral_range() -> None:
    low, high = ports.ephemeral_range()
    first = ports.free_port_block(50)
    assert first + 49 < low or first > high


def test_a_bound_port_is_never_in_a_block(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        # only starts whose block covers the bound port are offered: none may be chosen
        monkeypatch.setattr(ports, "candidate_starts", lambda count: [taken - 1, taken])
        with pytest.raises(RuntimeError, match="no free block of 2"):
            ports.free_port_block(2, attempts=20)


def test_agent_ports_gives_agent_zero_its_range() -> None:
    first, text = ports.agent_ports(3, 10)
    assert text == f"[{first}-{first + 9}]"


def test_a_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="count must be >= 1"):
        ports.free_port_block(0)
