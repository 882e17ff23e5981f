"""Tests of the localmesos master against the Mesos behaviour of mesos-facts.md, driven with call dicts,
a fake clock and fake agents (no sleeps, no HTTP)."""

from __future__ import annotations

import json

import pytest
from fakes import (
    PRINCIPAL,
    ROLE,
    FakeAgent,
    Framework,
    Harness,
    agent_info,
    framework_info,
    reservation,
    scalar,
    subscribe_call,
    task_info,
    volume,
)

from localmesos.master import AgentRefused, CallError
from localmesos.resources import Resources

UUID1 = "AAAAAAAAAAAAAAAAAAAAAQ=="
UUID2 = "AAAAAAAAAAAAAAAAAAAAAg=="


@pytest.fixture
def h(tmp_path):
    return Harness(tmp_path)


def pod_resources(label: str = "pod-0", cpus: float = 1, mem: float = 512, disk: float = 1000):
    r = reservation(label=label)
    return [scalar("cpus", cpus, r), scalar("mem", mem, r), scalar("disk", disk, r)]


def reserve_create_launch(agent_id: str, task_id: str = "t1", vol: str = "vol-1", label: str = "pod-0"):
    r = reservation(label=label)
    task_res = [scalar("cpus", 1, r), scalar("mem", 512, r), volume(1000, vol, r)]
    return [
        {"type": "RESERVE", "reserve": {"resources": pod_resources(label)}},
        {"type": "CREATE", "create": {"volumes": [volume(1000, vol, r)]}},
        {"type": "LAUNCH", "launch": {"task_infos": [task_info(task_id, agent_id, task_res)]}},
    ]


def launch(agent_id: str, task_id: str, res: list[dict]) -> dict:
    return {"type": "LAUNCH", "launch": {"task_infos": [task_info(task_id, agent_id, res)]}}


def plain(cpus: float = 1, mem: float = 128) -> list[dict]:
    return [scalar("cpus", cpus), scalar("mem", mem)]


def offered(offer: dict) -> Resources:
    return Resources(offer["resources"])


def start_task(h: Harness, fw: Framework, agent_id: str, task_id: str = "t1") -> None:
    offers = fw.offers() or _next_offers(h, fw)
    assert fw.accept(offers[:1], [launch(agent_id, task_id, plain())], filters={"refuse_seconds": 0}) == 202
    h.status(agent_id, fw, task_id, "TASK_RUNNING", UUID1)
    fw.events()


def _next_offers(h: Harness, fw: Framework) -> list[dict]:
    h.advance(h.config.allocation_interval)
    return fw.offers()


# --- SUBSCRIBE --------------------------------------------------------------------------------------


