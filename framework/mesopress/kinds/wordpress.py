"""The WordPress pod kind: what the scheduler hands each WordPress instance at launch.

Why a kind and not more service-file fields: a WordPress instance's configuration is derived from
things only the scheduler knows at launch time (where the proxy runs, the generated salts and
passwords), plus a few site facts (title, admin user, e-mail, public URL) that the operator gives as
the pod's environment (`WORDPRESS_*`, see `SITE_ENV`), so the generic service file needs no new section.

Each instance gets `wordpress.json` (the `mesopress.tasks.wordpress_instance` config) and its secrets
as files (0600 in the task): the database password and, for the installing instance, the admin
password. The database is always reached through the proxy's single-writer MySQL front end, never a
Galera node directly, so a writer failover is invisible to WordPress' configuration. The salts are one
stored secret shared by every instance (otherwise a login would break whenever the proxy picks another
instance). Index 0 of the installing pod runs `install` before `run` (`MESOPRESS_WP_INSTALL=1`):
install is idempotent, so a relaunch or a later deploy leaves the site as it is.

Pure: values in, values out (no I/O); `kinds.proxy` and `kinds.media` build on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mesopress.kinds.common import SecretSpecs, TaskFile, new_password
from mesopress.machines.instance import InstanceState
from mesopress.model import ids
from mesopress.model.specs import PodSpec, ServiceSpec
from mesopress.plans.plan import Phase, Strategy
from mesopress.scheduler_kinds import check_passed
from mesopress.wordpress import site, validate, web

CONFIG_FILE = "wordpress.json"
DB_PASSWORD_FILE = "secrets/db-password"
ADMIN_PASSWORD_FILE = "secrets/admin-password"
# Secret names in the scheduler's secret store (generated once per service).
SALTS_SECRET = "wordpress-salts"
ADMIN_SECRET = "wordpress-admin-password"
DB_SECRET = "galera-app-password"
INSTALL_ENV = "MESOPRESS_WP_INSTALL"
SITE_ENV = {
    "title": "WORDPRESS_TITLE",
    "admin_user": "WORDPRESS_ADMIN_USER",
    "admin_email": "WORDPRESS_ADMIN_EMAIL",
    "public_url": "WORDPRESS_PUBLIC_URL",
    "db_name": "WORDPRESS_DB_NAME",
    "db_user": "WORDPRESS_DB_USER",
    "local": "WORDPRESS_LOCAL",
}
DEFAULTS = {"title": "My Blog", "admin_user": "admin", "db_name": "wordpress", "db_user": "wordpress"}


def new_salts() -> str:
    return json.dumps(site.generate_salts(), sort_keys=True)


SECRET_SPECS: SecretSpecs = {SALTS_SECRET: new_salts, ADMIN_SECRET: new_password, DB_SECRET: new_password}


@dataclass(frozen=True)
class Site:
    """The operator's facts about the site, read from the pod's environment."""

    title: str
    admin_user: str
    admin_email: str
    public_url: str
    db_name: str = "wordpress"
    db_user: str = "wordpress"
    local: bool = False


def site_of(pod: PodSpec) -> Site:
    env = dict(pod.env)
    value = {key: env.get(name, DEFAULTS.get(key, "")) for key, name in SITE_ENV.items()}
    local = value.pop("local").lower() in ("1", "true", "yes")
    return Site(local=local, **value)


def salts_of(secrets: Mapping[str, str]) -> dict[str, str]:
    """The shared salts (stored as one JSON secret); raises ValueError if absent or incomplete."""
    salts = json.loads(secrets.get(SALTS_SECRET) or "{}")
    missing = [key for key in site.SALT_KEYS if not salts.get(key)]
    if missing:
        raise ValueError(f"error rendering wordpress.json: secret {SALTS_SECRET} lacks {', '.join(missing)}")
    return dict(salts)


def footprint(endpoints: Mapping[str, Any], instance: str) -> Mapping[str, Any]:
    """The instance's footprint (hostname, ports); raises ValueError while it holds no resources."""
    found = endpoints.get(instance)
    if not isinstance(found, Mapping) or not found.get("ports"):
        raise ValueError(f"error rendering {instance}: it has no reserved ports yet")
    return found


def proxy_address(endpoints: Mapping[str, Any], proxy: str) -> tuple[str, int, int]:
    """(host, http port, mysql port) of the proxy instance `proxy` (e.g. proxy-0)."""
    fp = footprint(endpoints, proxy)
    return str(fp.get("hostname") or "127.0.0.1"), int(fp["ports"]["http"]), int(fp["ports"]["mysql"])


