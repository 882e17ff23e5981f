"""The data the evaluator takes in and hands back: requests, footprints and the context.

A ``Request`` is one pod instance that needs an offer: a first launch, a relaunch in place on its
reservation, or a permanent replacement elsewhere. A ``Footprint`` is what an instance holds on an
agent (resource ids, persistence ids, ports, where): the scheduler core stores it *before* it sends
the ACCEPT (record before you send), passes every stored footprint back in the ``Context``, and the
clean-up treats labelled resources that no footprint names as garbage. Footprints convert to and
from plain dicts for the state store.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mesopress.model import ids
from mesopress.model.specs import PodSpec


class Kind(enum.Enum):
    LAUNCH = "launch"
    RELAUNCH = "relaunch"
    REPLACE = "replace"


@dataclass(frozen=True)
class Footprint:
    """What one pod instance holds on one agent."""

    instance: str
    agent_id: str
    hostname: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)
    resource_ids: Mapping[str, str] = field(default_factory=dict)
    persistence_ids: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)

    @functools.cached_property
    def pod(self) -> str:
        parsed = ids.parse_instance(self.instance)
        return parsed[0] if parsed else self.instance

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "agent_id": self.agent_id,
            "hostname": self.hostname,
            "attributes": dict(self.attributes),
            "resource_ids": dict(self.resource_ids),
            "persistence_ids": dict(self.persistence_ids),
            "ports": dict(self.ports),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Footprint:
        return cls(
            instance=data["instance"],
            agent_id=data["agent_id"],
            hostname=data.get("hostname", ""),
            attributes=dict(data.get("attributes", {})),
            resource_ids=dict(data.get("resource_ids", {})),
            persistence_ids=dict(data.get("persistence_ids", {})),
            ports={k: int(v) for k, v in data.get("ports", {}).items()},
        )


@dataclass(frozen=True)
class Request:
    """One pod instance waiting for an offer; ``previous`` is its footprint (relaunch, replace)."""

    kind: Kind
    pod: PodSpec
    index: int
    task_id: str
    previous: Footprint | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    @functools.cached_property
    def instance(self) -> str:
        return ids.name_instance(self.pod.name, self.index)


def launch(pod: PodSpec, index: int, task_id: str, env: Mapping[str, str] | None = None) -> Request:
    """A first launch: reserve, create volumes and launch on any agent that fits the placement."""
    return Request(Kind.LAUNCH, pod, index, task_id, None, dict(env or {}))


def relaunch(
    pod: PodSpec, previous: Footprint, task_id: str, env: Mapping[str, str] | None = None
) -> Request:
    """A restart in place: launch on the labelled reservation and the same volumes."""
    return Request(Kind.RELAUNCH, pod, _index(previous), task_id, previous, dict(env or {}))


def replace(pod: PodSpec, failed: Footprint, task_id: str, env: Mapping[str, str] | None = None) -> Request:
    """A permanent replacement: new reservation and empty volumes, never on the failed agent."""
    return Request(Kind.REPLACE, pod, _index(failed), task_id, failed, dict(env or {}))


def _index(footprint: Footprint) -> int:
    parsed = ids.parse_instance(footprint.instance)
    if parsed is None:
        raise ValueError(f"error reading footprint: {footprint.instance!r} is not a pod instance name")
    return parsed[1]


@dataclass(frozen=True)
class Context:
    """Who we are and what we already hold; ``new_uuid`` makes ids (fixed in tests)."""

    service: str
    role: str
    principal: str
    footprints: Sequence[Footprint] = ()
    new_uuid: ids.UuidSource = ids.random_uuid
    refuse_long: float = 3600.0
    refuse_short: float = 15.0

    def known_resource_ids(self) -> set[str]:
        return {rid for fp in self.footprints for rid in fp.resource_ids.values()}

    def known_persistence_ids(self) -> set[str]:
        return {pid for fp in self.footprints for pid in fp.persistence_ids.values()}
