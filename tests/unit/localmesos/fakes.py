"""Test doubles for the localmesos master: a recording AgentLink, a controllable clock, and a small
harness that subscribes frameworks and sends calls the way server.py would (already-parsed call dicts).

Why this module exists: master tests must drive time and agents by hand (no sleeps, no processes) and
read back exactly what the master told frameworks and agents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localmesos import resources_text as rtext
from localmesos.master import Master, MasterConfig, Subscription

AGENT_SPEC = "cpus:4;mem:4096;disk:10000;ports:[31000-31999]"
ROLE = "galera"
PRINCIPAL = "galera-fw"
ALL_CAPS = ("MULTI_ROLE", "RESERVATION_REFINEMENT", "PARTITION_AWARE")


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeAgent:
    """Records every AgentLink call as (method, args...)."""

    def __init__(self, name: str = "agent-0") -> None:
        self.name = name
        self.agent_id: str | None = None
        self.calls: list[tuple[Any, ...]] = []

    def run_task(self, framework_id: str, framework_info: dict, task: dict) -> None:
        self.calls.append(("run_task", framework_id, task))

    def kill_task(self, framework_id: str, task_id: str, kill_policy: dict | None) -> None:
        self.calls.append(("kill_task", framework_id, task_id, kill_policy))

    def acknowledge(self, framework_id: str, task_id: str, uuid: str) -> None:
        self.calls.append(("acknowledge", framework_id, task_id, uuid))

    def checkpoint_resources(self, total: list[dict]) -> None:
        self.calls.append(("checkpoint_resources", total))

    def shutdown_framework(self, framework_id: str) -> None:
        self.calls.append(("shutdown_framework", framework_id))

    def reregister(self, master: Any) -> None:
        self.calls.append(("reregister", master))

    def of(self, method: str) -> list[tuple[Any, ...]]:
        return [c for c in self.calls if c[0] == method]


def framework_info(
    name: str = "fw",
    roles: tuple[str, ...] = (ROLE,),
    caps: tuple[str, ...] = ALL_CAPS,
    principal: str | None = PRINCIPAL,
    **extra: Any,
) -> dict[str, Any]:
    info: dict[str, Any] = {"user": "root", "name": name, "capabilities": [{"type": c} for c in caps]}
    if "MULTI_ROLE" in caps:
        info["roles"] = list(roles)
    elif roles:
        info["role"] = roles[0]
    if principal is not None:
        info["principal"] = principal
    info.update(extra)
    return info


def subscribe_call(info: dict[str, Any], suppressed: tuple[str, ...] = ()) -> dict[str, Any]:
    call: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
    if "id" in info:
        call["framework_id"] = info["id"]
    if suppressed:
        call["subscribe"]["suppressed_roles"] = list(suppressed)
    return call


def agent_info(spec: str = AGENT_SPEC, hostname: str = "127.0.0.1", port: int = 5051, **extra: Any) -> dict:
    info = {
        "hostname": hostname,
        "port": port,
        "resources": rtext.parse(spec).to_json(),
        "attributes": [],
        "tasks": [],
        "frameworks": [],
    }
    info.update(extra)
    return info


def reservation(role: str = ROLE, principal: str = PRINCIPAL, label: str | None = "pod-0") -> dict[str, Any]:
    entry: dict[str, Any] = {"type": "DYNAMIC", "role": role, "principal": principal}
    if label is not None:
        entry["labels"] = {"labels": [{"key": "pod", "value": label}]}
    return entry


def scalar(name: str, amount: float, reserve: dict | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "type": "SCALAR", "scalar": {"value": amount}}
    if reserve is not None:
        out["reservations"] = [reserve]
    out.update(extra)
    return out


def volume(
    amount: float, persistence_id: str, reserve: dict | None = None, path: str = "data"
) -> dict[str, Any]:
    res = scalar("disk", amount, reserve or reservation())
    res["disk"] = {
        "persistence": {"id": persistence_id, "principal": PRINCIPAL},
        "volume": {"container_path": path, "mode": "RW"},
    }
    return res


def task_info(task_id: str, agent_id: str, res: list[dict], command: str = "sleep 1000") -> dict[str, Any]:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id},
        "resources": res,
        "command": {"shell": True, "value": command},
    }


class Framework:
    """One subscribed framework as a scheduler sees it."""

    def __init__(self, harness: Harness, sub: Subscription) -> None:
        self.h = harness
        self.sub = sub
        self.seen: list[dict[str, Any]] = []

    @property
    def id(self) -> str:
        return self.sub.framework_id

    def call(self, call_type: str, body: dict | None = None, stream_id: str | None = "", **kw: Any) -> int:
        call: dict[str, Any] = {"type": call_type, "framework_id": {"value": self.id}}
        if body is not None:
            call[call_type.lower()] = body
        sid = self.sub.stream_id if stream_id == "" else stream_id
        status, _ = self.h.master.call(call, sid, kw.get("principal"))
        return status

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """New events since the last call (all, or only ``event_type``)."""
        new = self.sub.drain()
        self.seen.extend(new)
        return [e for e in new if event_type is None or e["type"] == event_type]

    def offers(self) -> list[dict[str, Any]]:
        return [o for e in self.events("OFFERS") for o in e["offers"]["offers"]]

    def updates(self) -> list[dict[str, Any]]:
        return [e["update"]["status"] for e in self.events("UPDATE")]

    def accept(self, offers: list[dict], ops: list[dict], filters: dict | None = None) -> int:
        body: dict[str, Any] = {"offer_ids": [o["id"] for o in offers], "operations": ops}
        if filters is not None:
            body["filters"] = filters
        return self.call("ACCEPT", body)

    def decline(self, offers: list[dict], filters: dict | None = None) -> int:
        body: dict[str, Any] = {"offer_ids": [o["id"] for o in offers]}
        if filters is not None:
            body["filters"] = filters
        return self.call("DECLINE", body)


class Harness:
    """A master with a fake clock and fake agents."""

    def __init__(self, work_dir: Path, **config: Any) -> None:
        self.work_dir = work_dir
        self.clock = FakeClock()
        self.wall = FakeClock(1_700_000_000.0)
        self.config = MasterConfig(work_dir=work_dir, **config)
        self.master = Master(self.config, clock=self.clock, wallclock=self.wall)
        self.agents: dict[str, FakeAgent] = {}

    def add_agent(self, spec: str = AGENT_SPEC, name: str | None = None, **extra: Any) -> str:
        agent = FakeAgent(name or f"agent-{len(self.agents)}")
        agent_id = self.master.register_agent(agent, None, agent_info(spec, **extra))
        agent.agent_id = agent_id
        self.agents[agent_id] = agent
        return agent_id

    def subscribe(self, info: dict[str, Any] | None = None, **kw: Any) -> Framework:
        sub = self.master.subscribe(subscribe_call(info or framework_info(), **kw), None)
        return Framework(self, sub)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.wall.advance(seconds)
        self.master.tick()

    def restart(self) -> Master:
        self.master.stop()
        self.master = Master(self.config, clock=self.clock, wallclock=self.wall)
        return self.master

    def status(
        self, agent_id: str, fw: Framework, task_id: str, state: str, uuid: str = "AAAAAAAAAAAAAAAAAAAAAA=="
    ) -> dict:
        status = {
            "task_id": {"value": task_id},
            "state": state,
            "source": "SOURCE_EXECUTOR",
            "agent_id": {"value": agent_id},
            "executor_id": {"value": task_id},
            "timestamp": self.wall.now,
            "uuid": uuid,
        }
        self.master.status_update(agent_id, fw.id, status)
        return status