def instance_config(
    pod: PodSpec,
    instance: str,
    endpoints: Mapping[str, Any],
    secrets: Mapping[str, str],
    proxy: str,
    uploads: str | None = None,
    site_pod: PodSpec | None = None,
) -> dict[str, Any]:
    """The `wordpress_instance` config; `uploads`: the media pod's volume (relative to the sandbox);
    `site_pod`: the pod whose `WORDPRESS_*` environment describes the site (default `pod`)."""
    info = site_of(pod) if site_pod is None else site_of(site_pod)
    host, http_port, mysql_port = proxy_address(endpoints, proxy)
    db = site.Database(host, mysql_port, info.db_name, info.db_user, DB_PASSWORD_FILE)
    config = site.SiteConfig(db, salts_of(secrets), info.public_url, info.local)
    facts = {"title": info.title, "admin_user": info.admin_user, "admin_email": info.admin_email}
    task = site.task_config(
        instance,
        int(footprint(endpoints, instance)["ports"]["http"]),
        config,
        facts | {"admin_password_file": ADMIN_PASSWORD_FILE},
        media=uploads,
        media_upstream=f"http://{host}:{http_port}",
    )
    return task | {"host": "0.0.0.0", "fpm_workers": 2, "max_body_mb": 16, "restrict_secrets": True}


class WordPressKind:
    """Plain instances: serial rollout, ready when /mesopress-ready answers 200 (Mesos HTTP check)."""

    strategy: Strategy = Strategy.SERIAL

    def __init__(
        self, proxy_pod: str = "proxy", installs: bool = False, site_pod: PodSpec | None = None
    ) -> None:
        self.proxy = ids.name_instance(proxy_pod, 0)
        self.installs = installs
        self.site_pod = site_pod

    def uploads(self, pod: PodSpec) -> str | None:
        return None

    def task_environment(
        self,
        pod: PodSpec,
        instance: str,
        instances: Mapping[str, InstanceState],
        endpoints: Mapping[str, Any],
    ) -> Mapping[str, str]:
        first = (ids.parse_instance(instance) or ("", -1))[1] == 0
        return {INSTALL_ENV: "1" if self.installs and first else "0"}

    def task_files(
        self,
        pod: PodSpec,
        instance: str,
        instances: Mapping[str, InstanceState],
        endpoints: Mapping[str, Any],
        secrets: Mapping[str, str],
    ) -> dict[str, TaskFile]:
        uploads = self.uploads(pod)
        config = instance_config(pod, instance, endpoints, secrets, self.proxy, uploads, self.site_pod)
        files = {
            CONFIG_FILE: TaskFile(json.dumps(config, indent=2, sort_keys=True).encode(), True),
            DB_PASSWORD_FILE: TaskFile(secrets[DB_SECRET].encode(), True),
        }
        if self.task_environment(pod, instance, instances, endpoints)[INSTALL_ENV] == "1":
            files[ADMIN_PASSWORD_FILE] = TaskFile(secrets[ADMIN_SECRET].encode(), True)
        return files

    def secret_specs(self, pod: PodSpec) -> SecretSpecs:
        return SECRET_SPECS

    def is_ready(self, pod: PodSpec, status: Mapping[str, Any]) -> bool:
        if status.get("state") != "TASK_RUNNING":
            return False
        return check_passed(status.get("check_status") or {})

    def extra_plan_phases(self, pod: PodSpec, instances: Mapping[str, InstanceState]) -> tuple[Phase, ...]:
        return ()


def check_service(service: ServiceSpec, wordpress: str = "wordpress", proxy: str = "proxy") -> list[str]:
    """Bad WordPress input, refused at config load with every reason (`wordpress.validate`)."""
    pod = service.pod(wordpress)
    if pod is None:
        return []
    info = site_of(pod)
    facts = validate.SiteInput(pod.count, info.title, info.admin_user, info.admin_email, info.public_url)
    errors = validate.check_site(facts)
    if pod.readiness_check is None or pod.readiness_check.path != web.READY_PATH:
        errors.append(f"pods[{wordpress}].readiness_check: must be an http check of {web.READY_PATH}")
    fixed = {f"{p.name}.{port.name}": [port.port] for p in service.pods for port in p.ports if port.port}
    errors += validate.check_ports(fixed)
    proxy_pod = service.pod(proxy)
    if proxy_pod is None or {"http", "mysql"} - {p.name for p in proxy_pod.ports}:
        errors.append(f"pods[{proxy}]: a proxy pod with ports named http and mysql is required")
    return errors
