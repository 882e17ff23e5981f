"""A simulated cluster whose core runs a Galera pod through GaleraKind (helpers for test_galera_*.py)."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

from simulation import SETTINGS, Sim, of

from mesopress import effects as fx
from mesopress import events as ev
from mesopress.kinds.galera import GaleraKind
from mesopress.model import config
from mesopress.offers import samples
from mesopress.scheduler import SchedulerCore
from mesopress.state.memory import MemoryPersister

SERVICE_FILE = """
name: site
pods:
  - name: galera
    kind: galera
"""
SERVICE = config.load(SERVICE_FILE, {}, {}).service
READY: dict[str, Any] = {"check_status": {"type": "COMMAND", "command": {"exit_code": 0}}}


def galera_sim(persister: MemoryPersister | None = None, holder: str = "h1") -> Sim:
    """A Sim whose core knows the Galera kind and makes predictable tokens."""
    sim = Sim(SERVICE, persister=persister, holder=holder)
    tokens = (f"token{n:030d}" for n in itertools.count(1))
    sim.core = SchedulerCore(
        SETTINGS,
        SERVICE,
        sim.store,
        clock=lambda: sim.now,
        new_uuid=samples.counting_uuids(holder + "x"),
        kinds={"galera": GaleraKind()},  # drains for the drain_seconds setting, as in the scheduler
        new_token=lambda: next(tokens),
    )
    sim.core.load()
    return sim


def launched_task(accept: fx.Accept) -> dict[str, Any]:
    [task] = [t for op in accept.operations if op["type"] == "LAUNCH" for t in op["launch"]["task_infos"]]
    return dict(task)


def tokens_of(task: dict[str, Any]) -> dict[str, str]:
    """output_file -> token of every artifact URI of a TaskInfo."""
    out = {}
    for uri in task["command"].get("uris", []):
        if "/v1/artifacts/" in uri["value"] and "bundle" not in uri["value"]:
            out[uri["output_file"]] = uri["value"].rsplit("/", 1)[1]
    return out


def fetch(sim: Sim, token: str) -> dict[str, Any]:
    [reply] = of(sim.send(ev.Command("artifact", {"token": token}, lambda _: None)), fx.Reply)
    return dict(reply.value)


def node_config(sim: Sim, task: dict[str, Any]) -> dict[str, Any]:
    answer = fetch(sim, tokens_of(task)["galera.json"])
    return dict(json.loads(answer["content"]))


def stored_artifact(sim: Sim, token: str) -> dict[str, Any] | None:
    raw = sim.store.secret("artifact-" + token)
    if raw is None:
        return None
    record = json.loads(raw)
    return dict(record, content=base64.b64decode(record["content"]))


def launch_on(sim: Sim, agent: int) -> dict[str, Any]:
    [accept] = of(sim.offers(agent), fx.Accept)
    return launched_task(accept)


def ready(sim: Sim, name: str, agent: int) -> None:
    sim.run(name, agent)
    sim.status(sim.task_of(name), "TASK_RUNNING", agent, **READY)


def deploy(sim: Sim) -> None:
    sim.subscribe()
    for agent, name in enumerate(("galera-0", "galera-1", "galera-2"), start=1):
        launch_on(sim, agent)
        ready(sim, name, agent)
