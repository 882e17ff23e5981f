"""What the operator asked for: frozen dataclasses describing a service and its pods.

Specs are values: built once by ``model.config`` from a validated service file, compared by
``model.changes`` and read by the offer evaluator. They hold no Mesos ids and no runtime state, so two
loads of the same file give equal specs. Defaults live here, next to the fields they belong to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

CHECK_KINDS = ("command", "http", "tcp")
CONSTRAINT_OPERATORS = ("UNIQUE", "CLUSTER", "LIKE", "UNLIKE", "MAX_PER")
CHECK_TIMES = ("delay", "interval", "timeout", "grace_period")


@dataclass(frozen=True)
class PortSpec:
    """A named port; ``port`` 0 means any port from the offer. The task sees ``PORT_<NAME>``."""

    name: str
    port: int = 0

    @property
    def env_key(self) -> str:
        return "PORT_" + self.name.upper().replace("-", "_")


@dataclass(frozen=True)
class VolumeSpec:
    """A persistent volume of ``size`` MiB mounted at ``<sandbox>/<container_path>``."""

    container_path: str
    size: int


@dataclass(frozen=True)
class ConstraintSpec:
    """``attribute:OPERATOR[:value]``; ``hostname`` is a pseudo-attribute every agent has."""

    attribute: str
    operator: str
    value: str = ""

    def __str__(self) -> str:
        tail = f":{self.value}" if self.value else ""
        return f"{self.attribute}:{self.operator}{tail}"


@dataclass(frozen=True)
class PlacementSpec:
    """Where instances of a pod may run: at most one per agent, plus attribute constraints."""

    unique_agent: bool = True
    constraints: tuple[ConstraintSpec, ...] = ()


@dataclass(frozen=True)
class CheckSpec:
    """A readiness or health check run by Mesos: a shell command, an HTTP GET, or a TCP connect."""

    kind: str = "command"
    command: str = ""
    port: str = ""
    path: str = "/"
    delay: float = 0.0
    interval: float = 10.0
    timeout: float = 20.0
    grace_period: float = 60.0
    max_failures: int = 3


@dataclass(frozen=True)
class PodSpec:
    """A stateful pod: ``count`` instances named ``<name>-<index>``, each with its own reservation."""

    name: str
    count: int
    cpus: float
    mem: int
    command: str
    ports: tuple[PortSpec, ...] = ()
    volumes: tuple[VolumeSpec, ...] = ()
    placement: PlacementSpec = field(default_factory=PlacementSpec)
    env: tuple[tuple[str, str], ...] = ()
    user: str = ""
    readiness_check: CheckSpec | None = None
    health_check: CheckSpec | None = None
    kind: str = ""  # "" (generic) or a pod kind, e.g. galera (see mesopress.kinds)
    kind_settings: str = "{}"  # the kind's own section (e.g. `galera:`) as key-sorted JSON
    kill_grace_period: float | None = None  # seconds between SIGTERM and SIGKILL (None: Mesos' default)

    def port(self, name: str) -> PortSpec | None:
        return next((p for p in self.ports if p.name == name), None)

    def volume(self, container_path: str) -> VolumeSpec | None:
        return next((v for v in self.volumes if v.container_path == container_path), None)


@dataclass(frozen=True)
class ServiceSpec:
    """A whole service: the label every reservation carries, the role and principal, its pods."""

    name: str
    role: str
    principal: str
    user: str
    pods: tuple[PodSpec, ...]

    def pod(self, name: str) -> PodSpec | None:
        return next((p for p in self.pods if p.name == name), None)

    @property
    def pod_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.pods)


def build_service(doc: Mapping[str, Any], role: str, principal: str) -> ServiceSpec:
    """Specs from a service file that ``config.validate`` accepted; role and principal from settings."""
    user = doc.get("user", "")
    pods = tuple(_build_pod(p, user) for p in doc["pods"])
    return ServiceSpec(name=doc["name"], role=role, principal=principal, user=user, pods=pods)


def _build_pod(doc: Mapping[str, Any], user: str) -> PodSpec:
    placement = doc.get("placement", {})
    return PodSpec(
        name=doc["name"],
        count=doc["count"],
        cpus=float(doc["cpus"]),
        mem=doc["mem"],
        command=doc["command"],
        ports=tuple(PortSpec(p["name"], p.get("port", 0)) for p in doc.get("ports", [])),
        volumes=tuple(VolumeSpec(v["container_path"], v["size"]) for v in doc.get("volumes", [])),
        placement=PlacementSpec(
            unique_agent=placement.get("unique_agent", True),
            constraints=tuple(_build_constraint(c) for c in placement.get("constraints", [])),
        ),
        env=tuple(sorted((k, str(v)) for k, v in doc.get("env", {}).items())),
        user=doc.get("user", user),
        readiness_check=_build_check(doc.get("readiness_check")),
        health_check=_build_check(doc.get("health_check")),
        kind=doc.get("kind", ""),
        kind_settings=json.dumps(doc.get(doc.get("kind", ""), None) or {}, sort_keys=True),
        kill_grace_period=float(doc["kill_grace_period"]) if "kill_grace_period" in doc else None,
    )


def _build_constraint(text: str) -> ConstraintSpec:
    attribute, operator, *rest = text.split(":", 2)
    return ConstraintSpec(attribute, operator, rest[0] if rest else "")


def _build_check(doc: Mapping[str, Any] | None) -> CheckSpec | None:
    if doc is None:
        return None
    values: dict[str, Any] = {k: float(doc[k]) for k in CHECK_TIMES if k in doc}
    values.update({k: doc[k] for k in ("kind", "command", "port", "path", "max_failures") if k in doc})
    return CheckSpec(**values)
