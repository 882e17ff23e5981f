"""A scheduler restarted with an edited service file, and two Galera rules of a scale-down.

The restart is a new core over the same store (as a new leader after a restart would be): its file is
checked against the stored target configuration like an update. Refused, the stored configuration keeps
running and the reasons are shown; accepted, the file becomes the new target.
"""

from __future__ import annotations

from typing import Any

import pytest
from galera_sim import deploy, galera_sim, launch_on, ready
from simulation import SETTINGS, Sim, of

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.kinds.galera import GaleraKind
from mesopress.model import config
from mesopress.offers import samples
from mesopress.scheduler import SchedulerCore
from mesopress.scheduler_commands import IdentityChanged
from mesopress.state.memory import MemoryPersister

FILE = """
name: site
pods:
  - name: db
    count: {count}
    cpus: 0.1
    mem: 32
    command: run-db
    ports: [{{name: sql}}]
    volumes: [{{container_path: data, size: {size}}}]
"""


def loaded(count: int = 2, size: int = 100, **flags: str) -> config.Loaded:
    return config.load(FILE.format(count=count, size=size), flags, {})


def start(persister: MemoryPersister, holder: str, file: config.Loaded, now: float = 1000.0) -> Sim:
    """A scheduler process elected as `holder`, started with `file`."""
    sim = Sim(file.service, persister=persister, holder=holder, now=now)
    sim.core = SchedulerCore(
        SETTINGS, file.service, sim.store, clock=lambda: sim.now, new_uuid=samples.counting_uuids(holder),
        doc=file.doc,
    )  # fmt: skip
    sim.core.load()
    return sim


def deployed() -> tuple[MemoryPersister, Sim]:
    persister = MemoryPersister()
    sim = start(persister, "h1", loaded())
    sim.subscribe()
    for agent, name in ((1, "db-0"), (2, "db-1")):
        of(sim.offers(agent), fx.Accept)
        sim.run(name, agent)
    return persister, sim


def test_the_first_start_stores_the_file_as_the_target_and_the_same_file_writes_nothing() -> None:
    persister, sim = deployed()
    version = sim.store.target_config()
    assert version and sim.store.config(version) == dict(loaded().doc)
    assert sim.core.snapshot()["config"]["version"] == version
    before = persister.dump()
    again = start(persister, "h2", loaded())
    assert again.store.target_config() == version and again.core.refused is None
    assert persister.dump() == before


def test_an_edited_file_the_service_cannot_take_is_refused_and_the_stored_one_keeps_running(
    caplog: Any,
) -> None:
    persister, sim = deployed()
    version = sim.store.target_config()
    before = persister.dump()
    restarted = start(persister, "h2", loaded(count=3, size=50))  # a shrunk volume, and one more db
    assert persister.dump() == before  # nothing written
    assert restarted.core.service == loaded().service  # the stored configuration runs
    refused = restarted.core.snapshot()["config"]["refused"]
    assert refused["version"] == version
    assert refused["reasons"] == [
        "pods[db].volumes[data].size: cannot shrink from 100 to 50 MiB; set it back to 100"
    ]
    assert "db-2" not in {p["instance"] for p in restarted.core.snapshot()["pods"]}
    assert any(r.levelname == "ERROR" and "cannot shrink" in r.getMessage() for r in caplog.records)
    # an update through the API afterwards is checked against the running (stored) configuration
    grown = loaded(count=3)
    command = ev.Command("update_config", {"service": grown.service, "doc": dict(grown.doc)}, lambda _: None)
    [reply] = of(restarted.send(command), fx.Reply)
    assert reply.value["ok"] is True and restarted.store.target_config() == reply.value["version"]
    assert "refused" not in restarted.core.snapshot()["config"]


def test_an_edited_file_the_service_can_take_becomes_the_new_target() -> None:
    persister, sim = deployed()
    old = sim.store.target_config()
    restarted = start(persister, "h2", loaded(count=3), now=2000.0)
    new = restarted.store.target_config()
    assert new != old and restarted.store.config(new) == dict(loaded(count=3).doc)
    assert restarted.core.refused is None and restarted.core.service.pods[0].count == 3
    restarted.subscribe()
    assert restarted.pod("db-2")["status"]
    assert of(restarted.offers(3), fx.Accept)  # the third instance deploys


