"""The three pipelines: which stages an offer must pass for each kind of request.

* first launch: our role, placement, then RESERVE cpus, mem, ports and disk and CREATE the volumes
  (the LAUNCH follows in the same ACCEPT);
* relaunch: our role, the offer holds the instance's labelled reservation (whatever the agent id now
  is), then LAUNCH on those resources and the same volumes; a pod whose cpus/mem grew reserves the
  difference;
* replacement: like a first launch with new ids, but never on the failed agent or host.

Compare Marathon's ``InstanceOpFactoryImpl`` (launch on a reservation, else reserve and create).
"""

from __future__ import annotations

from mesopress.offers import stages
from mesopress.offers.requests import Kind
from mesopress.offers.stages import Stage

_RESERVE_ALL: tuple[Stage, ...] = (
    stages.reserve_scalar("cpus"),
    stages.reserve_scalar("mem"),
    stages.reserve_ports,
    stages.create_volumes,
)

PIPELINES: dict[Kind, tuple[Stage, ...]] = {
    Kind.LAUNCH: (stages.check_role, stages.check_placement, *_RESERVE_ALL),
    Kind.RELAUNCH: (
        stages.check_role,
        stages.check_holder,
        stages.reuse_scalar("cpus"),
        stages.reuse_scalar("mem"),
        stages.reuse_ports,
        stages.reuse_volumes,
    ),
    Kind.REPLACE: (stages.check_role, stages.avoid_failed_agent, stages.check_placement, *_RESERVE_ALL),
}


def stages_for(kind: Kind) -> tuple[Stage, ...]:
    """The stages a request of ``kind`` runs, in order."""
    return PIPELINES[kind]
