"""Fixtures of the scheduler simulation tests (the harness itself is `simulation.py`)."""

from __future__ import annotations

import pytest
from simulation import Sim


@pytest.fixture
def sim() -> Sim:
    return Sim()