def test_the_first_start_stores_the_role_and_principal_and_the_same_ones_load_again() -> None:
    persister, sim = deployed()
    assert sim.store.identity() == {"role": "mesopress", "principal": "mesopress"}
    before = persister.dump()
    again = start(persister, "h2", loaded())
    assert again.core.loaded and persister.dump() == before


@pytest.mark.parametrize(
    "flags, reasons",
    [
        ({"role": "other"}, ["role: cannot change from 'mesopress' to 'other'"]),
        (
            {"role": "other", "principal": "someone"},
            ["role: cannot change from 'mesopress' to 'other'",
             "principal: cannot change from 'mesopress' to 'someone'"],
        ),
    ],
)  # fmt: skip
def test_a_restart_with_another_role_or_principal_is_refused_and_writes_nothing(
    flags: dict[str, str], reasons: list[str]
) -> None:
    """Every reservation carries the old role: subscribing in another one would strand them all."""
    persister, _ = deployed()
    before = persister.dump()
    with pytest.raises(IdentityChanged) as refused:
        start(persister, "h2", loaded(**flags))
    message = str(refused.value)
    for reason in reasons:
        assert reason in message
    assert "--role or MESOPRESS_ROLE" in message and "uninstall the service first" in message
    assert persister.dump() == before
    assert start(persister, "h3", loaded()).core.loaded  # started with the stored ones: it runs


def test_a_galera_node_is_drained_for_the_setting_before_it_is_removed() -> None:
    sim = galera_sim()
    sim.core.kinds["galera"] = GaleraKind()  # the kind as the scheduler builds it
    grow_to_five(sim)
    [reply] = of(sim.send(update(3)), fx.Reply)
    assert reply.value["ok"] is True
    # out of the endpoints first, so the proxy moves its writer away; the kill waits drain_seconds
    assert "galera-4" not in sim.core.endpoints()
    assert of(sim.log[-10:], fx.Kill) == []
    [kill] = of(sim.tick(sim.settings.drain_seconds), fx.Kill)
    assert kill.task_id == sim.task_of("galera-4")


def test_a_full_crash_during_a_scale_down_does_not_wait_for_the_nodes_being_removed() -> None:
    sim = galera_sim()
    grow_to_five(sim)
    of(sim.send(update(3)), fx.Reply)  # galera-4 drains, galera-3 waits its turn
    for agent, name in enumerate(("galera-0", "galera-1", "galera-2", "galera-3", "galera-4"), start=1):
        sim.status(sim.task_of(name), "TASK_FAILED", agent, reason="REASON_COMMAND_EXECUTOR_FAILED")
    record = sim.core.snapshot()["galera"]["galera"]["recovery"]
    assert record["phase"] == "COLLECTING"
    assert sorted(record["expected"]) == ["galera-0", "galera-1", "galera-2"]


def test_no_full_crash_recovery_starts_while_a_node_being_removed_still_runs() -> None:
    sim = galera_sim()
    grow_to_five(sim)
    of(sim.send(update(3)), fx.Reply)
    for agent, name in enumerate(("galera-0", "galera-1", "galera-2", "galera-3"), start=1):
        sim.status(sim.task_of(name), "TASK_FAILED", agent, reason="REASON_COMMAND_EXECUTOR_FAILED")
    assert sim.core.snapshot()["galera"]["galera"]["recovery"] is None  # galera-4 still runs


def update(size: int) -> ev.Command:
    text = f"name: site\npods:\n  - name: galera\n    kind: galera\n    galera: {{size: {size}}}\n"
    return ev.Command("update_config", {"service": config.load(text, {}, {}).service}, lambda _: None)


def grow_to_five(sim: Sim) -> None:
    deploy(sim)
    of(sim.send(update(5)), fx.Reply)
    for agent, name in ((4, "galera-3"), (5, "galera-4")):
        launch_on(sim, agent)
        ready(sim, name, agent)
