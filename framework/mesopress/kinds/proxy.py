"""The proxy pod kind (HAProxy via `mesopress.tasks.proxy`) and the endpoints it follows.

Why the proxy polls the scheduler instead of getting its backends at launch: WordPress instances come
and go (scaling, relaunches on new ports, replacements) while the proxy keeps running; a relaunch of
the proxy for every change would drop connections. So the proxy gets only its own ports and the
check credentials at launch, and polls the scheduler's `/v1/endpoints` every second
(`MESOPRESS_ENDPOINTS_URL`); `wordpress.proxy.from_scheduler` keeps only READY WordPress and media
instances (one leaving, or not yet passing its readiness check, gets no new request) and every Galera
node with `synced` = its readiness, so the one writer is a node the scheduler saw Synced (the HAProxy
external check confirms it independently).

Which scheduler it polls: `proxy.json` lists every live scheduler's API URL at launch (`schedulers`,
this leader first; from the election nodes, `adapters.schedulers`) and the operator's `api_url` if
set (tried first); the program refreshes the list from each /v1/endpoints answer, so it keeps
following the endpoints when the scheduler that launched it dies.

Pure: values in, values out. `site_kinds` builds the kinds of a WordPress service for the core.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mesopress.kinds import media, wordpress
from mesopress.kinds.common import SecretSpecs, TaskFile, new_password
from mesopress.kinds.wordpress import DB_SECRET, footprint, site_of
from mesopress.machines.instance import InstanceState
from mesopress.model.specs import PodSpec, ServiceSpec
from mesopress.plans.plan import Phase, Strategy
from mesopress.scheduler_kinds import check_passed
from mesopress.wordpress.proxy import ENDPOINTS_PATH, SCHEDULERS_KEY

CONFIG_FILE = "proxy.json"
CHECK_FILE = "secrets/check.json"
URL_ENV = "MESOPRESS_ENDPOINTS_URL"
POLL_INTERVAL_S = 1.0


class ProxyKind:
    """One HAProxy task: its ports and check credentials at launch, backends by polling."""

    strategy: Strategy = Strategy.SERIAL

    def __init__(
        self,
        endpoints_url: str,
        db_user: str = "wordpress",
        schedulers: Callable[[], Sequence[str]] = tuple,
        api_url: str = "",
    ) -> None:
        self.endpoints_url = endpoints_url
        self.db_user = db_user
        self.schedulers = schedulers  # live scheduler URLs, leader first (read from memory)
        self.api_url = api_url

    def task_environment(
        self,
        pod: PodSpec,
        instance: str,
        instances: Mapping[str, InstanceState],
        endpoints: Mapping[str, Any],
    ) -> Mapping[str, str]:
        return {URL_ENV: self.endpoints_url}

    def task_files(
        self,
        pod: PodSpec,
        instance: str,
        instances: Mapping[str, InstanceState],
        endpoints: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> dict[str, TaskFile]:
        ports = footprint(endpoints, instance)["ports"]
        config: dict[str, Any] = {
            "host": "0.0.0.0",
            "http_port": int(ports["http"]),
            "mysql_port": int(ports["mysql"]),
            "check_credentials_file": CHECK_FILE,
            "poll_interval_s": POLL_INTERVAL_S,
            "restrict_secrets": True,
            "schedulers": scheduler_urls(self.schedulers(), self.endpoints_url),
        }
        if self.api_url:
            config["api_url"] = self.api_url.rstrip("/")
        check = {"user": self.db_user, "password": secrets[DB_SECRET]}
        return {
            CONFIG_FILE: TaskFile(json.dumps(config, indent=2, sort_keys=True).encode(), False),
            CHECK_FILE: TaskFile(json.dumps(check).encode(), True),
        }

    def secret_specs(self, pod: PodSpec) -> SecretSpecs:
        return {DB_SECRET: new_password}

    def is_ready(self, pod: PodSpec, status: Mapping[str, Any]) -> bool:
        if status.get("state") != "TASK_RUNNING":
            return False
        return pod.readiness_check is None or check_passed(status.get("check_status") or {})

    def extra_plan_phases(self, pod: PodSpec, instances: Mapping[str, InstanceState]) -> tuple[Phase, ...]:
        return ()


def scheduler_urls(live: Sequence[str], endpoints_url: str) -> list[str]:
    """The scheduler base URLs the proxy starts with: the live ones (leader first), else this one."""
    out: list[str] = []
    for url in (*live, endpoints_url.rstrip("/").removesuffix(ENDPOINTS_PATH)):
        if url and url.rstrip("/") not in out:
            out.append(url.rstrip("/"))
    return out


def pod_of(service: ServiceSpec, kind: str) -> PodSpec | None:
    """The pod of `kind` (`kind: wordpress` in the service file; a pod named so without a kind too)."""
    return next((p for p in service.pods if p.kind == kind), None) or next(
        (p for p in service.pods if not p.kind and p.name == kind), None
    )


def site_kinds(
    service: ServiceSpec,
    endpoints_url: str,
    schedulers: Callable[[], Sequence[str]] = tuple,
    api_url: str = "",
) -> dict[str, Any]:
    """The kinds of a WordPress service's pods (those it has), keyed by pod name, for the core.

    The media pod installs the site when there is one (it deploys before the plain instances),
    otherwise wordpress-0 does. `endpoints_url`: the scheduler's /v1/endpoints, which the proxy polls;
    `schedulers`: the live schedulers' URLs, leader first; `api_url`: the operator's, tried first.
    """
    kinds: dict[str, Any] = {}
    web, front, files = (pod_of(service, k) for k in ("wordpress", "proxy", "media"))
    db_user = site_of(web).db_user if web is not None else "wordpress"
    proxy_name = front.name if front is not None else "proxy"
    if front is not None:
        kinds[front.name] = ProxyKind(endpoints_url, db_user, schedulers, api_url)
    if files is not None:
        kinds[files.name] = media.MediaKind(proxy_name, site_pod=web)
    if web is not None:
        kinds[web.name] = wordpress.WordPressKind(proxy_name, installs=files is None)
    return kinds


def check_service(service: ServiceSpec) -> list[str]:
    """Every reason a WordPress service cannot deploy as given (for the config load)."""
    web, front, files = (pod_of(service, k) for k in ("wordpress", "proxy", "media"))
    if web is None:
        return []
    errors = wordpress.check_service(service, web.name, front.name if front is not None else "proxy")
    if any(p.name == SCHEDULERS_KEY for p in service.pods):
        errors.append(
            f"pods[{SCHEDULERS_KEY}]: the name is taken by the list of schedulers in /v1/endpoints, "
            "which the proxy reads; rename the pod"
        )
    return errors + (media.check_service(service, files.name) if files is not None else [])
