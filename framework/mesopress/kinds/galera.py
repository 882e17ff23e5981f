"""The Galera pod kind: each node one task running mariadbd through `galera_node run` with a rendered config.

Why this module exists: what makes a pod a Galera cluster is decided here, as values: the pod's defaults
(four reserved ports sql/galera/ist/sst kept across relaunches, a data volume, at most one node per agent,
user mysql, the readiness `check` = `galera_node check`, never a killing health check), the config JSON of
each node (docs/galera.md: peers = every node's ``host:galera``, rendered again at every launch so a
replacement's new address reaches every node that starts later), the three generated secrets, and
whether a launch bootstraps. The core stores and serves; `should_bootstrap` says who may start a new
cluster: node 0 on the very first deploy only, or the node a full-crash recovery chose.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from mesopress.galera import config as galera_config
from mesopress.kinds import common
from mesopress.kinds.common import SecretSpecs, TaskFile
from mesopress.machines.instance import InstanceState
from mesopress.model import ids
from mesopress.model.specs import PodSpec
from mesopress.plans.plan import Phase, Strategy
from mesopress.scheduler_kinds import DefaultKind

CONFIG_FILE = "galera.json"
VOLUME = "mysql-data"
PORTS = ("sql", "galera", "ist", "sst")
ROOT_SECRET, SST_SECRET, APP_SECRET = "galera-root-password", "galera-sst-password", "galera-app-password"
SECRET_FILES = {"root": ROOT_SECRET, "sst": SST_SECRET, "app": APP_SECRET}
RUN = common.bundle_command("galera_node", ["run", "--config", CONFIG_FILE])
CHECK = common.bundle_command("galera_node", ["check", "--config", CONFIG_FILE])
RECOVER = common.bundle_command("galera_node", ["recover", "--config", CONFIG_FILE])
DEFAULTS: dict[str, Any] = {
    "cpus": 0.5,
    "mem": 1024,
    "user": "mysql",
    "command": RUN,
    "ports": [{"name": name} for name in PORTS],
    "volumes": [{"container_path": VOLUME, "size": 2048}],
    "placement": {"unique_agent": True},
    "readiness_check": {"kind": "command", "command": CHECK, "interval": 3, "timeout": 10},
    "kill_grace_period": 60,  # SIGTERM, then mariadbd leaves the cluster cleanly before any SIGKILL
}
SETTINGS = {
    "size": 3,
    "allow_even": False,
    "min_volume_mb": 1024,
    "cluster_name": "mesopress",
    "sst_method": "rsync",
    "app_user": "wordpress",
    "app_database": "wordpress",
    "options": {},
}


def expand(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A service file's ``kind: galera`` pod with every default filled in (``count`` from
    ``galera.size``); the operator's own fields win."""
    section = dict(doc.get("galera") or {})
    pod = {k: v for k, v in DEFAULTS.items() if k not in doc} | dict(doc)
    pod.setdefault("count", section.get("size", SETTINGS["size"]))
    return pod


def check_pod(doc: Mapping[str, Any], path: str) -> list[str]:
    """Reasons a Galera pod is refused at config load: even or too small a size (unless allow_even),
    too small a volume, unknown settings."""
    section = doc.get("galera") or {}
    if not isinstance(section, dict):
        return [f"{path}.galera: must be a mapping, e.g. {{size: 3}}"]
    known = ", ".join(SETTINGS)
    errors = [f"{path}.galera.{k}: unknown setting; known: {known}" for k in section if k not in SETTINGS]
    count = doc.get("count", section.get("size", 3))
    volumes = [v for v in doc.get("volumes") or [] if _is_data_volume(v)]
    size = volumes[0].get("size") if volumes else None
    if not isinstance(count, int) or (size is not None and not isinstance(size, int)):
        return errors  # the generic checks report the types
    if not volumes:
        errors.append(f"{path}.volumes: a Galera pod needs a volume at container_path {VOLUME}")
    reasons = galera_config.validate_cluster(
        count, bool(section.get("allow_even", False)), size, int(section.get("min_volume_mb", 1024))
    )
    return errors + [f"{path}.galera.{reason}" for reason in reasons]


