"""How long a crashed Galera node waits before it rejoins (mesopress.galera.rejoin)."""

from __future__ import annotations

import pytest

from mesopress.galera import rejoin


@pytest.mark.parametrize(
    "options, seconds",
    [
        ("", 5.0),
        ("gcache.size=64M", 5.0),
        ("evs.suspect_timeout=PT10S", 10.0),
        ("base_port=4567; evs.suspect_timeout = PT2.5S ;gcache.size=1G", 2.5),
        ("evs.suspect_timeout=PT1M30S", 90.0),
        ("evs.suspect_timeout=pt3s", 3.0),
        ("evs.suspect_timeout=5", 5.0),  # not a duration Galera reads: the default
        ("evs.suspect_timeout=PT", 5.0),
        ("xevs.suspect_timeout=PT9S", 5.0),  # another key that only ends the same way
    ],
)
def test_the_suspect_timeout_is_read_from_the_provider_options(options: str, seconds: float) -> None:
    assert rejoin.suspect_timeout(options) == seconds


@pytest.mark.parametrize(
    "age, new_cluster, options, wait",
    [
        (None, False, "", 0.0),  # clean exit last time: no stamp, no wait
        (0.5, False, "", 6.5),  # killed half a second ago: 5 s suspect + 2 s margin
        (3.0, False, "", 4.0),
        (7.0, False, "", 0.0),
        (60.0, False, "", 0.0),
        (1.0, True, "", 0.0),  # bootstrapping a new cluster: no peer holds the old incarnation
        (1.0, False, "evs.suspect_timeout=PT10S", 11.0),
        (-3.0, False, "", 7.0),  # a stamp from the future (clock set back): the whole wait
    ],
)
def test_the_wait_covers_the_eviction_of_the_old_incarnation(
    age: float | None, new_cluster: bool, options: str, wait: float
) -> None:
    assert rejoin.wait_seconds(age, new_cluster, options) == pytest.approx(wait)
