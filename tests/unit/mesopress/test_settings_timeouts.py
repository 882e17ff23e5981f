"""The scheduler core's timeouts: defaults, flags, environment, file and validation."""

from __future__ import annotations

import pytest

from mesopress import settings


def test_defaults() -> None:
    built, errors = settings.build({}, {})
    assert errors == []
    assert (built.unreachable_timeout, built.reservation_timeout, built.reconcile_interval) == (600, 120, 300)


def test_flags_win_over_env_and_file() -> None:
    flags = settings.parse_flags(["--unreachable-timeout", "30", "--reconcile-interval", "60"])
    env = {"MESOPRESS_UNREACHABLE_TIMEOUT": "40", "MESOPRESS_RESERVATION_TIMEOUT": "50"}
    built, errors = settings.build(flags, env, {"reconcile_interval": 70, "reservation_timeout": 80})
    assert errors == []
    assert (built.unreachable_timeout, built.reservation_timeout, built.reconcile_interval) == (30, 50, 60)


@pytest.mark.parametrize("name", ["unreachable_timeout", "reservation_timeout", "reconcile_interval"])
def test_non_positive_is_refused(name: str) -> None:
    _, errors = settings.build({}, {}, {name: 0})
    assert any(e.startswith(f"{name}: must be positive") for e in errors)


def test_not_a_number_names_the_env_var() -> None:
    _, errors = settings.build({}, {"MESOPRESS_RESERVATION_TIMEOUT": "soon"})
    expected = "reservation_timeout: must be a number, e.g. 120 (flag or $MESOPRESS_RESERVATION_TIMEOUT)"
    assert errors == [expected]