def _is_data_volume(volume: Any) -> bool:
    return isinstance(volume, dict) and volume.get("container_path") == VOLUME


def should_bootstrap(instance: str, launch: str, bootstrapped: bool, recovery_choice: str | None) -> bool:
    """May this launch start a new cluster? Only the node a recovery chose, or node 0's first launch on
    a cluster never bootstrapped before (a relaunch of node 0 before it was ever Synced too: its volume
    is empty, nobody else holds data)."""
    if recovery_choice is not None:
        return instance == recovery_choice
    parsed = ids.parse_instance(instance)
    return not bootstrapped and parsed is not None and parsed[1] == 0 and launch in ("launch", "relaunch")


@dataclasses.dataclass(frozen=True)
class GaleraKind(DefaultKind):
    """The hook for a Galera pod; `with_launch` gives the copy that renders one particular launch."""

    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    bootstrap: bool = False
    report_url: str = ""  # set: this launch is a one-shot `galera_node recover` that reports here
    strategy: Strategy = Strategy.SERIAL  # joins one at a time: the next waits for the previous' Synced
    # None: the `drain_seconds` setting. A node leaving (scale-down) or restarting (rollout) first
    # leaves /v1/endpoints, so the proxy moves its MySQL writer to another Synced node before the
    # clean shutdown (kill_grace_period) closes the node's connections (scheduler_scaling.drain_seconds)
    drain_seconds: float | None = None

    def with_launch(self, bootstrap: bool, report_url: str = "") -> GaleraKind:
        return dataclasses.replace(self, bootstrap=bootstrap, report_url=report_url)

    def launch_command(self, pod: PodSpec) -> str | None:
        """The command of this launch when it is not the pod's: the one-shot position recovery."""
        return RECOVER if self.report_url else None

    def secret_specs(self, pod: PodSpec) -> SecretSpecs:
        return {name: common.new_password for name in SECRET_FILES.values()}

    def task_files(
        self,
        pod: PodSpec,
        instance: str,
        instances: Mapping[str, InstanceState],
        endpoints: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> dict[str, TaskFile]:
        cfg = node_config(pod, instance, endpoints, dict(SETTINGS) | dict(self.settings), self.bootstrap)
        if self.report_url:
            cfg["report_url"] = self.report_url  # holds a single-use token: the file is secret
        text = json.dumps(cfg, indent=2, sort_keys=True).encode()
        files = {CONFIG_FILE: TaskFile(text, secret=bool(self.report_url))}
        for short, name in SECRET_FILES.items():
            files[common.secret_path(short)] = TaskFile(secrets[name].encode(), secret=True)
        return files

    def extra_plan_phases(self, pod: PodSpec, instances: Mapping[str, InstanceState]) -> tuple[Phase, ...]:
        return ()


def peers(pod: str, endpoints: Mapping[str, Any]) -> list[str]:
    """Every node's Galera address (``host:galera``) among the instances holding resources."""
    out = []
    for name, fp in sorted(endpoints.items()):
        parsed = ids.parse_instance(name)
        if parsed and parsed[0] == pod and "galera" in (fp.get("ports") or {}):
            out.append(f"{fp['hostname']}:{fp['ports']['galera']}")
    return out


def node_config(
    pod: PodSpec, instance: str, endpoints: Mapping[str, Any], settings: Mapping[str, Any], bootstrap: bool
) -> dict[str, Any]:
    """galera_node's config JSON (docs/galera.md) for `instance`, whose footprint is in `endpoints`."""
    own = endpoints[instance]
    return {
        "node": instance,
        "ports": {name: int(own["ports"][name]) for name in PORTS},
        "peers": peers(pod.name, endpoints),
        "volume": VOLUME,
        "host": own["hostname"],
        "cluster_name": settings["cluster_name"],
        "sst_method": settings["sst_method"],
        "bootstrap": bootstrap,
        "secrets": {short: common.secret_path(short) for short in SECRET_FILES},
        "restrict_secrets": True,
        "sst_user": "sst",
        "app_user": settings["app_user"],
        "app_database": settings["app_database"],
        "options": dict(settings.get("options") or {}),
    }
