"""The full-crash recovery flow on the core: positions collected by one-shot tasks, the highest usable
seqno bootstraps, the others join one at a time, an operator may force, and a new leader resumes."""

from __future__ import annotations

import json
from typing import Any

from galera_sim import deploy, galera_sim, launched_task, node_config, ready, tokens_of
from simulation import Sim, of

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.state.memory import MemoryPersister

NODES = ("galera-0", "galera-1", "galera-2")
UUID = "6b7f9c1e-0000-11ef-8000-000000000001"


def crash_all(sim: Sim) -> None:
    for agent, name in enumerate(NODES, start=1):
        sim.status(sim.task_of(name), "TASK_FAILED", agent, reason="REASON_COMMAND_EXECUTOR_FAILED")


def launches(sim: Sim, *agents: int) -> dict[str, dict[str, Any]]:
    tasks = [launched_task(a) for a in of(sim.offers(*agents), fx.Accept)]
    return {t["name"]: t for t in tasks}


def command(sim: Sim, kind: str, **args: Any) -> dict[str, Any]:
    [reply] = of(sim.send(ev.Command(kind, args, lambda _: None)), fx.Reply)
    return dict(reply.value)


def report(sim: Sim, task: dict[str, Any], seqno: int | None) -> dict[str, Any]:
    cfg = node_config(sim, task)
    token = cfg["report_url"].rsplit("/", 1)[1]
    record = (
        {"node": cfg["node"], "uuid": UUID, "seqno": seqno} if seqno is not None else {"unknown": "no log"}
    )
    return command(sim, "galera_report", token=token, position=json.dumps(record))


def recovery(sim: Sim) -> dict[str, Any]:
    return dict(sim.core.snapshot()["galera"]["galera"]["recovery"] or {})


def collect(sim: Sim, seqnos: dict[str, int | None]) -> dict[str, dict[str, Any]]:
    tasks = launches(sim, 1, 2, 3)
    assert set(tasks) == set(NODES)
    for name, task in tasks.items():
        assert "galera_node recover" in task["command"]["value"]
        assert tokens_of(task)["galera.json"]
        if name in seqnos:
            assert report(sim, task, seqnos[name])["ok"] is True
            agent = NODES.index(name) + 1
            sim.status(task["task_id"]["value"], "TASK_FINISHED", agent)
    return tasks


def test_a_full_crash_is_recovered_from_the_highest_seqno_then_joins_one_at_a_time() -> None:
    sim = galera_sim()
    deploy(sim)
    crash_all(sim)
    assert recovery(sim)["phase"] == "COLLECTING"
    collect(sim, {"galera-0": 5, "galera-1": 9, "galera-2": 7})
    state = recovery(sim)
    assert state["phase"] == "CHOSEN" and state["chosen"] == "galera-1"
    assert "seqno 9" in state["reason"] or "9" in json.dumps(state["evidence"])
    tasks = launches(sim, 1, 2, 3)
    assert set(tasks) == {"galera-1"}  # only the chosen node starts
    cfg = node_config(sim, tasks["galera-1"])
    assert cfg["bootstrap"] is True and "galera_node run" in tasks["galera-1"]["command"]["value"]
    assert recovery(sim)["phase"] == "BOOTSTRAPPING"
    ready(sim, "galera-1", 2)
    assert recovery(sim)["joining"] == "galera-0"
    joined = launches(sim, 1, 3)
    assert set(joined) == {"galera-0"} and node_config(sim, joined["galera-0"])["bootstrap"] is False
    ready(sim, "galera-0", 1)
    last = launches(sim, 3)
    assert set(last) == {"galera-2"} and node_config(sim, last["galera-2"])["bootstrap"] is False
    ready(sim, "galera-2", 3)
    assert recovery(sim)["phase"] == "DONE"


def test_the_flow_waits_for_every_node_unless_an_operator_forces_one() -> None:
    sim = galera_sim()
    deploy(sim)
    crash_all(sim)
    tasks = launches(sim, 1, 2)  # agent 3 does not come back
    for agent, name in ((1, "galera-0"), (2, "galera-1")):
        report(sim, tasks[name], None if name == "galera-0" else 4)
        sim.status(tasks[name]["task_id"]["value"], "TASK_FINISHED", agent)
    assert recovery(sim)["phase"] == "COLLECTING"
    assert launches(sim, 1, 2) == {}  # reported nodes wait
    assert command(sim, "galera_force", node="galera-9")["ok"] is False
    forced = command(sim, "galera_force", node="galera-1")
    assert forced["ok"] is True and recovery(sim)["phase"] == "FORCED"
    assert set(launches(sim, 1, 2)) == {"galera-1"}


def test_an_unusable_position_is_never_chosen() -> None:
    sim = galera_sim()
    deploy(sim)
    crash_all(sim)
    collect(sim, {"galera-0": None, "galera-1": 4, "galera-2": 3})
    assert recovery(sim)["chosen"] == "galera-1"


def test_a_new_leader_resumes_the_stored_flow() -> None:
    persister = MemoryPersister()
    sim = galera_sim(persister)
    deploy(sim)
    crash_all(sim)
    tasks = collect(sim, {"galera-0": 3, "galera-1": 2})
    sim.store.unbind()
    sim2 = galera_sim(persister, holder="h2")
    sim2.agents, sim2.offered, sim2.now = sim.agents, sim.offered, sim.now
    sim2.subscribe()
    assert recovery(sim2)["phase"] == "COLLECTING" and set(recovery(sim2)["positions"]) == {
        "galera-0",
        "galera-1",
    }
    report(sim2, tasks["galera-2"], 8)  # the recovery task started under the old leader reports
    assert recovery(sim2)["chosen"] == "galera-2"


def test_a_report_token_is_single_use() -> None:
    sim = galera_sim()
    deploy(sim)
    crash_all(sim)
    task = launches(sim, 1)["galera-0"]
    cfg = node_config(sim, task)
    token = cfg["report_url"].rsplit("/", 1)[1]
    body = json.dumps({"node": "galera-0", "uuid": UUID, "seqno": 1})
    assert command(sim, "galera_report", token=token, position=body)["ok"] is True
    assert command(sim, "galera_report", token=token, position=body)["ok"] is False
