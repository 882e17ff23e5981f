"""The pod-kind hook: the one place where Galera- or WordPress-specific behaviour plugs into the core.

Why this module exists: the scheduler core is generic over pods (reserve, launch, relaunch, replace,
clean up). What differs per kind of pod is small and well delimited: extra environment computed at
launch time (a Galera peer list, a WordPress database address), the files a task gets (rendered
configuration and secrets, served once by the scheduler: `task_files`), the secrets a kind needs
generated once per service (`secret_specs`), what a status update's check result
means for readiness, how the pod's instances are rolled out, and extra plan phases a kind wants to
show. A `PodKind` answers those questions; `DefaultKind` is what every pod gets unless the core is
given another one for its pod name (`SchedulerCore(..., kinds={"galera": GaleraKind()})`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from mesopress.kinds.common import SecretSpecs, TaskFile
from mesopress.machines.instance import InstanceState
from mesopress.model.specs import PodSpec
from mesopress.plans.plan import Phase, Strategy


class PodKind(Protocol):
    """What the core asks about a kind of pod. Every method is pure: values in, values out."""

    @property
    def strategy(self) -> Strategy:
        """How the pod's instances are rolled out (a class attribute is fine)."""
        ...

    def task_environment(
        self,
        pod: PodSpec,
        instance: str,
        instances: Mapping[str, InstanceState],
        endpoints: Mapping[str, Any],
    ) -> Mapping[str, str]:
        """Variables added last to the task's environment (they win). `endpoints`: instance -> footprint
        dict (agent, hostname, ports) of every instance that holds resources."""
        ...

    def task_files(
        self,
        pod: PodSpec,
        instance: str,
        instances: Mapping[str, InstanceState],
        endpoints: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> Mapping[str, TaskFile]:
        """Files (sandbox-relative path -> TaskFile) for the task being launched; called once the offer
        is matched, so `endpoints[instance]` is the instance's new footprint (host, ports). `secrets`:
        every generated service secret by name. Optional: a kind without it gets no files."""
        ...

    def secret_specs(self, pod: PodSpec) -> SecretSpecs:
        """Secrets this kind needs (name -> generator), generated and stored once per service.
        Optional: a kind without it needs none."""
        ...

    def is_ready(self, pod: PodSpec, status: Mapping[str, Any]) -> bool:
        """Does this TASK_RUNNING update (Mesos JSON) say the instance is ready?"""
        ...

    def extra_plan_phases(self, pod: PodSpec, instances: Mapping[str, InstanceState]) -> tuple[Phase, ...]:
        """Phases shown after the pod's deploy phase (display only; the kind acts through its own code)."""
        ...


class DefaultKind:
    """A generic pod: serial rollout; ready when its readiness check passes (or running, without one)."""

    strategy: Strategy = Strategy.SERIAL

    def __init__(self, strategy: Strategy = Strategy.SERIAL) -> None:
        self.strategy = strategy

    def task_environment(
        self,
        pod: PodSpec,
        instance: str,
        instances: Mapping[str, InstanceState],
        endpoints: Mapping[str, Any],
    ) -> Mapping[str, str]:
        return {}

    def task_files(
        self,
        pod: PodSpec,
        instance: str,
        instances: Mapping[str, InstanceState],
        endpoints: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> Mapping[str, TaskFile]:
        return {}

    def secret_specs(self, pod: PodSpec) -> SecretSpecs:
        return {}

    def is_ready(self, pod: PodSpec, status: Mapping[str, Any]) -> bool:
        if status.get("state") != "TASK_RUNNING":
            return False
        if pod.readiness_check is None:
            return True
        return check_passed(status.get("check_status") or {})

    def extra_plan_phases(self, pod: PodSpec, instances: Mapping[str, InstanceState]) -> tuple[Phase, ...]:
        return ()


def check_passed(check_status: Mapping[str, Any]) -> bool:
    """A Mesos CheckStatusInfo: command exit 0, HTTP 2xx/3xx, or TCP connected."""
    command = check_status.get("command") or {}
    if "exit_code" in command:
        return bool(command["exit_code"] == 0)
    http = check_status.get("http") or {}
    if "status_code" in http:
        return 200 <= int(http["status_code"]) < 400
    tcp = check_status.get("tcp") or {}
    return bool(tcp.get("succeeded", False))
