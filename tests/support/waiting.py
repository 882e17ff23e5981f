"""Wait on a condition with a timeout: the only way our tests wait (no sleep-and-hope)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.05,
    message: str | Callable[[], str] = "",
) -> T:
    """Call `check` until it returns a truthy value and return that value; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"condition not met within {timeout}s: {text or check}")
        time.sleep(interval)


def wait_for(condition: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """`eventually` with the message given as what is awaited, e.g. wait_for(ready, what="the master")."""
    return eventually(condition, timeout, message=what)
