"""The end-to-end story of issue 2: the persistent-volume life cycle through the real pymesos driver.

A small pymesos scheduler reserves resources, creates a volume and launches a task that writes a file into
it; the task is killed; the same volume comes back in an offer from the same agent with the file intact; a
second task on it reads the file; then the volume is destroyed and the resources unreserved, after which
the master's /state shows nothing reserved for the role and the volume directory is gone.
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymesos import MesosSchedulerDriver

from localmesos.cluster import Cluster
from support.ports import agent_ports
from support.waiting import eventually

ROLE = "story"
PRINCIPAL = "story-fw"
LABELS = {"labels": [{"key": "owner", "value": "story"}]}
RESERVATION = [{"type": "DYNAMIC", "role": ROLE, "principal": PRINCIPAL, "labels": LABELS}]
TIMEOUT = 30.0


class RecordingScheduler:
    """pymesos callbacks only record; the test thread decides (one thread decides)."""

    def __init__(self) -> None:
        self.offers: queue.Queue[dict[str, Any]] = queue.Queue()
        self.updates: queue.Queue[dict[str, Any]] = queue.Queue()
        self.subscribed = threading.Event()
        self.errors: list[str] = []

    def registered_(self, *_: Any) -> None:
        self.subscribed.set()

    def __getattr__(self, name: str) -> Callable[..., None]:
        # pymesos calls every callback by name; the ones we do not care about are no-ops.
        if name in {"registered", "reregistered"}:
            return self.registered_
        return lambda *args: None

    def resourceOffers(self, driver: Any, offers: list[dict[str, Any]]) -> None:  # noqa: N802 - pymesos name
        for offer in offers:
            self.offers.put(offer)

    def statusUpdate(self, driver: Any, status: dict[str, Any]) -> None:  # noqa: N802 - pymesos name
        self.updates.put(status)

    def error(self, driver: Any, message: str) -> None:
        self.errors.append(message)


def _scalar(name: str, value: float) -> dict[str, Any]:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}, "reservations": RESERVATION}


def _volume(persistence_id: str) -> dict[str, Any]:
    disk = _scalar("disk", 32)
    disk["disk"] = {
        "persistence": {"id": persistence_id, "principal": PRINCIPAL},
        "volume": {"container_path": "data", "mode": "RW"},
    }
    return disk


def _task(name: str, agent_id: str, persistence_id: str, command: str) -> dict[str, Any]:
    return {
        "name": name,
        "task_id": {"value": f"{name}-{uuid.uuid4().hex[:8]}"},
        "agent_id": {"value": agent_id},
        "resources": [_scalar("cpus", 0.5), _scalar("mem", 64), _volume(persistence_id)],
        "command": {"shell": True, "value": command},
    }


def _next_offer(sched: RecordingScheduler, driver: Any, want: Callable[[dict[str, Any]], bool]) -> dict:
    """Return the first offer satisfying `want`; decline the others at once (no filter)."""
    deadline_q: queue.Queue[None] = queue.Queue()
    timer = threading.Timer(TIMEOUT, deadline_q.put, args=(None,))
    timer.start()
    try:
        while deadline_q.empty():
            try:
                offer = sched.offers.get(timeout=0.5)
            except queue.Empty:
                continue
            if want(offer):
                return offer
            driver.declineOffer([offer["id"]], {"refuse_seconds": 0})
        raise AssertionError(f"no wanted offer within {TIMEOUT}s")
    finally:
        timer.cancel()


def _wait_state(sched: RecordingScheduler, task_id: str, states: set[str]) -> dict[str, Any]:
    seen = []
    while True:
        try:
            status = sched.updates.get(timeout=TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"{task_id} never reached {states}; saw {seen}") from None
        if status["task_id"]["value"] != task_id:
            continue
        seen.append(status["state"])
        if status["state"] in states:
            return status


def _volumes_in(offer: dict[str, Any]) -> list[str]:
    return [
        r["disk"]["persistence"]["id"] for r in offer["resources"] if r.get("disk", {}).get("persistence")
    ]


def _master_state(cluster: Cluster) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{cluster.master_url}/state", timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(
        tmp_path / "cluster",
        agents=2,
        port=0,
        allocation_interval=0.2,
        agent_resources=f"cpus:2;mem:1024;disk:2048;ports:{agent_ports(2, 100)[1]}",
    )
    c.start()
    try:
        yield c
    finally:
        c.stop()


def test_volume_survives_task_death_and_is_cleaned_up(cluster: Cluster) -> None:
    sched = RecordingScheduler()
    framework = {
        "user": "root",
        "name": "story",
        "roles": [ROLE],
        "principal": PRINCIPAL,
        "checkpoint": True,
        "failover_timeout": 60.0,
        "capabilities": [
            {"type": "MULTI_ROLE"},
            {"type": "RESERVATION_REFINEMENT"},
            {"type": "PARTITION_AWARE"},
        ],
    }
    driver = MesosSchedulerDriver(sched, framework, cluster.master_url, use_addict=False, failover=True)
    driver.start()
    try:
        assert sched.subscribed.wait(TIMEOUT), "framework never registered"
        persistence_id = f"story-{uuid.uuid4()}"

        # 1. RESERVE + CREATE + LAUNCH in one ACCEPT; the task writes into its volume.
        offer = _next_offer(sched, driver, lambda o: any(r["name"] == "cpus" for r in o["resources"]))
        agent_id = offer["agent_id"]["value"]
        writer = _task("writer", agent_id, persistence_id, "echo kept > data/f && exec sleep 600")
        driver.acceptOffers(
            [offer["id"]],
            [
                {
                    "type": "RESERVE",
                    "reserve": {"resources": [_scalar("cpus", 0.5), _scalar("mem", 64), _scalar("disk", 32)]},
                },
                {"type": "CREATE", "create": {"volumes": [_volume(persistence_id)]}},
                {"type": "LAUNCH", "launch": {"task_infos": [writer]}},
            ],
            {"refuse_seconds": 0},
        )
        _wait_state(sched, writer["task_id"]["value"], {"TASK_RUNNING"})
        volume_dir = cluster.agent(agent_id).work_dir / "volumes" / "roles" / ROLE / persistence_id
        eventually(lambda: (volume_dir / "f").exists())

        # 2. Kill it; the volume comes back on the same agent with the data intact.
        driver.killTask(writer["task_id"])
        _wait_state(sched, writer["task_id"]["value"], {"TASK_KILLED"})
        offer = _next_offer(sched, driver, lambda o: persistence_id in _volumes_in(o))
        assert offer["agent_id"]["value"] == agent_id
        assert (volume_dir / "f").read_text() == "kept\n"

        # 3. Launch again on the same reservation and volume: the task finishes only if it reads the file.
        reader = _task("reader", agent_id, persistence_id, 'test "$(cat data/f)" = kept')
        driver.acceptOffers(
            [offer["id"]], [{"type": "LAUNCH", "launch": {"task_infos": [reader]}}], {"refuse_seconds": 0}
        )
        _wait_state(sched, reader["task_id"]["value"], {"TASK_FINISHED"})

        # 4. DESTROY then UNRESERVE everything reserved for the role.
        offer = _next_offer(sched, driver, lambda o: persistence_id in _volumes_in(o))
        reserved = [r for r in offer["resources"] if r.get("reservations")]
        volumes = [r for r in reserved if r.get("disk", {}).get("persistence")]
        plain = [{k: v for k, v in r.items() if k != "disk"} for r in reserved]
        driver.acceptOffers(
            [offer["id"]],
            [
                {"type": "DESTROY", "destroy": {"volumes": volumes}},
                {"type": "UNRESERVE", "unreserve": {"resources": plain}},
            ],
            {"refuse_seconds": 0},
        )

        def nothing_reserved() -> bool:
            state = _master_state(cluster)
            return all(not s.get("reserved_resources_full", {}).get(ROLE) for s in state["slaves"])

        eventually(nothing_reserved, message=lambda: str(_master_state(cluster)["slaves"]))
        eventually(lambda: not volume_dir.exists())
        assert not sched.errors
    finally:
        driver.stop(failover=True)
        driver.join()
