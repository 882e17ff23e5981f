"""How long a crashed Galera node waits before it rejoins its cluster.

Why this module exists: a node that died without leaving (SIGKILL, OOM, a lost host) stays a member
of its peers' view until they suspect it, after `evs.suspect_timeout` (PT5S by default). Until then
no node of the cluster commits: that first stall cannot be avoided. If the relaunched node starts
while its peers still hold the old incarnation, the membership protocol goes round again. The
joiner's install timer expires (`install timer expired` in its log). Every commit in the cluster
stops a second time, for 3 to 8 s measured here (docs/galera.md, "Rejoin after a crash"). Waiting
until the old incarnation is surely gone removes the second stall and makes the node Synced sooner.

The task program (`tasks/galera_node.py`) stamps `<volume>/mesopress-alive` every second while mariadbd
runs and removes it on a clean exit. A stamp found at the next start means the previous run ended
without leaving the cluster, and its age says how long ago. The decision is here, pure; the task
does the file and the sleep.
"""

from __future__ import annotations

import re

SUSPECT_DEFAULT_S = 5.0  # Galera's evs.suspect_timeout default (PT5S)
MARGIN_S = 2.0  # the eviction's view change, the stamp's 1 s resolution
_SUSPECT = re.compile(r"(?:^|;)\s*evs\.suspect_timeout\s*=\s*([^;]+)")
_DURATION = re.compile(r"^PT(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$", re.IGNORECASE)


def suspect_timeout(provider_options: str) -> float:
    """`evs.suspect_timeout` in seconds from a `wsrep_provider_options` string (ISO 8601 PTnS/PTnMnS as
    Galera takes it), the default when it is absent or unreadable."""
    found = _SUSPECT.search(provider_options or "")
    duration = _DURATION.match(found.group(1).strip()) if found else None
    if not duration or not any(duration.groups()):
        return SUSPECT_DEFAULT_S
    minutes, seconds = (float(part or 0) for part in duration.groups())
    return minutes * 60 + seconds


def wait_seconds(stamp_age: float | None, new_cluster: bool, provider_options: str = "") -> float:
    """Seconds to wait before mariadbd starts: 0 after a clean exit (no stamp), for a node that
    bootstraps a new cluster (no peer holds it), or once the old incarnation is surely evicted."""
    if stamp_age is None or new_cluster:
        return 0.0
    return max(0.0, suspect_timeout(provider_options) + MARGIN_S - max(stamp_age, 0.0))
