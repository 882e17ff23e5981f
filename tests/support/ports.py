"""Blocks of consecutive free TCP ports for localmesos agents, so that suites can run concurrently.

Why it exists: a localmesos agent offers a ports range (agent i gets the spec's range shifted by
i * its size) and the tasks bind those ports for real. Fixed ranges in two suites run at once collide.
`free_port_block(n)` returns the first port of n consecutive ports that are free now and reserved for
this process:
- each port is bind-checked on 127.0.0.1 (and any other host given, e.g. the agents' loopback hosts);
- the start is random, in a high range outside the kernel's ephemeral range (so ports picked with
  port 0 or used by outgoing connections never land in a block later);
- a block is reserved across processes with an exclusive `flock` on a file in a shared directory, held
  until the process exits: a port a suite has reserved but not bound yet is not handed to another
  suite (the bind check alone cannot see it). A file whose lock is free belongs to a dead process and
  is removed.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import random
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO

LOW, HIGH = 20000, 65535  # the high range blocks are picked from (minus the ephemeral range)
RESERVATIONS = Path(tempfile.gettempdir()) / "mesopress-port-blocks"
_held: list[IO[str]] = []  # open, locked reservation files: the reservations live as long as we do


def ephemeral_range() -> tuple[int, int]:
    """The kernel's ephemeral (port 0 / outgoing connection) range; Linux's default if unreadable."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def candidate_starts(count: int) -> list[int]:
    """Every start s in [LOW, HIGH] whose block [s, s + count) avoids the ephemeral range."""
    eph_low, eph_high = ephemeral_range()
    starts = range(LOW, HIGH - count + 2)
    return [s for s in starts if s + count - 1 < eph_low or s > eph_high]


def bindable(port: int, hosts: Iterable[str]) -> bool:
    """True when a listening socket could bind `port` on every host now."""
    for host in hosts:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def _live_reservations() -> list[tuple[int, int]]:
    """(first, last) of every block reserved by a live process; stale files are removed."""
    live = []
    for path in RESERVATIONS.glob("*-*.block"):
        first, _, last = path.stem.partition("-")
        with contextlib.suppress(OSError), path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                live.append((int(first), int(last)))
                continue
            path.unlink()  # its owner is gone (we hold the lock while unlinking)
    return live


def free_port_block(count: int, hosts: Iterable[str] = ("127.0.0.1",), attempts: int = 200) -> int:
    """The first port of `count` consecutive ports, free on every host and reserved for this process.

    Raises RuntimeError naming the count when no block is found (then ask for fewer ports)."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    hosts = tuple(hosts)
    starts = candidate_starts(count)
    if not starts:
        raise RuntimeError(f"no {count} consecutive ports outside the ephemeral range: ask for fewer")
    RESERVATIONS.mkdir(mode=0o1777, exist_ok=True)
    with (RESERVATIONS / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one chooser at a time across processes
        taken = _live_reservations()
        for _ in range(attempts):
            start = random.choice(starts)
            last = start + count - 1
            if any(start <= end and first <= last for first, end in taken):
                continue
            if all(bindable(port, hosts) for port in range(start, last + 1)):
                return _reserve(start, last)
    raise RuntimeError(f"no free block of {count} consecutive ports after {attempts} attempts")


def _reserve(first: int, last: int) -> int:
    handle = (RESERVATIONS / f"{first}-{last}.block").open("w")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _held.append(handle)
    return first


@atexit.register
def _release() -> None:
    """Remove our reservation files at exit (a crashed process's files are removed by the next chooser)."""
    for handle in _held:
        with contextlib.suppress(OSError):
            Path(handle.name).unlink()
            handle.close()


def agent_ports(agents: int, per_agent: int, hosts: Iterable[str] = ("127.0.0.1",)) -> tuple[int, str]:
    """(first port, "[first-last]" for agent 0) for a cluster whose agent i gets the range shifted by
    i * per_agent (localmesos' rule): the whole agents * per_agent block is free and reserved."""
    first = free_port_block(agents * per_agent, hosts)
    return first, f"[{first}-{first + per_agent - 1}]"
