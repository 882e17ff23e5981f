"""Galera on the core: artifacts in the launch batch, single-use tokens, secrets, bootstrap once, joins."""

from __future__ import annotations

import json
from typing import Any

from galera_sim import (
    SERVICE_FILE,
    deploy,
    fetch,
    galera_sim,
    launch_on,
    launched_task,
    node_config,
    ready,
    stored_artifact,
    tokens_of,
)
from simulation import Sim, of

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.kinds import galera as kind
from mesopress.model import config
from mesopress.state.memory import MemoryPersister


def test_secrets_are_generated_once_and_survive_a_new_leader() -> None:
    persister = MemoryPersister()
    sim = galera_sim(persister)
    first = {name: sim.store.secret(name) for name in (kind.ROOT_SECRET, kind.SST_SECRET, kind.APP_SECRET)}
    assert all(value and len(value) >= 40 for value in first.values())
    assert len(set(first.values())) == 3
    again = galera_sim(persister, holder="h2")
    assert {name: again.store.secret(name) for name in first} == first


def test_launch_records_its_artifacts_in_the_same_batch_and_hides_them_from_the_task_info() -> None:
    sim = galera_sim()
    sim.subscribe()
    task = launch_on(sim, 1)
    tokens = tokens_of(task)
    assert set(tokens) == {"galera.json", "secrets/root", "secrets/sst", "secrets/app"}
    uris = task["command"]["uris"]
    assert uris[0]["value"].endswith("/v1/artifacts/bundle/mesopress.tar.gz") and uris[0]["extract"] is True
    assert all(u["extract"] is False for u in uris[1:])
    assert all(u["value"].startswith("http://127.0.0.1:8080/v1/artifacts/") for u in uris)
    stored_task = sim.store.task("galera-0", task["task_id"]["value"])
    assert stored_task is not None  # recorded with the artifacts (one batch: both or neither)
    root = sim.store.secret(kind.ROOT_SECRET)
    assert root is not None
    assert stored_artifact(sim, tokens["secrets/root"])["content"] == root  # type: ignore[index]
    text = json.dumps(task)
    assert all(sim.core.secrets[n] not in text for n in (kind.ROOT_SECRET, kind.SST_SECRET, kind.APP_SECRET))
    assert task["command"]["user"] == "mysql" and "galera_node run" in task["command"]["value"]
    assert "galera_node check" in task["check"]["command"]["command"]["value"]
    assert "health_check" not in task


def test_tokens_serve_once() -> None:
    sim = galera_sim()
    sim.subscribe()
    tokens = tokens_of(launch_on(sim, 1))
    first = fetch(sim, tokens["secrets/app"])
    assert first["ok"] and first["content"] == sim.store.secret(kind.APP_SECRET)
    assert fetch(sim, tokens["secrets/app"]) == {"ok": False, "error": "no such artifact"}
    assert stored_artifact(sim, tokens["secrets/app"]) is None
    assert fetch(sim, "nonsense!")["ok"] is False


def test_expired_tokens_are_refused_and_pruned_at_load() -> None:
    persister = MemoryPersister()
    sim = galera_sim(persister)
    sim.subscribe()
    tokens = tokens_of(launch_on(sim, 1))
    sim.now += 3600
    assert fetch(sim, tokens["secrets/root"])["ok"] is False
    sim.store.unbind()
    later = galera_sim(persister, holder="h2")
    later.now = sim.now
    later.core.load()
    assert all(later.store.secret("artifact-" + t) is None for t in tokens.values())


