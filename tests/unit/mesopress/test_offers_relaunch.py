"""Relaunch on an existing reservation and permanent replacement elsewhere."""

from __future__ import annotations

import dataclasses
from typing import Any

from mesopress.model.specs import PlacementSpec, PodSpec, PortSpec, VolumeSpec
from mesopress.offers import evaluator, labels, requests, samples

GALERA = PodSpec(
    name="galera",
    count=3,
    cpus=1.0,
    mem=2048,
    command="exec mysqld",
    ports=(PortSpec("sql"), PortSpec("gcomm")),
    volumes=(VolumeSpec("mysql-data", 10240), VolumeSpec("logs", 100)),
    placement=PlacementSpec(True, ()),
)


def ctx(*footprints: requests.Footprint) -> requests.Context:
    return requests.Context("site", "mesopress", "mesopress", footprints, samples.counting_uuids("n"))


def first_launch() -> evaluator.Match:
    first = requests.Context("site", "mesopress", "mesopress", (), samples.counting_uuids())
    result = evaluator.evaluate([requests.launch(GALERA, 0, "galera-0__t0")], [samples.offer(1)], first)
    return result.accepts[0].matches[0]


def offer_after(match: evaluator.Match, n: int, agent: int, **kw: Any) -> dict[str, Any]:
    """A later offer as Mesos shows it once the task ended: the reservations and volumes come back."""
    ops = {op["type"]: op for op in match.operations}
    reserved = [r for r in ops["RESERVE"]["reserve"]["resources"] if r["name"] != "disk"]
    return samples.offer(n, agent=agent, extra=reserved + ops["CREATE"]["create"]["volumes"], **kw)


def relaunch(footprint: requests.Footprint, pod: PodSpec = GALERA) -> requests.Request:
    return requests.relaunch(pod, footprint, "galera-0__t1")


def test_relaunch_is_launch_only_on_the_same_reservation_and_volumes() -> None:
    match = first_launch()
    result = evaluator.evaluate(
        [relaunch(match.footprint)], [offer_after(match, 7, agent=1)], ctx(match.footprint)
    )
    [accept] = result.accepts
    assert [op["type"] for op in accept.operations] == ["LAUNCH"]
    [task] = accept.operations[0]["launch"]["task_infos"]
    first_resources = match.task_info["resources"]
    assert [r["reservations"] for r in task["resources"]] == [r["reservations"] for r in first_resources]
    volumes = [r["disk"]["persistence"]["id"] for r in task["resources"] if "disk" in r]
    assert volumes == ["site.galera-0.mysql-data.u4", "site.galera-0.logs.u6"]
    assert accept.matches[0].footprint == match.footprint
    assert task["task_id"] == {"value": "galera-0__t1"}


def test_relaunch_keeps_its_ports() -> None:
    match = first_launch()
    result = evaluator.evaluate(
        [relaunch(match.footprint)], [offer_after(match, 7, agent=1)], ctx(match.footprint)
    )
    task = result.accepts[0].matches[0].task_info
    env = {v["name"]: v["value"] for v in task["command"]["environment"]["variables"]}
    assert (env["PORT_SQL"], env["PORT_GCOMM"]) == ("31000", "31001")


def test_relaunch_follows_the_reservation_to_a_new_agent_id() -> None:
    match = first_launch()
    offers = [samples.offer(1), offer_after(match, 8, agent=42)]  # agent 1 rebooted as agent 42
    result = evaluator.evaluate([relaunch(match.footprint)], offers, ctx(match.footprint))
    [accept] = result.accepts
    assert accept.agent_id == samples.agent_id(42)
    assert accept.matches[0].footprint.agent_id == samples.agent_id(42)
    assert accept.matches[0].footprint.persistence_ids == match.footprint.persistence_ids


def test_relaunch_waits_when_no_offer_holds_the_reservation() -> None:
    match = first_launch()
    result = evaluator.evaluate(
        [relaunch(match.footprint)], [samples.offer(2), samples.offer(3)], ctx(match.footprint)
    )
    assert result.accepts == ()
    assert result.refusals["galera-0"][0].reasons == ("no offer holds the reservation of galera-0",)
    assert {d.refuse_seconds for d in result.declines} == {15.0}


