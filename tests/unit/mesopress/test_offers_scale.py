"""Evaluation is correct on big inputs: one offer of 10,000 entries, and 10,000 offers.

Speed is shown by bench/scheduler_offers.py, not here.
"""

from __future__ import annotations

from mesopress.model.specs import PlacementSpec, PodSpec, PortSpec, VolumeSpec
from mesopress.offers import evaluator, operations, requests, samples

POD = PodSpec(
    "galera",
    3,
    1.0,
    1024,
    "run",
    ports=(PortSpec("sql"), PortSpec("gcomm")),
    volumes=(VolumeSpec("data", 1024),),
    placement=PlacementSpec(True, ()),
)


def ctx() -> requests.Context:
    return requests.Context("site", "mesopress", "mesopress", (), samples.counting_uuids())


def test_one_offer_with_ten_thousand_entries() -> None:
    extra = [samples.foreign("cpus", 0.001, label_service=f"svc{i}") for i in range(5000)]
    extra += [samples.reserved("mem", 1.0, f"galera-{i}", f"galera-{i}.mem.{i}") for i in range(5000)]
    offer = samples.offer(1, ports=tuple((p, p) for p in range(20000, 30000, 2)), extra=extra)
    assert len(offer["resources"]) >= 10000
    result = evaluator.evaluate(
        [requests.launch(POD, i, f"t{i}") for i in range(3)], [offer], ctx(), collect_garbage=True
    )
    [accept] = result.accepts
    assert len(accept.matches) == 1 and len(accept.garbage.reserved) == 5000
    assert accept.matches[0].footprint.ports == {"sql": 20000, "gcomm": 20002}


def test_ten_thousand_offers_most_of_which_do_not_fit() -> None:
    offers = [samples.offer(n, cpus=0.5) for n in range(1, 10001)]
    offers += [samples.offer(n) for n in range(10001, 10004)]
    result = evaluator.evaluate([requests.launch(POD, i, f"t{i}") for i in range(3)], offers, ctx())
    assert [a.agent_id for a in result.accepts] == [samples.agent_id(n) for n in (10001, 10002, 10003)]
    assert len(result.declines) == 10000


def test_relaunch_among_ten_thousand_offers_goes_straight_to_its_agent() -> None:
    disk = samples.volume(1024, "galera-0", "r-disk", "p-data", "data")
    held = [
        samples.reserved("cpus", 1.0, "galera-0", "r-cpus"),
        samples.reserved("mem", 1024, "galera-0", "r-mem"),
        samples.reserved_ports([31000, 31001], "galera-0", "r-ports"),
        disk,
    ]
    footprint = requests.Footprint(
        "galera-0",
        samples.agent_id(5000),
        resource_ids={"cpus": "r-cpus", "mem": "r-mem", "ports": "r-ports", "disk:data": "r-disk"},
        persistence_ids={"data": "p-data"},
        ports={"sql": 31000, "gcomm": 31001},
    )
    offers = [samples.offer(n, extra=held if n == 5000 else ()) for n in range(1, 10001)]
    result = evaluator.evaluate([requests.relaunch(POD, footprint, "t")], offers, ctx())
    [accept] = result.accepts
    assert accept.agent_id == samples.agent_id(5000)
    assert accept.operations == (operations.make("LAUNCH", [accept.matches[0].task_info]),)
