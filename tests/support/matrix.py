"""Full from-by-to transition matrices for our state machines, written as text tables in the tests.

Each row is a state code, each column an event; a cell is `.` (NOOP), `!` (ILLEGAL) or the code of the
state the transition must lead to (SUCCESS). Aurora's `testAllTransitions` is the model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mesopress.machines.result import Kind


def parse(table: str, codes: Mapping[str, Any]) -> list[tuple[Any, str, str]]:
    """(state, event column, cell) for every cell of `table`, whose first line names the columns."""
    (_, *columns), *rows = (line.split() for line in table.strip().splitlines())
    return [(codes[row[0]], col, cell) for row in rows for col, cell in zip(columns, row[1:], strict=True)]


def check(
    transition: Callable[[Any, Any, float], Any],
    before: Any,
    event: Any,
    now: float,
    cell: str,
    codes: Mapping[str, Any],
) -> None:
    """Assert that `transition(before, event, now)` does what `cell` says, and nothing else."""
    result = transition(before, event, now)
    expected_kind = {".": Kind.NOOP, "!": Kind.ILLEGAL}.get(cell, Kind.SUCCESS)
    assert result.kind is expected_kind, result.reason
    assert result.reason
    if expected_kind is Kind.SUCCESS:
        assert result.state.status is codes[cell]
    else:
        assert result.state == before and result.effects == ()