def test_relaunch_refused_when_a_volume_is_missing() -> None:
    match = first_launch()
    offer = offer_after(match, 7, agent=1)
    offer["resources"] = [
        r
        for r in offer["resources"]
        if (r.get("disk") or {}).get("volume", {}).get("container_path") != "logs"
    ]
    result = evaluator.evaluate([relaunch(match.footprint)], [offer], ctx(match.footprint))
    [refusal] = result.refusals["galera-0"]
    assert refusal.reasons == ("volumes of galera-0 not in offer: logs (site.galera-0.logs.u6)",)


def test_relaunch_grows_cpus_by_reserving_the_difference_with_the_same_labels() -> None:
    match = first_launch()
    bigger = dataclasses.replace(GALERA, cpus=1.5)
    result = evaluator.evaluate(
        [relaunch(match.footprint, bigger)], [offer_after(match, 7, agent=1)], ctx(match.footprint)
    )
    [accept] = result.accepts
    assert [op["type"] for op in accept.operations] == ["RESERVE", "LAUNCH"]
    [grow] = accept.operations[0]["reserve"]["resources"]
    assert grow["scalar"] == {"value": 0.5}
    assert grow["reservations"] == match.task_info["resources"][0]["reservations"]
    task_cpus = accept.matches[0].task_info["resources"][0]
    assert task_cpus["scalar"] == {"value": 1.5}


def test_relaunch_refused_when_growth_does_not_fit() -> None:
    match = first_launch()
    bigger = dataclasses.replace(GALERA, cpus=10.0)
    result = evaluator.evaluate(
        [relaunch(match.footprint, bigger)], [offer_after(match, 7, agent=1)], ctx(match.footprint)
    )
    assert result.refusals["galera-0"][0].reasons == (
        "holds 1 cpus, needs 10: not enough unreserved cpus to grow",
    )


def test_replacement_avoids_the_failed_agent_and_gets_new_ids() -> None:
    match = first_launch()
    old = match.footprint
    offers = [offer_after(match, 7, agent=1), samples.offer(8, agent=2)]
    replace = requests.replace(GALERA, old, "galera-0__t2")
    result = evaluator.evaluate([replace], offers, ctx(old))
    [accept] = result.accepts
    new = accept.matches[0].footprint
    assert accept.agent_id == samples.agent_id(2)
    assert [op["type"] for op in accept.operations] == ["RESERVE", "CREATE", "LAUNCH"]
    assert set(new.resource_ids.values()).isdisjoint(old.resource_ids.values())
    assert set(new.persistence_ids.values()).isdisjoint(old.persistence_ids.values())


def test_replacement_refuses_the_failed_host_even_under_a_new_agent_id() -> None:
    old = first_launch().footprint
    result = evaluator.evaluate(
        [requests.replace(GALERA, old, "galera-0__t2")], [samples.offer(9, agent=1)], ctx(old)
    )
    assert result.accepts == ()
    assert (
        result.refusals["galera-0"][0].reasons[0]
        == f"agent {samples.agent_id(1)} (node1) is the failed agent of galera-0"
    )


def test_replacement_ignores_its_own_old_footprint_for_placement() -> None:
    old = requests.Footprint("galera-0", samples.agent_id(1), "node1")
    sibling = requests.Footprint("galera-1", samples.agent_id(3), "node3")
    offers = [samples.offer(3), samples.offer(2)]
    result = evaluator.evaluate([requests.replace(GALERA, old, "galera-0__t2")], offers, ctx(old, sibling))
    assert [a.agent_id for a in result.accepts] == [samples.agent_id(2)]


def test_labels_survive_a_round_trip() -> None:
    stack = labels.make_reservation("r", "p", "site", "galera-0", "rid")
    resource = {"name": "cpus", "reservations": [stack]}
    assert labels.owner(resource, "r", "site") == labels.Owner("galera-0", "rid")
    assert labels.owner(resource, "r", "shop") is None and labels.owner(resource, "x", "site") is None
