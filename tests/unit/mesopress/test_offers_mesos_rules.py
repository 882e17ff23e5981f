"""Our ACCEPTs checked against the Mesos rules localmesos implements (facts §3.3, §3.4).

The evaluator's output must be something a Mesos master applies without dropping an operation or
refusing a task: each RESERVE/CREATE/DESTROY/UNRESERVE is applied to the offer's pool by
``localmesos.operations`` and each task is validated against what is left.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mesopress.model.specs import CheckSpec, PodSpec, PortSpec, VolumeSpec
from mesopress.offers import evaluator, requests, samples

lops = pytest.importorskip("localmesos.operations")
lres = pytest.importorskip("localmesos.resources")
lproto = pytest.importorskip("localmesos.proto")

POD = PodSpec(
    "galera",
    3,
    1.0,
    2048,
    "run",
    ports=(PortSpec("sql", 3306), PortSpec("gcomm")),
    volumes=(VolumeSpec("mysql-data", 1024), VolumeSpec("logs", 10)),
    health_check=CheckSpec(kind="tcp", port="sql"),
    readiness_check=CheckSpec(command="probe"),
)
FRAMEWORK = lops.FrameworkContext(
    frozenset({"mesopress"}), "mesopress", frozenset({"MULTI_ROLE", "RESERVATION_REFINEMENT"})
)


def ctx(*footprints: requests.Footprint) -> requests.Context:
    return requests.Context("site", "mesopress", "mesopress", footprints, samples.counting_uuids())


def apply_accept(
    offer: dict[str, Any], accept: evaluator.Accept, volumes_on_agent: set[str] = frozenset()
) -> Any:
    """Parse the ACCEPT call strictly, then apply every operation like a master would; fail the test
    on any parse error, dropped operation or task error."""
    call = {
        "type": "ACCEPT",
        "framework_id": offer["framework_id"],
        "accept": {
            "offer_ids": [{"value": accept.offer_id}],
            "operations": list(accept.operations),
            "filters": {"refuse_seconds": accept.refuse_seconds},
        },
    }
    lproto.validate_call(lproto.parse_call(call))
    pool = lres.Resources(offer["resources"])
    for op in accept.operations:
        if op["type"] != "LAUNCH":
            pool = lops.apply(pool, op, FRAMEWORK, "mesopress", set(volumes_on_agent))
            continue
        for task in op["launch"]["task_infos"]:
            normalized = lops.normalize_task(task, "mesopress")
            assert lops.validate_task(normalized, pool, accept.agent_id, FRAMEWORK, set(), set()) is None
            pool = pool - lops.task_resources(normalized)
    return pool


def test_first_launch_is_accepted_by_mesos_rules() -> None:
    offer = samples.offer(1, ports=((3306, 3306), (31000, 31005)))
    [accept] = evaluator.evaluate([requests.launch(POD, 0, "galera-0__a")], [offer], ctx()).accepts
    apply_accept(offer, accept)


def test_relaunch_and_growth_are_accepted_by_mesos_rules() -> None:
    offer = samples.offer(1, ports=((3306, 3306), (31000, 31005)))
    [first] = evaluator.evaluate([requests.launch(POD, 0, "galera-0__a")], [offer], ctx()).accepts
    ops = {op["type"]: op for op in first.operations}
    held = [r for r in ops["RESERVE"]["reserve"]["resources"] if r["name"] != "disk"]
    later = samples.offer(2, agent=1, extra=held + ops["CREATE"]["create"]["volumes"])
    footprint = first.matches[0].footprint
    grown = dataclasses.replace(POD, cpus=2.0, mem=4096)
    for pod in (POD, grown):
        [accept] = evaluator.evaluate(
            [requests.relaunch(pod, footprint, "galera-0__b")], [later], ctx(footprint)
        ).accepts
        apply_accept(later, accept, set(footprint.persistence_ids.values()))


def test_clean_up_is_accepted_by_mesos_rules() -> None:
    volume = samples.volume(2048, "galera-0", "galera-0.disk.old", "site.galera-0.data.old")
    cpus = samples.reserved("cpus", 1.0, "galera-0", "galera-0.cpus.old")
    offer = samples.offer(1, extra=[volume, cpus])
    request = requests.launch(PodSpec("web", 1, 1.0, 64, "serve"), 0, "web-0__a")
    [accept] = evaluator.evaluate([request], [offer], ctx(), collect_garbage=True).accepts
    left = apply_accept(offer, accept, {"site.galera-0.data.old"})
    assert left.contains(lres.Resources(samples.offer(9, cpus=4.0, mem=8192 - 64, ports=())["resources"][:1]))