def test_subscribe_sends_subscribed_heartbeat_then_offers(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    events = fw.events()
    assert [e["type"] for e in events] == ["SUBSCRIBED", "HEARTBEAT", "OFFERS"]
    subscribed = events[0]["subscribed"]
    assert subscribed["framework_id"] == {"value": f"{h.master.master_id}-0000"}
    assert subscribed["heartbeat_interval_seconds"] == 15.0
    assert subscribed["master_info"]["id"] == h.master.master_id
    assert subscribed["master_info"]["address"] == {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": 5050}
    (offer,) = events[2]["offers"]["offers"]
    assert offer["agent_id"] == {"value": agent_id}
    assert offer["allocation_info"] == {"role": ROLE}
    assert offer["id"]["value"].startswith(f"{h.master.master_id}-O")
    assert offered(offer) == Resources.trusted(agent_info()["resources"]).allocate(ROLE)


def test_framework_ids_increment(h):
    first, second = h.subscribe(), h.subscribe(framework_info(name="other"))
    assert first.id == f"{h.master.master_id}-0000"
    assert second.id == f"{h.master.master_id}-0001"


def test_heartbeats_every_interval(h):
    fw = h.subscribe()
    fw.events()
    h.advance(14.9)
    assert fw.events("HEARTBEAT") == []
    h.advance(0.2)
    assert len(fw.events("HEARTBEAT")) == 1


def test_resubscribe_fails_over_old_stream_and_regenerates_offers(h):
    h.add_agent()
    fw = h.subscribe()
    old_offers = fw.offers()
    info = framework_info(id={"value": fw.id})
    new = Framework(h, h.master.subscribe(subscribe_call(info), None))
    assert fw.sub.closed
    assert fw.events() == [{"type": "ERROR", "error": {"message": "Framework failed over"}}]
    events = new.events()
    assert [e["type"] for e in events] == ["SUBSCRIBED", "HEARTBEAT", "OFFERS"]
    new_offers = events[2]["offers"]["offers"]
    assert {o["id"]["value"] for o in new_offers}.isdisjoint({o["id"]["value"] for o in old_offers})
    assert new.sub.stream_id != fw.sub.stream_id


def test_resubscribe_with_other_principal_is_refused(h):
    fw = h.subscribe()
    info = framework_info(id={"value": fw.id}, principal="someone-else")
    sub = h.master.subscribe(subscribe_call(info), None)
    assert sub.closed
    assert sub.drain() == [
        {"type": "ERROR", "error": {"message": "Changing framework's principal is not allowed."}}
    ]
    assert not fw.sub.closed


def test_resubscribe_ignores_user_and_checkpoint_changes(h):
    fw = h.subscribe(framework_info(checkpoint=True))
    h.master.subscribe(
        subscribe_call(framework_info(id={"value": fw.id}, user="nobody", name="renamed")), None
    )
    (state,) = h.master.state()["frameworks"]
    assert (state["user"], state["checkpoint"], state["name"]) == ("root", True, "renamed")


def test_unknown_but_not_completed_id_is_accepted(h):
    sub = h.master.subscribe(subscribe_call(framework_info(id={"value": "old-master-0007"})), None)
    events = sub.drain()
    assert events[0]["subscribed"]["framework_id"] == {"value": "old-master-0007"}
    assert not sub.closed


def test_completed_framework_cannot_resubscribe(h):
    fw = h.subscribe()
    assert fw.call("TEARDOWN") == 202
    sub = h.master.subscribe(subscribe_call(framework_info(id={"value": fw.id})), None)
    assert sub.drain() == [{"type": "ERROR", "error": {"message": "Framework has been removed"}}]
    assert sub.closed


@pytest.mark.parametrize(
    "info, suppressed, message",
    [
        (framework_info(roles=("a//b",)), (), "cannot contain two adjacent slashes"),
        (framework_info(roles=("/a",)), (), "cannot start with a slash"),
        (framework_info(roles=("-a",)), (), "starts with a dash"),
        (framework_info(roles=("a b",)), (), "whitespace"),
        (framework_info(roles=("..",)), (), "cannot include '..'"),
        (framework_info(roles=("a", "a")), (), "duplicate"),
        (
            framework_info(caps=(), roles=()) | {"roles": ["a"]},
            (),
            "must not be set when the framework is not",
        ),
        (framework_info() | {"role": "a"}, (), "'FrameworkInfo.role' must not be set"),
        (framework_info(), ("other",), "Suppressed role 'other' is not contained"),
        (framework_info(failover_timeout=1e300), (), "Invalid failover_timeout"),
    ],
    ids=[
        "adjacent-slashes",
        "leading-slash",
        "leading-dash",
        "whitespace",
        "dotdot",
        "duplicate-roles",
        "roles-without-multi-role",
        "role-with-multi-role",
        "suppressed-not-subset",
        "failover-timeout-out-of-range",
    ],
)
def test_invalid_framework_info_gets_error_event(h, info, suppressed, message):
    sub = h.master.subscribe(subscribe_call(info, suppressed=suppressed), None)
    (event,) = sub.drain()
    assert event["type"] == "ERROR"
    assert message in event["error"]["message"]
    assert sub.closed
    assert h.master.state()["frameworks"] == []


def test_subscribe_with_star_role_is_valid(h):
    sub = h.master.subscribe(subscribe_call(framework_info(caps=(), roles=(), principal=None)), None)
    assert sub.drain()[0]["type"] == "SUBSCRIBED"


def test_authenticated_principal_mismatch_is_400(h):
    with pytest.raises(CallError) as err:
        h.master.subscribe(subscribe_call(framework_info()), "intruder")
    assert err.value.status == 400


def test_authenticated_principal_fills_missing_framework_principal(h):
    sub = h.master.subscribe(subscribe_call(framework_info(principal=None)), "galera-fw")
    assert sub.drain()[0]["type"] == "SUBSCRIBED"
    assert h.master.state()["frameworks"][0]["principal"] == "galera-fw"


def test_subscribe_with_suppressed_roles_gets_no_offers_until_revive(h):
    h.add_agent()
    fw = h.subscribe(suppressed=(ROLE,))
    assert fw.offers() == []
    h.advance(1)
    assert fw.offers() == []
    assert fw.call("REVIVE") == 202
    assert len(fw.offers()) == 1


# --- status codes -------------------------------------------------------------------------------------


def test_unknown_framework_is_400(h):
    with pytest.raises(CallError) as err:
        h.master.call({"type": "REVIVE", "framework_id": {"value": "nope"}}, "x", None)
    assert (err.value.status, err.value.message) == (400, "Framework cannot be found")


@pytest.mark.parametrize(
    "stream_id, principal, status",
    [(None, None, 400), ("wrong", None, 400), ("", "intruder", 400)],
    ids=["missing-stream-id", "wrong-stream-id", "principal-mismatch"],
)
def test_bad_caller_is_refused(h, stream_id, principal, status):
    fw = h.subscribe()
    with pytest.raises(CallError) as err:
        fw.call("REVIVE", stream_id=stream_id, principal=principal)
    assert err.value.status == status


def test_disconnected_framework_is_403(h):
    fw = h.subscribe(framework_info(failover_timeout=60))
    h.master.stream_closed(fw.sub)
    with pytest.raises(CallError) as err:
        fw.call("REVIVE")
    assert (err.value.status, err.value.message) == (403, "Framework is not subscribed")


def test_unknown_call_type_is_501(h):
    fw = h.subscribe()
    with pytest.raises(CallError) as err:
        fw.call("UNKNOWN")
    assert err.value.status == 501


@pytest.mark.parametrize(
    "call_type, body",
    [
        ("DECLINE", {"offer_ids": [{"value": "no-such-offer"}]}),
        ("ACCEPT", {"offer_ids": [{"value": "no-such-offer"}], "operations": []}),
        ("ACCEPT_INVERSE_OFFERS", {"inverse_offer_ids": [{"value": "x"}]}),
        ("DECLINE_INVERSE_OFFERS", {"inverse_offer_ids": [{"value": "x"}]}),
        ("REVIVE", None),
        ("SUPPRESS", {"roles": ["not-mine"]}),
        ("KILL", {"task_id": {"value": "t"}}),
        ("SHUTDOWN", {"executor_id": {"value": "e"}, "agent_id": {"value": "a"}}),
        ("ACKNOWLEDGE", {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": UUID1}),
        (
            "ACKNOWLEDGE_OPERATION_STATUS",
            {"agent_id": {"value": "a"}, "uuid": UUID1, "operation_id": {"value": "op"}},
        ),
        ("RECONCILE", {"tasks": []}),
        ("RECONCILE_OPERATIONS", {"operations": [{"operation_id": {"value": "op"}}]}),
        ("MESSAGE", {"agent_id": {"value": "a"}, "executor_id": {"value": "e"}, "data": "aGk="}),
        ("REQUEST", {"requests": []}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_accepted_calls_get_202(h, call_type, body):
    fw = h.subscribe()
    assert fw.call(call_type, body) == 202


def test_update_framework_gets_200_and_changes_roles(h):
    h.add_agent()
    fw = h.subscribe()
    (offer,) = fw.offers()
    info = framework_info(roles=("other",)) | {"id": {"value": fw.id}}
    assert fw.call("UPDATE_FRAMEWORK", {"framework_info": info}) == 200
    events = fw.events()
    assert {"type": "RESCIND", "rescind": {"offer_id": offer["id"]}} in events
    new_offers = [o for e in events if e["type"] == "OFFERS" for o in e["offers"]["offers"]]
    assert [o["allocation_info"]["role"] for o in new_offers] == ["other"]


@pytest.mark.parametrize(
    "change, message",
    [({"principal": "x"}, "principal"), ({"user": "x"}, "user"), ({"checkpoint": True}, "checkpoint")],
    ids=["principal", "user", "checkpoint"],
)
def test_update_framework_refuses_fixed_fields(h, change, message):
    fw = h.subscribe()
    info = framework_info() | {"id": {"value": fw.id}} | change
    with pytest.raises(CallError) as err:
        fw.call("UPDATE_FRAMEWORK", {"framework_info": info})
    assert err.value.status == 400
    assert message in err.value.message


@pytest.mark.parametrize(
    "body",
    [
        {"offer_ids": "junk", "operations": [None, 3, {"type": "LAUNCH"}]},
        {"offer_ids": [{"value": None}], "operations": [{"type": "RESERVE"}]},
        {"offer_ids": [], "operations": [{"type": "LAUNCH", "launch": {"task_infos": [{}]}}]},
    ],
    ids=["junk-ids", "null-offer-id", "empty-task"],
)
def test_garbage_accept_never_crashes(h, body):
    h.add_agent()
    fw = h.subscribe()
    assert fw.call("ACCEPT", body) == 202


# --- failover, teardown ---------------------------------------------------------------------------------


def test_failover_timeout_removes_framework_and_shuts_it_down(h):
    agent_id = h.add_agent()
    fw = h.subscribe(framework_info(failover_timeout=30))
    start_task(h, fw, agent_id)
    h.master.stream_closed(fw.sub)
    assert h.master.state()["frameworks"][0]["connected"] is False
    assert h.master.offers == {}
    h.advance(29)
    assert h.agents[agent_id].of("shutdown_framework") == []
    h.advance(2)
    assert h.agents[agent_id].of("shutdown_framework") == [("shutdown_framework", fw.id)]
    state = h.master.state()
    assert state["frameworks"] == []
    assert state["completed_frameworks"][0]["id"] == fw.id
    sub = h.master.subscribe(subscribe_call(framework_info(id={"value": fw.id})), None)
    assert sub.drain()[0]["error"]["message"] == "Framework has been removed"


def test_reconnect_before_failover_timeout_keeps_tasks(h):
    agent_id = h.add_agent()
    fw = h.subscribe(framework_info(failover_timeout=30))
    start_task(h, fw, agent_id)
    h.master.stream_closed(fw.sub)
    h.advance(10)
    new = Framework(h, h.master.subscribe(subscribe_call(framework_info(id={"value": fw.id})), None))
    h.advance(60)
    assert h.agents[agent_id].of("shutdown_framework") == []
    new.call("RECONCILE", {"tasks": []})
    assert [u["state"] for u in new.updates()] == ["TASK_RUNNING"]


def test_default_failover_timeout_is_zero(h):
    fw = h.subscribe()
    h.master.stream_closed(fw.sub)
    assert h.master.state()["completed_frameworks"][0]["id"] == fw.id


def test_teardown_kills_tasks_and_frees_resources(h):
    agent_id = h.add_agent("cpus:1;mem:128")
    fw = h.subscribe()
    start_task(h, fw, agent_id)
    other = h.subscribe(framework_info(name="other"))
    assert other.offers() == []
    assert fw.call("TEARDOWN") == 202
    assert fw.sub.closed
    assert ("shutdown_framework", fw.id) in h.agents[agent_id].calls
    completed = h.master.state()["completed_frameworks"][0]["completed_tasks"]
    assert [(t["id"], t["state"]) for t in completed] == [("t1", "TASK_KILLED")]
    h.advance(1)
    assert len(other.offers()) == 1


# --- offers, filters, revive, suppress ------------------------------------------------------------------


@pytest.mark.parametrize(
    "filters, reoffered_after",
    [
        (None, 5.0),
        ({"refuse_seconds": 0}, 1.0),
        ({"refuse_seconds": -3}, 5.0),
        ({"refuse_seconds": 0.2}, 1.0),
        ({"refuse_seconds": 30}, 30.0),
    ],
    ids=["default-5s", "zero-no-filter", "negative-default", "below-interval", "thirty-seconds"],
)
def test_decline_filter_lifetime(h, filters, reoffered_after):
    h.add_agent()
    fw = h.subscribe()
    assert fw.decline(fw.offers(), filters) == 202
    elapsed = 0.0
    while elapsed < reoffered_after - 1e-6:
        assert fw.offers() == [], f"re-offered after {elapsed}s"
        h.advance(1.0)
        elapsed += 1.0
    assert len(fw.offers()) == 1


def test_refuse_seconds_capped_at_a_year(h):
    h.add_agent()
    fw = h.subscribe()
    fw.decline(fw.offers(), {"refuse_seconds": 1e12})
    h.advance(365 * 24 * 3600 - 10)
    assert fw.offers() == []
    h.advance(11)
    assert len(fw.offers()) == 1


def test_filter_only_applies_to_subset_of_refused(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    (offer,) = fw.offers()
    fw.accept([offer], [launch(agent_id, "t1", plain(1, 128))], filters={"refuse_seconds": 100})
    h.advance(1)
    assert fw.offers() == []
    h.status(agent_id, fw, "t1", "TASK_FINISHED", UUID1)
    h.advance(1)
    (again,) = fw.offers()
    assert offered(again).scalar("cpus") == 4


def test_revive_clears_filters(h):
    h.add_agent()
    fw = h.subscribe()
    fw.decline(fw.offers(), {"refuse_seconds": 1000})
    h.advance(1)
    assert fw.offers() == []
    assert fw.call("REVIVE", {"roles": [ROLE]}) == 202
    assert len(fw.offers()) == 1


def test_suppress_then_revive(h):
    h.add_agent()
    fw = h.subscribe()
    fw.decline(fw.offers(), {"refuse_seconds": 0})
    assert fw.call("SUPPRESS") == 202
    h.advance(5)
    assert fw.offers() == []
    fw.call("REVIVE")
    assert len(fw.offers()) == 1


def test_suppress_with_unsubscribed_role_is_dropped(h):
    h.add_agent()
    fw = h.subscribe()
    fw.decline(fw.offers(), {"refuse_seconds": 0})
    fw.call("SUPPRESS", {"roles": [ROLE, "not-mine"]})
    h.advance(1)
    assert len(fw.offers()) == 1


def test_rescinded_and_disconnected_offers_come_back_without_filter(h):
    h.add_agent()
    fw = h.subscribe(framework_info(failover_timeout=100))
    fw.offers()
    h.master.stream_closed(fw.sub)
    new = Framework(h, h.master.subscribe(subscribe_call(framework_info(id={"value": fw.id})), None))
    assert len(new.offers()) == 1


def test_offer_timeout_rescinds(tmp_path):
    h = Harness(tmp_path, offer_timeout=10.0)
    h.add_agent()
    fw = h.subscribe()
    (offer,) = fw.offers()
    h.advance(10)
    events = fw.events()
    assert {"type": "RESCIND", "rescind": {"offer_id": offer["id"]}} in events


def test_two_frameworks_of_a_role_share_agents(h):
    h.add_agent()
    h.add_agent()
    first, second = h.subscribe(framework_info(name="a")), h.subscribe(framework_info(name="b"))
    first_offers = first.offers()
    second_offers = second.offers()
    assert len(first_offers) == 2 and second_offers == []
    first.decline(first_offers[1:], {"refuse_seconds": 0})
    h.advance(1)
    assert len(second.offers()) == 1


def test_offer_format_without_multi_role_and_refinement(h):
    agent_id = h.add_agent()
    fw = h.subscribe(framework_info(caps=("PARTITION_AWARE",)))
    (offer,) = fw.offers()
    assert "allocation_info" not in offer
    assert all("allocation_info" not in r and r["role"] == "*" for r in offer["resources"])
    r = {"role": ROLE, "reservation": {"principal": PRINCIPAL}}
    reserve = [scalar("cpus", 1) | r, scalar("mem", 64) | r]
    fw.accept([offer], [{"type": "RESERVE", "reserve": {"resources": reserve}}], {"refuse_seconds": 0})
    h.advance(1)
    (again,) = fw.offers()
    reserved = [x for x in again["resources"] if x["role"] == ROLE]
    assert {x["name"] for x in reserved} == {"cpus", "mem"}
    assert all(x["reservation"] == {"principal": PRINCIPAL} and "reservations" not in x for x in reserved)
    assert h.agents[agent_id].of("checkpoint_resources")


def test_min_allocatable_resources(h):
    h.add_agent("cpus:0.005;mem:31;disk:100")
    fw = h.subscribe()
    assert fw.offers() == []


def test_gpu_agents_only_for_gpu_frameworks(h):
    h.add_agent("cpus:1;mem:64;gpus:1")
    plain_fw = h.subscribe()
    assert plain_fw.offers() == []
    gpu_fw = h.subscribe(framework_info(name="gpu", caps=("MULTI_ROLE", "GPU_RESOURCES")))
    assert len(gpu_fw.offers()) == 1


# --- ACCEPT ---------------------------------------------------------------------------------------------


def test_reserve_create_launch_chain(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    assert fw.accept(fw.offers(), reserve_create_launch(agent_id)) == 202
    agent = h.agents[agent_id]
    checkpoints = agent.of("checkpoint_resources")
    assert len(checkpoints) == 2
    total = Resources(checkpoints[-1][1])
    assert total.reserved(ROLE).persistence_ids() == {"vol-1"}
    ((_, fid, task),) = agent.of("run_task")
    assert fid == fw.id and task["task_id"] == {"value": "t1"}
    assert all(r["allocation_info"] == {"role": ROLE} for r in task["resources"])
    (state,) = h.master.state()["frameworks"][0]["tasks"]
    assert state["state"] == "TASK_STAGING"
    assert fw.updates() == []


def test_volume_is_reoffered_on_same_agent_after_task_ends(h):
    agent_id = h.add_agent()
    h.add_agent()
    fw = h.subscribe()
    offers = fw.offers()
    mine = [o for o in offers if o["agent_id"]["value"] == agent_id]
    fw.accept(mine, reserve_create_launch(agent_id), {"refuse_seconds": 1000})
    fw.decline([o for o in offers if o not in mine], {"refuse_seconds": 1000})
    h.status(agent_id, fw, "t1", "TASK_RUNNING", UUID1)
    h.advance(1)
    assert fw.offers() == []
    h.status(agent_id, fw, "t1", "TASK_FAILED", UUID2)
    h.advance(1)
    (offer,) = fw.offers()
    assert offer["agent_id"]["value"] == agent_id
    vols = Resources(offer["resources"]).volumes()
    assert vols.persistence_ids() == {"vol-1"}
    assert Resources(offer["resources"]).reserved(ROLE).scalar("cpus") == 1


def test_terminal_ack_forgets_task(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    start_task(h, fw, agent_id)
    h.status(agent_id, fw, "t1", "TASK_FINISHED", UUID2)
    assert fw.updates()[0]["state"] == "TASK_FINISHED"
    ack = {"agent_id": {"value": agent_id}, "task_id": {"value": "t1"}, "uuid": UUID2}
    assert fw.call("ACKNOWLEDGE", ack) == 202
    assert ("acknowledge", fw.id, "t1", UUID2) in h.agents[agent_id].calls
    state = h.master.state()["frameworks"][0]
    assert state["tasks"] == []
    assert [t["state"] for t in state["completed_tasks"]] == ["TASK_FINISHED"]


def test_non_terminal_ack_keeps_task(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    start_task(h, fw, agent_id)
    fw.call("ACKNOWLEDGE", {"agent_id": {"value": agent_id}, "task_id": {"value": "t1"}, "uuid": UUID1})
    assert [t["state"] for t in h.master.state()["frameworks"][0]["tasks"]] == ["TASK_RUNNING"]


def test_destroy_and_unreserve_after_task_ends(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    fw.accept(fw.offers(), reserve_create_launch(agent_id), {"refuse_seconds": 0})
    h.status(agent_id, fw, "t1", "TASK_FINISHED", UUID1)
    h.advance(1)
    (offer,) = fw.offers()
    pool = Resources(offer["resources"])
    vol = pool.volumes().to_json()
    ops = [
        {"type": "DESTROY", "destroy": {"volumes": vol}},
        {"type": "UNRESERVE", "unreserve": {"resources": pod_resources()}},
    ]
    fw.accept([offer], ops, {"refuse_seconds": 0})
    final = Resources(h.agents[agent_id].of("checkpoint_resources")[-1][1])
    assert final.reserved().empty
    assert final == Resources(agent_info()["resources"])
    h.advance(1)
    (again,) = fw.offers()
    assert Resources(again["resources"]).reserved().empty


def test_destroy_of_volume_in_use_is_dropped(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    fw.accept(fw.offers(), reserve_create_launch(agent_id), {"refuse_seconds": 0})
    before = len(h.agents[agent_id].of("checkpoint_resources"))
    h.advance(1)
    offers = fw.offers()
    vol = volume(1000, "vol-1")
    vol["allocation_info"] = {"role": ROLE}
    fw.accept(offers, [{"type": "DESTROY", "destroy": {"volumes": [vol]}}])
    assert len(h.agents[agent_id].of("checkpoint_resources")) == before


def test_duplicate_persistence_id_is_dropped(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    fw.accept(fw.offers(), reserve_create_launch(agent_id)[:2], {"refuse_seconds": 0})
    h.advance(1)
    r = reservation(label="pod-1")
    ops = [
        {"type": "RESERVE", "reserve": {"resources": [scalar("disk", 100, r)]}},
        {"type": "CREATE", "create": {"volumes": [volume(100, "vol-1", r)]}},
    ]
    fw.accept(fw.offers(), ops, {"refuse_seconds": 0})
    final = Resources(h.agents[agent_id].of("checkpoint_resources")[-1][1])
    assert final.volumes().scalar("disk") == 1000
    assert final.reserved(ROLE).scalar("disk") == 1100


def test_reserve_with_wrong_principal_is_dropped_and_launch_on_it_fails(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    bad = reservation(principal="not-me")
    ops = [
        {"type": "RESERVE", "reserve": {"resources": [scalar("cpus", 1, bad)]}},
        launch(agent_id, "t1", [scalar("cpus", 1, bad)]),
    ]
    fw.accept(fw.offers(), ops)
    assert h.agents[agent_id].of("checkpoint_resources") == []
    assert h.agents[agent_id].of("run_task") == []
    (update,) = fw.updates()
    assert (update["state"], update["reason"], update["source"]) == (
        "TASK_ERROR",
        "REASON_TASK_INVALID",
        "SOURCE_MASTER",
    )
    assert "uuid" not in update


@pytest.mark.parametrize(
    "make_task, fragment",
    [
        (lambda a: task_info("t2", a, plain(100, 1)), ""),
        (lambda a: task_info("t2", "other-agent", plain()), "agent"),
        (lambda a: task_info("t1", a, plain()), "duplicate"),
        (lambda a: task_info("bad/id", a, plain()), ""),
        (lambda a: task_info("t2", a, []), ""),
    ],
    ids=["too-many-cpus", "wrong-agent", "duplicate-task-id", "invalid-id", "no-resources"],
)
def test_invalid_launch_gets_task_error(h, make_task, fragment):
    agent_id = h.add_agent()
    fw = h.subscribe()
    start_task(h, fw, agent_id)
    h.advance(1)
    offers = fw.offers()
    fw.accept(offers, [{"type": "LAUNCH", "launch": {"task_infos": [make_task(agent_id)]}}])
    (update,) = fw.updates()
    assert (update["state"], update["reason"]) == ("TASK_ERROR", "REASON_TASK_INVALID")
    assert fragment in update["message"].lower()
    assert len(h.agents[agent_id].of("run_task")) == 1


@pytest.mark.parametrize(
    "caps, state",
    [(("MULTI_ROLE",), "TASK_LOST"), (("MULTI_ROLE", "PARTITION_AWARE"), "TASK_DROPPED")],
    ids=["non-pa", "pa"],
)
def test_invalid_offer_loses_tasks_and_returns_valid_offers(h, caps, state):
    agent_id = h.add_agent()
    fw = h.subscribe(framework_info(caps=caps))
    (offer,) = fw.offers()
    body = {"offer_ids": [offer["id"], {"value": "gone"}], "operations": [launch(agent_id, "t1", plain())]}
    assert fw.call("ACCEPT", body) == 202
    (update,) = fw.updates()
    assert (update["state"], update["reason"], update["source"]) == (
        state,
        "REASON_INVALID_OFFERS",
        "SOURCE_MASTER",
    )
    assert "uuid" not in update
    assert h.master.offers == {}
    h.advance(1)
    assert len(fw.offers()) == 1, "the valid offer came back without a filter"


def test_offers_from_two_agents_cannot_be_aggregated(h):
    first, second = h.add_agent(), h.add_agent()
    fw = h.subscribe()
    offers = fw.offers()
    fw.accept(offers, [launch(first, "t1", plain())])
    (update,) = fw.updates()
    assert "single agent" in update["message"]
    assert h.agents[first].of("run_task") == [] and h.agents[second].of("run_task") == []


def test_used_offer_id_is_invalid_second_time(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    offers = fw.offers()
    fw.accept(offers, [])
    fw.accept(offers, [launch(agent_id, "t1", plain())])
    assert fw.updates()[0]["reason"] == "REASON_INVALID_OFFERS"


def test_operation_with_id_gets_operation_error(h):
    h.add_agent()
    fw = h.subscribe()
    op = {"type": "RESERVE", "id": {"value": "op-1"}, "reserve": {"resources": pod_resources()}}
    fw.accept(fw.offers(), [op])
    (event,) = fw.events("UPDATE_OPERATION_STATUS")
    status = event["update_operation_status"]["status"]
    assert status["operation_id"] == {"value": "op-1"} and status["state"] == "OPERATION_ERROR"
    assert "uuid" not in status and "agent_id" not in status


def test_launch_group_is_refused_with_task_error(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    group = {
        "type": "LAUNCH_GROUP",
        "launch_group": {"executor": {}, "task_group": {"tasks": [task_info("t1", agent_id, plain())]}},
    }
    fw.accept(fw.offers(), [group])
    (update,) = fw.updates()
    assert update["state"] == "TASK_ERROR"


def test_leftover_is_declined_with_accept_filters(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    fw.accept(fw.offers(), [launch(agent_id, "t1", plain())], {"refuse_seconds": 3})
    h.advance(1)
    h.advance(1)
    assert fw.offers() == []
    h.advance(1)
    (offer,) = fw.offers()
    assert offered(offer).scalar("cpus") == 3


def test_converted_resources_come_back_without_filter(h):
    h.add_agent()
    fw = h.subscribe()
    fw.accept(
        fw.offers(), [{"type": "RESERVE", "reserve": {"resources": pod_resources()}}], {"refuse_seconds": 100}
    )
    h.advance(1)
    (offer,) = fw.offers()
    assert Resources(offer["resources"]).reserved(ROLE).scalar("cpus") == 1
    assert Resources(offer["resources"]).unreserved().scalar("cpus") == 3


# --- status updates, kill, reconcile --------------------------------------------------------------------


def test_status_update_is_forwarded_and_dropped_when_disconnected(h):
    agent_id = h.add_agent()
    fw = h.subscribe(framework_info(failover_timeout=100))
    fw.accept(fw.offers(), [launch(agent_id, "t1", plain())])
    sent = h.status(agent_id, fw, "t1", "TASK_RUNNING", UUID1)
    assert fw.updates() == [sent]
    h.master.stream_closed(fw.sub)
    h.status(agent_id, fw, "t1", "TASK_FINISHED", UUID2)
    assert fw.sub.drain() == []
    assert h.master.state()["frameworks"][0]["tasks"][0]["state"] == "TASK_FINISHED"


def test_kill_known_task_is_forwarded_with_policy(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    start_task(h, fw, agent_id)
    policy = {"grace_period": {"nanoseconds": 5_000_000_000}}
    fw.call("KILL", {"task_id": {"value": "t1"}, "kill_policy": policy})
    assert h.agents[agent_id].of("kill_task") == [("kill_task", fw.id, "t1", policy)]


def test_kill_with_other_agent_is_ignored(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    start_task(h, fw, agent_id)
    fw.call("KILL", {"task_id": {"value": "t1"}, "agent_id": {"value": "elsewhere"}})
    assert h.agents[agent_id].of("kill_task") == []
    assert fw.updates() == []


@pytest.mark.parametrize(
    "caps, state",
    [(("MULTI_ROLE",), "TASK_LOST"), (("MULTI_ROLE", "PARTITION_AWARE"), "TASK_UNKNOWN")],
    ids=["non-pa", "pa"],
)
def test_kill_unknown_task_reconciles(h, caps, state):
    fw = h.subscribe(framework_info(caps=caps))
    fw.call("KILL", {"task_id": {"value": "ghost"}})
    (update,) = fw.updates()
    assert (update["state"], update["reason"]) == (state, "REASON_RECONCILIATION")


def test_implicit_reconciliation(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    start_task(h, fw, agent_id)
    fw.call("RECONCILE", {"tasks": []})
    (update,) = fw.updates()
    assert update["state"] == "TASK_RUNNING"
    assert update["reason"] == "REASON_RECONCILIATION"
    assert update["source"] == "SOURCE_MASTER"
    assert update["message"] == "Reconciliation: Latest task state"
    assert update["agent_id"] == {"value": agent_id}
    assert "uuid" not in update


@pytest.mark.parametrize(
    "setup, pa_state, lost",
    [
        ("registered", "TASK_GONE", "TASK_LOST"),
        ("unreachable", "TASK_UNREACHABLE", "TASK_LOST"),
        ("gone", "TASK_GONE_BY_OPERATOR", "TASK_LOST"),
        ("unknown", "TASK_UNKNOWN", "TASK_LOST"),
    ],
    ids=["agent-registered", "agent-unreachable", "agent-gone", "agent-unknown"],
)
@pytest.mark.parametrize("pa", [True, False], ids=["pa", "non-pa"])
def test_explicit_reconciliation_of_unknown_task(h, setup, pa_state, lost, pa):
    agent_id = h.add_agent()
    caps = ("MULTI_ROLE", "PARTITION_AWARE") if pa else ("MULTI_ROLE",)
    fw = h.subscribe(framework_info(caps=caps, failover_timeout=1000))
    if setup == "unreachable":
        h.master.agent_disconnected(agent_id)
        h.advance(75)
    elif setup == "gone":
        h.master.mark_agent_gone(agent_id)
    target = agent_id if setup != "unknown" else "never-seen"
    fw.events()
    fw.call("RECONCILE", {"tasks": [{"task_id": {"value": "ghost"}, "agent_id": {"value": target}}]})
    (update,) = fw.updates()
    assert update["state"] == (pa_state if pa else lost)
    assert update["reason"] == "REASON_RECONCILIATION"
    assert ("unreachable_time" in update) == (setup == "unreachable")


def test_explicit_reconciliation_of_known_task(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    start_task(h, fw, agent_id)
    fw.call("RECONCILE", {"tasks": [{"task_id": {"value": "t1"}}]})
    assert [u["state"] for u in fw.updates()] == ["TASK_RUNNING"]


# --- agents ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("checkpoint", [False, True], ids=["non-checkpointing", "checkpointing"])
def test_agent_disconnect(h, checkpoint):
    agent_id = h.add_agent()
    fw = h.subscribe(framework_info(checkpoint=checkpoint))
    offers = fw.offers()
    fw.accept(offers[:1], [launch(agent_id, "t1", plain())], {"refuse_seconds": 0})
    h.advance(1)
    (offer,) = fw.offers()
    h.master.agent_disconnected(agent_id)
    events = fw.events()
    assert {"type": "RESCIND", "rescind": {"offer_id": offer["id"]}} in events
    updates = [e["update"]["status"] for e in events if e["type"] == "UPDATE"]
    if checkpoint:
        assert updates == []
        assert h.master.state()["frameworks"][0]["tasks"][0]["id"] == "t1"
    else:
        (update,) = updates
        assert (update["state"], update["reason"]) == ("TASK_LOST", "REASON_AGENT_DISCONNECTED")
        assert h.master.state()["frameworks"][0]["tasks"] == []


@pytest.mark.parametrize(
    "pa, state", [(True, "TASK_UNREACHABLE"), (False, "TASK_LOST")], ids=["pa", "non-pa"]
)
def test_agent_becomes_unreachable_then_reregisters(h, pa, state):
    agent_id = h.add_agent()
    caps = ("MULTI_ROLE", "PARTITION_AWARE") if pa else ("MULTI_ROLE",)
    info = framework_info(caps=caps, checkpoint=True)
    fw = h.subscribe(info)
    start_task(h, fw, agent_id)
    h.master.agent_disconnected(agent_id)
    h.advance(74)
    assert fw.updates() == []
    h.advance(1)
    events = fw.events()
    (update,) = [e["update"]["status"] for e in events if e["type"] == "UPDATE"]
    assert (update["state"], update["reason"], update["source"]) == (
        state,
        "REASON_AGENT_REMOVED",
        "SOURCE_MASTER",
    )
    assert update["unreachable_time"]["nanoseconds"] > 0
    assert {"type": "FAILURE", "failure": {"agent_id": {"value": agent_id}}} in events
    assert h.master.state()["frameworks"][0]["unreachable_tasks"][0]["id"] == "t1"
    task = h.agents[agent_id].of("run_task")[0][2]
    report = agent_info(tasks=[{"framework_id": fw.id, "task": task, "state": "TASK_RUNNING"}])
    report["frameworks"] = [info | {"id": {"value": fw.id}}]
    assert h.master.register_agent(h.agents[agent_id], agent_id, report) == agent_id
    (back,) = fw.updates()
    assert (back["state"], back["reason"]) == ("TASK_RUNNING", "REASON_AGENT_REREGISTERED")
    state = h.master.state()["frameworks"][0]
    assert [t["id"] for t in state["tasks"]] == ["t1"] and state["unreachable_tasks"] == []


@pytest.mark.parametrize(
    "pa, state, reason",
    [
        (True, "TASK_GONE_BY_OPERATOR", "REASON_AGENT_REMOVED_BY_OPERATOR"),
        (False, "TASK_LOST", "REASON_AGENT_REMOVED"),
    ],
    ids=["pa", "non-pa"],
)
def test_mark_agent_gone(h, pa, state, reason):
    agent_id = h.add_agent()
    caps = ("MULTI_ROLE", "PARTITION_AWARE") if pa else ("MULTI_ROLE",)
    fw = h.subscribe(framework_info(caps=caps))
    start_task(h, fw, agent_id)
    h.master.mark_agent_gone(agent_id)
    (update,) = fw.updates()
    assert (update["state"], update["reason"]) == (state, reason)
    assert ("shutdown_framework", fw.id) in h.agents[agent_id].calls
    with pytest.raises(AgentRefused):
        h.master.register_agent(FakeAgent(), agent_id, agent_info())
    assert h.master.state()["slaves"] == []


def test_mark_unknown_agent_gone_raises_key_error(h):
    with pytest.raises(KeyError):
        h.master.mark_agent_gone("nope")


def test_known_agent_reregistering_without_a_task_loses_it(h):
    agent_id = h.add_agent()
    fw = h.subscribe(framework_info(checkpoint=True))
    start_task(h, fw, agent_id)
    h.master.agent_disconnected(agent_id)
    h.master.register_agent(h.agents[agent_id], agent_id, agent_info())
    (update,) = fw.updates()
    assert update["state"] == "TASK_DROPPED"


# --- registry and master restart ------------------------------------------------------------------------


def test_registry_survives_master_restart(h, tmp_path):
    kept, gone = h.add_agent(), h.add_agent()
    fw = h.subscribe(framework_info(checkpoint=True))
    offers = [o for o in fw.offers() if o["agent_id"]["value"] == kept]
    fw.accept(offers, [launch(kept, "t1", plain())])
    task = h.agents[kept].of("run_task")[0][2]
    h.master.mark_agent_gone(gone)
    registry = json.loads((tmp_path / "registry.json").read_text())
    assert registry["gone"] == [gone] and registry["admitted"] == [kept] and registry["agent_counter"] == 2
    old_id = h.master.master_id
    master = h.restart()
    assert master.master_id != old_id
    with pytest.raises(AgentRefused):
        master.register_agent(FakeAgent(), gone, agent_info())
    new = Framework(
        h, master.subscribe(subscribe_call(framework_info(checkpoint=True, id={"value": fw.id})), None)
    )
    new.events()
    new.call("RECONCILE", {"tasks": [{"task_id": {"value": "t1"}}]})
    assert new.updates() == [], "no answer while agents are still re-registering"
    report = agent_info(tasks=[{"framework_id": fw.id, "task": task, "state": "TASK_RUNNING"}])
    report["frameworks"] = [framework_info(checkpoint=True, id={"value": fw.id})]
    master.register_agent(h.agents[kept], kept, report)
    new.call("RECONCILE", {"tasks": [{"task_id": {"value": "t1"}}]})
    assert [u["state"] for u in new.updates()] == ["TASK_RUNNING"]
    assert h.add_agent().endswith("-S2"), "the agent counter continues"


def test_framework_recovered_from_an_agent_is_listed_and_refused_calls(h):
    agent_id = h.add_agent()
    fw = h.subscribe(framework_info(checkpoint=True))
    fw.accept(fw.offers(), [launch(agent_id, "t1", plain())])
    task = h.agents[agent_id].of("run_task")[0][2]
    master = h.restart()
    report = agent_info(tasks=[{"framework_id": fw.id, "task": task, "state": "TASK_RUNNING"}])
    report["frameworks"] = [framework_info(checkpoint=True, id={"value": fw.id})]
    master.register_agent(h.agents[agent_id], agent_id, report)
    (recovered,) = master.state()["frameworks"]
    assert (recovered["id"], recovered["recovered"], recovered["connected"]) == (fw.id, True, False)
    assert [t["id"] for t in recovered["tasks"]] == ["t1"]
    with pytest.raises(CallError) as err:
        master.call({"type": "REVIVE", "framework_id": {"value": fw.id}}, "x", None)
    assert err.value.status == 403


def test_agents_not_reregistering_become_unreachable(tmp_path):
    h = Harness(tmp_path, agent_reregister_timeout=600)
    agent_id = h.add_agent()
    master = h.restart()
    assert master.state()["localmesos"]["agents"] == [
        {"id": agent_id, "name": None, "state": "recovering", "hostname": None}
    ]
    h.advance(601)
    assert json.loads((tmp_path / "registry.json").read_text())["unreachable"].keys() == {agent_id}
    fw = h.subscribe()
    fw.call("RECONCILE", {"tasks": [{"task_id": {"value": "x"}, "agent_id": {"value": agent_id}}]})
    assert fw.updates()[0]["state"] == "TASK_UNREACHABLE"


# --- state ----------------------------------------------------------------------------------------------


def test_state_shape(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    fw.accept(fw.offers(), reserve_create_launch(agent_id), {"refuse_seconds": 0})
    state = h.master.state()
    for key in (
        "id",
        "pid",
        "hostname",
        "version",
        "leader",
        "start_time",
        "activated_slaves",
        "slaves",
        "frameworks",
        "completed_frameworks",
        "unregistered_frameworks",
        "localmesos",
    ):
        assert key in state, key
    (slave,) = state["slaves"]
    assert slave["id"] == agent_id and slave["active"] is True
    assert slave["reserved_resources"][ROLE]["cpus"] == 1
    full = slave["reserved_resources_full"][ROLE]
    assert [r["disk"]["persistence"]["id"] for r in full if "disk" in r] == ["vol-1"]
    assert slave["used_resources"]["cpus"] == 1
    (framework,) = state["frameworks"]
    assert framework["id"] == fw.id and framework["active"] and framework["roles"] == [ROLE]
    assert framework["used_resources"]["mem"] == 512
    json.dumps(state)


# --- executors, odd inputs ------------------------------------------------------------------------------


def executor_task(agent_id: str, task_id: str, executor_id: str = "e1") -> dict:
    task = task_info(task_id, agent_id, plain(0.5, 64))
    del task["command"]
    task["executor"] = {
        "executor_id": {"value": executor_id},
        "command": {"value": "run-executor"},
        "resources": plain(0.1, 32),
    }
    return task


def test_custom_executor_is_charged_once_and_reported(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    ops = [{"type": "LAUNCH", "launch": {"task_infos": [executor_task(agent_id, "t1")]}}]
    fw.accept(fw.offers(), ops, {"refuse_seconds": 0})
    assert fw.updates() == []
    h.advance(1)
    (offer,) = fw.offers()
    assert offer["executor_ids"] == [{"value": "e1"}]
    assert offered(offer).scalar("cpus") == pytest.approx(3.4)
    fw.accept([offer], [{"type": "LAUNCH", "launch": {"task_infos": [executor_task(agent_id, "t2")]}}])
    assert h.master.state()["slaves"][0]["used_resources"]["cpus"] == pytest.approx(1.1)
    h.master.executor_terminated(agent_id, fw.id, "e1", 9)
    failure = {"agent_id": {"value": agent_id}, "executor_id": {"value": "e1"}, "status": 9}
    assert fw.events("FAILURE") == [{"type": "FAILURE", "failure": failure}]


def test_command_executor_exit_sends_no_failure(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    start_task(h, fw, agent_id)
    h.master.executor_terminated(agent_id, fw.id, "t1", 0)
    assert fw.events("FAILURE") == []


def test_kill_while_agent_disconnected_is_resent_on_reregistration(h):
    agent_id = h.add_agent()
    info = framework_info(checkpoint=True)
    fw = h.subscribe(info)
    start_task(h, fw, agent_id)
    task = h.agents[agent_id].of("run_task")[0][2]
    h.master.agent_disconnected(agent_id)
    fw.call("KILL", {"task_id": {"value": "t1"}})
    assert h.agents[agent_id].of("kill_task") == []
    report = agent_info(tasks=[{"framework_id": fw.id, "task": task, "state": "TASK_RUNNING"}])
    h.master.register_agent(h.agents[agent_id], agent_id, report)
    assert h.agents[agent_id].of("kill_task") == [("kill_task", fw.id, "t1", None)]


def test_messages_from_unknown_agents_are_ignored(h):
    fw = h.subscribe()
    h.master.status_update("nope", fw.id, {"task_id": {"value": "t"}, "state": "TASK_RUNNING"})
    h.master.agent_disconnected("nope")
    h.master.executor_terminated("nope", fw.id, "e", 0)
    assert fw.updates() == []


def test_revive_one_role_of_a_multi_role_framework(h):
    h.add_agent()
    fw = h.subscribe(framework_info(roles=("a", "b")))
    fw.decline(fw.offers(), {"refuse_seconds": 1000})
    fw.call("REVIVE", {"roles": ["b"]})
    assert [o["allocation_info"]["role"] for o in fw.offers()] == ["b"]


def test_shutdown_kills_the_executor_tasks(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    start_task(h, fw, agent_id)
    fw.call("SHUTDOWN", {"executor_id": {"value": "t1"}, "agent_id": {"value": agent_id}})
    assert h.agents[agent_id].of("kill_task") == [("kill_task", fw.id, "t1", None)]


def test_reregistered_task_reports_the_update_pending_acknowledgement(h):
    agent_id = h.add_agent()
    info = framework_info(checkpoint=True)
    fw = h.subscribe(info)
    start_task(h, fw, agent_id)
    task = h.agents[agent_id].of("run_task")[0][2]
    master = h.restart()
    entry = {
        "framework_id": fw.id,
        "task": task,
        "state": "TASK_FINISHED",
        "status_update_state": "TASK_RUNNING",
        "status_update_uuid": UUID1,
    }
    report = agent_info(tasks=[entry], frameworks=[info | {"id": {"value": fw.id}}])
    master.register_agent(h.agents[agent_id], agent_id, report)
    new = Framework(h, master.subscribe(subscribe_call(info | {"id": {"value": fw.id}}), None))
    new.events()
    new.call("RECONCILE", {"tasks": []})
    assert [u["state"] for u in new.updates()] == ["TASK_RUNNING"]
    assert master.state()["slaves"][0]["used_resources"]["cpus"] == 0


@pytest.mark.parametrize(
    "framework_id", [None, "plain-string", {"value": 3}], ids=["missing", "string", "number"]
)
def test_malformed_framework_id_is_400(h, framework_id):
    with pytest.raises(CallError) as err:
        h.master.call({"type": "REVIVE", "framework_id": framework_id}, "x", None)
    assert err.value.status == 400


def test_malformed_launch_is_reported_before_later_validation(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    bad = task_info("t2", agent_id, [{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}])
    ops = [launch(agent_id, "t1", plain(100, 1)), {"type": "LAUNCH", "launch": {"task_infos": [bad]}}]
    fw.accept(fw.offers(), ops)
    assert [(u["task_id"]["value"], u["state"]) for u in fw.updates()] == [
        ("t2", "TASK_ERROR"),
        ("t1", "TASK_ERROR"),
    ]


def test_task_error_carries_the_agent_id_the_task_named(h):
    h.add_agent()
    fw = h.subscribe()
    fw.accept(fw.offers(), [launch("elsewhere", "t1", plain())])
    (update,) = fw.updates()
    assert update["agent_id"] == {"value": "elsewhere"}


def test_operation_with_id_on_invalid_offer_gets_operation_error(h):
    h.add_agent()
    fw = h.subscribe()
    op = {"type": "RESERVE", "id": {"value": "op-1"}, "reserve": {"resources": pod_resources()}}
    fw.call("ACCEPT", {"offer_ids": [{"value": "gone"}], "operations": [op]})
    (event,) = fw.events("UPDATE_OPERATION_STATUS")
    assert event["update_operation_status"]["status"]["message"].startswith(
        "Operation attempted with invalid offers"
    )


def test_reserve_with_source_is_dropped(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    op = {"type": "RESERVE", "reserve": {"resources": pod_resources(), "source": pod_resources()}}
    fw.accept(fw.offers(), [op])
    assert h.agents[agent_id].of("checkpoint_resources") == []


def test_net_converted_uses_saturating_subtraction():
    from localmesos.master_accept import net_converted

    r = reservation()
    offered = Resources([scalar("cpus", 4), scalar("cpus", 1, r)])
    remaining = Resources([scalar("cpus", 3), scalar("cpus", 2, r)])
    assert net_converted(remaining, offered) == Resources([scalar("cpus", 1, r)])


def test_update_for_task_unknown_to_master_is_still_forwarded(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    fw.events()
    sent = h.status(agent_id, fw, "stray", "TASK_FAILED", UUID1)
    assert fw.updates() == [sent]


def test_unknown_agent_reregistering_announces_its_tasks(h):
    fw = h.subscribe(framework_info(checkpoint=True))
    fw.events()
    task = task_info("t9", "foreign-S1", plain()) | {"agent_id": {"value": "foreign-S1"}}
    report = agent_info(tasks=[{"framework_id": fw.id, "task": task, "state": "TASK_RUNNING"}])
    assert h.master.register_agent(FakeAgent(), "foreign-S1", report) == "foreign-S1"
    (update,) = fw.updates()
    assert (update["state"], update["reason"], update["message"]) == (
        "TASK_RUNNING",
        "REASON_AGENT_REREGISTERED",
        "Unknown agent reregistered",
    )
    assert "uuid" not in update


def test_known_agent_reregistering_gets_the_masters_checkpointed_resources(h):
    agent_id = h.add_agent()
    fw = h.subscribe()
    fw.accept(fw.offers(), [{"type": "RESERVE", "reserve": {"resources": pod_resources()}}])
    total = h.agents[agent_id].of("checkpoint_resources")[-1][1]
    h.master.agent_disconnected(agent_id)
    h.master.register_agent(h.agents[agent_id], agent_id, agent_info())
    assert Resources(h.agents[agent_id].of("checkpoint_resources")[-1][1]) == Resources(total)
    assert h.master.state()["slaves"][0]["reserved_resources"][ROLE]["cpus"] == 1


@pytest.mark.parametrize(
    "pa, state, reason",
    [
        (True, "TASK_GONE_BY_OPERATOR", "REASON_AGENT_REMOVED_BY_OPERATOR"),
        (False, "TASK_LOST", "REASON_AGENT_REMOVED"),
    ],
    ids=["pa", "non-pa"],
)
def test_unreachable_agent_marked_gone(h, pa, state, reason):
    agent_id = h.add_agent()
    caps = ("MULTI_ROLE", "PARTITION_AWARE") if pa else ("MULTI_ROLE",)
    fw = h.subscribe(framework_info(caps=caps, checkpoint=True))
    start_task(h, fw, agent_id)
    h.master.agent_disconnected(agent_id)
    h.advance(75)
    fw.events()
    h.master.mark_agent_gone(agent_id)
    (update,) = fw.updates()
    assert (update["state"], update["reason"]) == (state, reason)
    framework = h.master.state()["frameworks"][0]
    assert framework["unreachable_tasks"] == []
    assert [t["id"] for t in framework["completed_tasks"]] == ["t1"]
    with pytest.raises(AgentRefused):
        h.master.register_agent(h.agents[agent_id], agent_id, agent_info())


JUNK = [None, 0, -1, 1e308, "x", "", [], [None], {}, {"value": None}, {"value": 7}, [{"value": "o"}], True]
CALL_TYPES = [
    "TEARDOWN",
    "ACCEPT",
    "DECLINE",
    "REVIVE",
    "SUPPRESS",
    "KILL",
    "SHUTDOWN",
    "ACKNOWLEDGE",
    "ACKNOWLEDGE_OPERATION_STATUS",
    "RECONCILE",
    "RECONCILE_OPERATIONS",
    "MESSAGE",
    "REQUEST",
    "UPDATE_FRAMEWORK",
]


@pytest.mark.parametrize("call_type", CALL_TYPES)
def test_junk_bodies_never_escape_as_exceptions(h, call_type):
    import random

    rng = random.Random(call_type)
    h.add_agent()
    fw = h.subscribe(framework_info(failover_timeout=10))
    for _ in range(40):
        keys = [
            "offer_ids",
            "operations",
            "filters",
            "roles",
            "task_id",
            "agent_id",
            "tasks",
            "uuid",
            "framework_info",
        ]
        body = {k: rng.choice(JUNK) for k in rng.sample(keys, 3)}
        if rng.random() < 0.5:
            body = rng.choice(JUNK)
        call = {"type": call_type, "framework_id": {"value": fw.id}, call_type.lower(): body}
        try:
            status, _ = h.master.call(call, fw.sub.stream_id, None)
        except CallError as err:
            assert 400 <= err.status < 600
        else:
            assert status in (200, 202)
        if fw.sub.closed:
            fw = h.subscribe(framework_info(failover_timeout=10))
    h.advance(1)
    json.dumps(h.master.state())


def test_start_and_stop_close_every_subscription(h):
    fw = h.subscribe()
    h.master.start()
    h.master.stop()
    assert fw.sub.closed
    assert h.master._thread is None


def test_registry_admissions_are_flushed_by_tick(h, tmp_path):
    agent_id = h.add_agent()
    h.advance(0.1)
    assert json.loads((tmp_path / "registry.json").read_text())["admitted"] == [agent_id]


def test_fast_json_matches_to_json():
    from localmesos.master_offers import fast_json

    res = Resources([scalar("cpus", 2), volume(100, "v1"), *pod_resources()]).allocate(ROLE)
    assert fast_json(res) == res.to_json()
    shared = volume(10, "v2") | {"shared": {}}
    both = Resources([shared]) + Resources([shared])
    assert fast_json(both) == both.to_json()
