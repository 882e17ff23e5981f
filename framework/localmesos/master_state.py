"""The localmesos master's ``/state`` document, shaped like Mesos' (field names of Mesos 1.11's /state).

Why this module exists: operators, tests and mesopress' own tooling read reservations, volumes and tasks
from /state (``slaves[].reserved_resources_full`` in particular). Building that JSON is pure formatting
over the master's records, so it lives apart from the behaviour. Runs with the master lock held.
"""

from __future__ import annotations

import copy
from typing import Any

from localmesos.master_model import AgentRec, FrameworkRec, OfferRec, TaskRec, sum_resources
from localmesos.resources import Resources


def attributes_json(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    """Mesos /state renders attributes as {name: value}."""
    out: dict[str, Any] = {}
    for attr in attributes:
        name = attr.get("name")
        kind = attr.get("type")
        if kind == "SCALAR":
            out[name] = (attr.get("scalar") or {}).get("value")
        elif kind == "RANGES":
            ranges = (attr.get("ranges") or {}).get("range") or []
            out[name] = "[" + ", ".join(f"{r.get('begin')}-{r.get('end')}" for r in ranges) + "]"
        elif kind == "SET":
            out[name] = "{" + ",".join((attr.get("set") or {}).get("item") or []) + "}"
        else:
            out[name] = (attr.get("text") or {}).get("value")
    return out


def task_json(task: TaskRec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": task.task_id,
        "name": task.info.get("name", ""),
        "framework_id": task.framework_id,
        "executor_id": task.executor_id or "",
        "slave_id": task.agent_id,
        "agent_id": task.agent_id,
        "state": task.state,
        "role": task.role,
        "resources": task.resources.summary(),
        "statuses": [],
    }
    if task.status is not None:
        status = {"state": task.status.get("state"), "timestamp": task.status.get("timestamp")}
        out["statuses"].append(status)
    if task.info.get("labels"):
        out["labels"] = copy.deepcopy((task.info["labels"] or {}).get("labels") or [])
    if task.unreachable_time is not None:
        out["unreachable_time"] = {"nanoseconds": int(task.unreachable_time * 1e9)}
    return out


def offer_json(offer: OfferRec) -> dict[str, Any]:
    return {
        "id": offer.offer_id,
        "framework_id": offer.framework_id,
        "slave_id": offer.agent_id,
        "allocation_info": {"role": offer.role},
        "resources": offer.unallocated.summary(),
    }


class StateMixin:
    """``Master.state()``."""

    def state(self) -> dict[str, Any]:
        """Mesos-like /state JSON."""
        with self.lock:
            agents = list(self.agents.values())
            return {
                "version": self.config.version,
                "id": self.master_id,
                "pid": self.info["pid"],
                "hostname": self.config.hostname,
                "leader": self.info["pid"],
                "leader_info": copy.deepcopy(self.info),
                "start_time": self.start_time,
                "elected_time": self.start_time,
                "activated_slaves": sum(1 for a in agents if a.state == "active"),
                "deactivated_slaves": sum(1 for a in agents if a.state == "disconnected"),
                "unreachable_slaves": len(self.registry.unreachable),
                "slaves": [self._agent_state(a) for a in agents if a.state in ("active", "disconnected")],
                # frameworks known only from re-registered agents are listed with "recovered": true;
                # Mesos 1.11 keeps the two legacy lists below, always empty
                "frameworks": [self._framework_state(f) for f in self.frameworks.values()],
                "completed_frameworks": [self._framework_state(f) for f in self.completed_frameworks],
                "unregistered_frameworks": [],
                "orphan_tasks": [],
                "localmesos": self._localmesos_state(agents),
            }

    def _agent_state(self, agent: AgentRec) -> dict[str, Any]:
        used = self._used(agent).unallocate()
        offered = self._offered(agent).unallocate()
        reserved = agent.total.reserved_by_role()
        return {
            "id": agent.agent_id,
            "pid": f"slave(1)@{agent.hostname}:{agent.port}",
            "hostname": agent.hostname,
            "port": agent.port,
            "registered_time": agent.registered_time,
            "active": agent.state == "active",
            "attributes": attributes_json(agent.attributes),
            "resources": agent.total.summary(),
            "used_resources": used.summary(),
            "offered_resources": offered.summary(),
            "unreserved_resources": agent.total.unreserved().summary(),
            "reserved_resources": {role: r.summary() for role, r in reserved.items()},
            "reserved_resources_full": {role: r.to_json() for role, r in reserved.items()},
            "unreserved_resources_full": agent.total.unreserved().to_json(),
            "used_resources_full": self._used(agent).to_json(),
            "offered_resources_full": sum_resources(self.offers[o].resources for o in agent.offers).to_json(),
        }

    def _framework_state(self, fw: FrameworkRec) -> dict[str, Any]:
        info = fw.info
        offers = [self.offers[o] for o in fw.offers if o in self.offers]
        live = [t for t in fw.tasks.values() if not t.released]
        used = Resources()
        for task in live:
            used = used + task.resources
        offered = Resources()
        for offer in offers:
            offered = offered + offer.unallocated
        out: dict[str, Any] = {
            "id": fw.framework_id,
            "name": info.get("name", ""),
            "user": info.get("user", ""),
            "hostname": info.get("hostname", ""),
            "webui_url": info.get("webui_url", ""),
            "principal": fw.principal,
            "roles": list(fw.roles),
            "suppressed_roles": sorted(fw.suppressed),
            "capabilities": sorted(fw.capabilities),
            "checkpoint": fw.checkpoint,
            "failover_timeout": float(info.get("failover_timeout") or 0.0),
            "active": fw.connected,
            "connected": fw.connected,
            "recovered": fw.recovered,
            "registered_time": fw.registered_time,
            "reregistered_time": fw.reregistered_time,
            "unregistered_time": fw.unregistered_time or 0.0,
            "tasks": [task_json(t) for t in fw.tasks.values()],
            "unreachable_tasks": [task_json(t) for t in fw.unreachable_tasks.values()],
            "completed_tasks": [task_json(t) for t in fw.completed_tasks],
            "offers": [offer_json(o) for o in offers],
            "used_resources": used.unallocate().summary(),
            "offered_resources": offered.unallocate().summary(),
        }
        if "role" in info:
            out["role"] = info["role"]
        return out

    def _localmesos_state(self, agents: list[AgentRec]) -> dict[str, Any]:
        listed = [
            {"id": a.agent_id, "name": a.name, "state": a.state, "hostname": a.hostname} for a in agents
        ]
        known = {a.agent_id for a in agents}
        for agent_id in sorted(self.registry.unreachable):
            if agent_id not in known:
                listed.append({"id": agent_id, "name": None, "state": "unreachable", "hostname": None})
        for agent_id in sorted(self.registry.gone):
            if agent_id not in known:
                listed.append({"id": agent_id, "name": None, "state": "gone", "hostname": None})
        for agent_id in sorted(self.recovering):
            listed.append({"id": agent_id, "name": None, "state": "recovering", "hostname": None})
        return {"agents": listed, "master_id": self.master_id}