def test_node_zero_bootstraps_and_the_others_join_one_at_a_time_after_synced() -> None:
    sim = galera_sim()
    sim.subscribe()
    first = node_config(sim, launch_on(sim, 1))
    assert first["bootstrap"] is True and first["node"] == "galera-0"
    assert first["peers"] == [f"node1:{first['ports']['galera']}"] and first["host"] == "node1"
    assert set(first["ports"]) == {"sql", "galera", "ist", "sst"}
    sim.run("galera-0", 1)
    assert of(sim.offers(2), fx.Accept) == []  # running is not ready: galera-1 waits for Synced
    ready(sim, "galera-0", 1)
    assert sim.store.recovery("galera", "galera-bootstrapped")["node"] == "galera-0"
    second = node_config(sim, launch_on(sim, 2))
    assert second["bootstrap"] is False
    assert second["peers"] == [f"node1:{first['ports']['galera']}", f"node2:{second['ports']['galera']}"]
    assert of(sim.offers(3), fx.Accept) == []
    ready(sim, "galera-1", 2)
    third = node_config(sim, launch_on(sim, 3))
    assert third["bootstrap"] is False and len(third["peers"]) == 3


def relaunched(sim: Sim, name: str, agent: int) -> dict[str, Any] | None:
    tasks = [launched_task(a) for a in of(sim.offers(agent), fx.Accept)]
    return next((t for t in tasks if t["name"] == name), None)


def test_a_restart_in_place_never_bootstraps_again_even_after_a_new_leader() -> None:
    persister = MemoryPersister()
    sim = galera_sim(persister)
    deploy(sim)
    ports = sim.pod("galera-0")["ports"]
    sim.store.unbind()
    sim2 = galera_sim(persister, holder="h2")
    sim2.agents, sim2.offered = sim.agents, sim.offered
    sim2.subscribe()
    sim2.status(sim2.task_of("galera-0"), "TASK_FAILED", 1, reason="REASON_COMMAND_EXECUTOR_FAILED")
    task = relaunched(sim2, "galera-0", 1)
    assert task is not None
    cfg = node_config(sim2, task)
    assert cfg["bootstrap"] is False and cfg["ports"] == ports  # same reserved ports, same volume
    assert len(cfg["peers"]) == 3


def test_a_relaunch_of_node_zero_before_it_was_ever_synced_bootstraps_again() -> None:
    sim = galera_sim()
    sim.subscribe()
    launch_on(sim, 1)
    sim.run("galera-0", 1)
    sim.status(sim.task_of("galera-0"), "TASK_FAILED", 1, reason="REASON_COMMAND_EXECUTOR_FAILED")
    task = launch_on(sim, 1)
    assert node_config(sim, task)["bootstrap"] is True


def test_endpoints_and_galera_views() -> None:
    sim = galera_sim()
    sim.subscribe()
    launch_on(sim, 1)
    ready(sim, "galera-0", 1)
    snap = sim.core.snapshot()
    [entry] = snap["endpoints"]["galera"]
    assert entry["instance"] == "galera-0" and entry["ready"] is True and entry["host"] == "node1"
    assert set(entry["ports"]) == {"sql", "galera", "ist", "sst"}
    view = snap["galera"]["galera"]
    assert view["nodes"]["galera-0"]["wsrep"] == "Synced" and view["bootstrapped"]["node"] == "galera-0"
    assert "secret" not in json.dumps(snap).lower().replace("secrets/", "")


def test_scaling_up_joins_the_new_nodes_one_at_a_time_without_bootstrap() -> None:
    sim = galera_sim()
    deploy(sim)
    bigger = config.load(SERVICE_FILE.replace("kind: galera", "kind: galera\n    galera: {size: 5}"), {}, {})
    [reply] = of(sim.send(ev.Command("update_config", {"service": bigger.service}, lambda _: None)), fx.Reply)
    assert reply.value["ok"] is True
    fourth = node_config(sim, launch_on(sim, 4))
    assert fourth["node"] == "galera-3" and fourth["bootstrap"] is False and len(fourth["peers"]) == 4
    assert of(sim.offers(5), fx.Accept) == []  # galera-4 waits for galera-3's Synced
    ready(sim, "galera-3", 4)
    fifth = node_config(sim, launch_on(sim, 5))
    assert fifth["node"] == "galera-4" and fifth["bootstrap"] is False and len(fifth["peers"]) == 5
