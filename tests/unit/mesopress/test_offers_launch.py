"""First launch: RESERVE, CREATE and LAUNCH in one ACCEPT, in the refined form of facts §2."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mesopress.model.specs import CheckSpec, PlacementSpec, PodSpec, PortSpec, VolumeSpec
from mesopress.offers import evaluator, labels, requests, samples

GALERA = PodSpec(
    name="galera",
    count=3,
    cpus=1.0,
    mem=2048,
    command="exec mysqld",
    ports=(PortSpec("sql", 3306), PortSpec("gcomm")),
    volumes=(VolumeSpec("mysql-data", 10240),),
    env=(("CLUSTER", "blog"),),
    user="mysql",
    readiness_check=CheckSpec(kind="command", command="probe --synced", interval=5),
    health_check=CheckSpec(kind="tcp", port="sql", max_failures=6),
)
PORTS = ((3306, 3306), (31000, 31010))


def ctx(*footprints: requests.Footprint) -> requests.Context:
    return requests.Context("site", "mesopress", "galera-fw", footprints, samples.counting_uuids())


def launch(index: int = 0, pod: PodSpec = GALERA) -> requests.Request:
    return requests.launch(pod, index, f"{pod.name}-{index}__t{index}")


def only_accept(result: evaluator.Evaluation) -> evaluator.Accept:
    assert len(result.accepts) == 1, result
    return result.accepts[0]


def test_one_accept_reserves_creates_and_launches_in_order() -> None:
    accept = only_accept(evaluator.evaluate([launch()], [samples.offer(1, ports=PORTS)], ctx()))
    assert [op["type"] for op in accept.operations] == ["RESERVE", "CREATE", "LAUNCH"]
    reserved = accept.operations[0]["reserve"]["resources"]
    assert [(r["name"], r.get("scalar", {}).get("value")) for r in reserved] == [
        ("cpus", 1.0),
        ("mem", 2048.0),
        ("ports", None),
        ("disk", 10240.0),
    ]
    for resource in reserved:
        assert resource["allocation_info"] == {"role": "mesopress"}
        [stack] = resource["reservations"]
        assert (stack["type"], stack["role"], stack["principal"]) == ("DYNAMIC", "mesopress", "galera-fw")
        assert labels.from_labels(stack["labels"])["mesopress_service"] == "site"
        assert labels.from_labels(stack["labels"])["mesopress_instance"] == "galera-0"


def test_every_reservation_has_its_own_resource_id_recorded_in_the_footprint() -> None:
    accept = only_accept(evaluator.evaluate([launch()], [samples.offer(1, ports=PORTS)], ctx()))
    footprint = accept.matches[0].footprint
    reserved = accept.operations[0]["reserve"]["resources"]
    rids = [labels.from_labels(r["reservations"][0]["labels"])["mesopress_resource_id"] for r in reserved]
    assert rids == ["galera-0.cpus.u0", "galera-0.mem.u1", "galera-0.ports.u2", "galera-0.disk-mysql-data.u3"]
    assert sorted(footprint.resource_ids.values()) == sorted(rids)
    assert footprint.persistence_ids == {"mysql-data": "site.galera-0.mysql-data.u4"}
    assert (footprint.agent_id, footprint.hostname, footprint.ports) == (
        samples.agent_id(1),
        "node1",
        {"sql": 3306, "gcomm": 31000},
    )
    assert requests.Footprint.from_dict(footprint.to_dict()) == footprint


def test_volume_is_created_from_the_reserved_disk_with_a_global_persistence_id() -> None:
    accept = only_accept(evaluator.evaluate([launch()], [samples.offer(1, ports=PORTS)], ctx()))
    disk = accept.operations[0]["reserve"]["resources"][3]
    [created] = accept.operations[1]["create"]["volumes"]
    assert created["reservations"] == disk["reservations"] and created["scalar"] == disk["scalar"]
    assert created["disk"] == {
        "persistence": {"id": "site.galera-0.mysql-data.u4", "principal": "galera-fw"},
        "volume": {"container_path": "mysql-data", "mode": "RW"},
    }


def test_task_uses_the_reserved_resources_and_the_volume() -> None:
    accept = only_accept(evaluator.evaluate([launch()], [samples.offer(1, ports=PORTS)], ctx()))
    [task] = accept.operations[2]["launch"]["task_infos"]
    reserved = accept.operations[0]["reserve"]["resources"]
    created = accept.operations[1]["create"]["volumes"]
    assert task["resources"] == reserved[:3] + created
    assert task["task_id"] == {"value": "galera-0__t0"} and task["agent_id"] == {"value": samples.agent_id(1)}
    assert (
        task["name"] == "galera-0" and task["command"]["user"] == "mysql" and task["command"]["shell"] is True
    )
    env = {v["name"]: v["value"] for v in task["command"]["environment"]["variables"]}
    assert env["PORT_SQL"] == "3306" and env["PORT_GCOMM"] == "31000" and env["CLUSTER"] == "blog"
    assert env["MESOPRESS_INSTANCE"] == "galera-0" and env["MESOPRESS_INDEX"] == "0"
    assert task["health_check"]["type"] == "TCP" and task["health_check"]["tcp"] == {"port": 3306}
    assert task["health_check"]["consecutive_failures"] == 6
    assert task["check"]["command"] == {"command": {"shell": True, "value": "probe --synced"}}


def test_caller_env_wins() -> None:
    request = requests.launch(GALERA, 0, "galera-0__x", env={"CLUSTER": "other", "PEERS": "a,b"})
    accept = only_accept(evaluator.evaluate([request], [samples.offer(1, ports=PORTS)], ctx()))
    env = accept.matches[0].task_info["command"]["environment"]["variables"]
    assert {"name": "CLUSTER", "value": "other"} in env and {"name": "PEERS", "value": "a,b"} in env


def test_refusal_lists_every_reason() -> None:
    small = samples.offer(1, cpus=0.5, mem=100, disk=10, ports=((31000, 31000),))
    result = evaluator.evaluate([launch()], [small], ctx())
    [refusal] = result.refusals["galera-0"]
    assert refusal.offer_id == samples.offer_id(1)
    assert refusal.reasons == (
        "needs 1 unreserved cpus, offer has 0.5",
        "needs 2048 unreserved mem, offer has 100",
        "needs ports sql=3306, gcomm=any, offer does not have them free",
        "needs 10240 MiB unreserved disk for volumes, offer has 10",
    )
    assert result.accepts == () and result.unmatched == (launch(),)


def test_first_offer_that_passes_wins_and_others_are_declined() -> None:
    offers = [samples.offer(1, cpus=0.1), samples.offer(2, ports=PORTS), samples.offer(3, ports=PORTS)]
    result = evaluator.evaluate([launch()], offers, ctx())
    assert only_accept(result).offer_id == samples.offer_id(2)
    assert [d.offer_id for d in result.declines] == [samples.offer_id(1), samples.offer_id(3)]
    assert all(d.refuse_seconds == 3600.0 for d in result.declines)  # nothing else is waiting


def test_instances_of_a_pod_spread_over_agents_and_wait_for_more() -> None:
    offers = [samples.offer(n, ports=PORTS) for n in (1, 2)]
    result = evaluator.evaluate([launch(0), launch(1), launch(2)], offers, ctx())
    assert [m.footprint.agent_id for a in result.accepts for m in a.matches] == [
        samples.agent_id(1),
        samples.agent_id(2),
    ]
    assert [r.instance for r in result.unmatched] == ["galera-2"]
    assert "already runs an instance of this pod" in result.refusals["galera-2"][0].reasons[0]


def test_two_pods_can_share_one_offer() -> None:
    web = PodSpec("wordpress", 1, 1.0, 512, "serve", ports=(PortSpec("http"),))
    result = evaluator.evaluate([launch(0), launch(0, web)], [samples.offer(1, ports=PORTS)], ctx())
    accept = only_accept(result)
    assert [op["type"] for op in accept.operations] == ["RESERVE", "CREATE", "LAUNCH"]
    assert len(accept.operations[2]["launch"]["task_infos"]) == 2
    assert accept.matches[1].footprint.ports == {"http": 31001}


def test_placement_uses_stored_footprints() -> None:
    pod = PodSpec("galera", 2, 1.0, 64, "x", placement=PlacementSpec(True, ()))
    placed = requests.Footprint("galera-0", samples.agent_id(1), "node1")
    result = evaluator.evaluate([launch(1, pod)], [samples.offer(1), samples.offer(2)], ctx(placed))
    assert only_accept(result).agent_id == samples.agent_id(2)


@pytest.mark.parametrize(
    "extra",
    [
        [samples.foreign("cpus", 8.0)],
        [samples.foreign("cpus", 8.0, label_service="shop")],
        [samples.reserved("cpus", 8.0, "galera-9", "galera-9.cpus.z")],
    ],
    ids=["static-reservation", "other-service", "our-unowned-reservation"],
)
def test_never_launches_on_reservations_it_did_not_make_for_this_launch(extra: list[dict[str, Any]]) -> None:
    offer = samples.offer(1, cpus=0.0, extra=extra, ports=PORTS)
    result = evaluator.evaluate([launch()], [offer], ctx())
    assert result.accepts == ()
    assert result.refusals["galera-0"][0].reasons == ("needs 1 unreserved cpus, offer has 0",)


def test_offers_of_another_role_are_declined_long_even_when_waiting() -> None:
    result = evaluator.evaluate(
        [launch()], [samples.offer(1, role="other"), samples.offer(2, cpus=0.1)], ctx()
    )
    assert result.refusals["galera-0"][0].reasons[0] == "offer is for role other, not mesopress"
    assert [(d.offer_id, d.refuse_seconds) for d in result.declines] == [
        (samples.offer_id(1), 3600.0),
        (samples.offer_id(2), 15.0),
    ]


def test_no_requests_declines_everything_for_long() -> None:
    result = evaluator.evaluate([], [samples.offer(n) for n in range(1, 4)], ctx())
    assert result.accepts == () and {d.refuse_seconds for d in result.declines} == {3600.0}
    assert len(result.declines) == 3


def test_duplicate_offer_ids_are_evaluated_once() -> None:
    result = evaluator.evaluate([], [samples.offer(1), samples.offer(1)], ctx())
    assert len(result.declines) == 1


@pytest.mark.parametrize(
    ("check", "health", "readiness"),
    [
        (
            CheckSpec(kind="http", port="sql", path="/ready"),
            {"type": "HTTP", "http": {"port": 3306, "path": "/ready"}},
            {"type": "HTTP", "http": {"port": 3306, "path": "/ready"}},
        ),
        (
            CheckSpec(kind="tcp", port="gcomm"),
            {"type": "TCP", "tcp": {"port": 31000}},
            {"type": "TCP", "tcp": {"port": 31000}},
        ),
        (
            CheckSpec(kind="command", command="true"),
            {"type": "COMMAND", "command": {"shell": True, "value": "true"}},
            {"type": "COMMAND", "command": {"command": {"shell": True, "value": "true"}}},
        ),
    ],
    ids=["http", "tcp", "command"],
)
def test_checks_point_at_the_chosen_ports(
    check: CheckSpec, health: dict[str, Any], readiness: dict[str, Any]
) -> None:
    pod = dataclasses.replace(GALERA, health_check=check, readiness_check=check)
    accept = only_accept(evaluator.evaluate([launch(0, pod)], [samples.offer(1, ports=PORTS)], ctx()))
    task = accept.matches[0].task_info
    assert {
        k: v for k, v in task["health_check"].items() if k in ("type", "http", "tcp", "command")
    } == health
    assert {k: v for k, v in task["check"].items() if k in ("type", "http", "tcp", "command")} == readiness
    assert task["health_check"]["grace_period_seconds"] == 60.0 and task["check"]["interval_seconds"] == 10.0


def test_explain_groups_reasons_over_offers() -> None:
    offers = [samples.offer(n, cpus=0.5, ports=PORTS) for n in (1, 2)] + [
        samples.offer(3, mem=10, ports=PORTS)
    ]
    result = evaluator.evaluate([launch()], offers, ctx())
    assert evaluator.explain(result.refusals["galera-0"]) == [
        "needs 1 unreserved cpus, offer has 0.5 (2 offers)",
        "needs 2048 unreserved mem, offer has 10 (1 offer)",
    ]
