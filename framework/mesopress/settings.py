"""How the scheduler process runs: every default in one place, read from flags, env and the file.

The same code must run unchanged by hand and as a Marathon app, so each setting has a flag, an
environment variable and a key in the service file's optional ``scheduler:`` section, with the
precedence flag > environment > file > default (``PORT0`` is Marathon's first port, used for HTTP).
``build`` collects every error instead of stopping at the first. The secret is kept out of ``repr``
and ``describe`` so it is never logged. Reading the secret file is injected (``read_file``).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

ONE_WEEK = 604800.0
CAPABILITIES = ("MULTI_ROLE", "RESERVATION_REFINEMENT", "PARTITION_AWARE")
_MASTER = re.compile(r"^(zk://[^/\s]+(/[^\s]*)?|[A-Za-z0-9.\-]+(:\d{1,5})?)$")
_ZK = re.compile(r"^zk://[^/\s]+/[^\s]*$")
_ROLE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_.\-]*(/[a-zA-Z0-9_][a-zA-Z0-9_.\-]*)*$")


@dataclass(frozen=True)
class Settings:
    framework_name: str = "mesopress"
    role: str = "mesopress"
    principal: str = "mesopress"
    secret: str = field(default="", repr=False)
    user: str = "root"
    master: str = "127.0.0.1:5050"
    zk: str = "zk://127.0.0.1:2181/mesopress"
    http_port: int = 8080
    failover_timeout: float = ONE_WEEK
    checkpoint: bool = True
    capabilities: tuple[str, ...] = CAPABILITIES
    decline_long_seconds: float = 3600.0
    decline_short_seconds: float = 15.0
    service_file: str = ""
    hostname: str = ""
    unreachable_timeout: float = 600.0
    reservation_timeout: float = 120.0
    reconcile_interval: float = 300.0
    advertise_url: str = ""
    api_url: str = ""  # tried first by the proxy task (a VIP or DNS name of the schedulers' API)
    drain_seconds: float = 10.0  # out of /v1/endpoints this long before a scale-down or restart kill
    galera_monitor_interval: float | None = None  # None: adapters.galera_monitor.DEFAULT_INTERVAL; 0: off

    @property
    def advertised(self) -> str:
        """The URL tasks' fetchers reach this scheduler at (artifacts, the bundle): ``advertise_url``,
        else ``http://<HOST or 127.0.0.1>:<http_port>`` (Marathon: http://$HOST:$PORT0)."""
        if self.advertise_url:
            return self.advertise_url.rstrip("/")
        return f"http://{self.hostname or '127.0.0.1'}:{self.http_port}"

    def describe(self) -> dict[str, Any]:
        """Every setting, for logs and the HTTP API; the secret only says whether it is set."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["secret"] = "<set>" if self.secret else "<unset>"
        return values


@dataclass(frozen=True)
class Option:
    name: str
    env: str
    kind: type
    help: str
    example: str


OPTIONS = (
    Option("framework_name", "MESOPRESS_FRAMEWORK_NAME", str, "framework name", "mesopress"),
    Option("role", "MESOPRESS_ROLE", str, "Mesos role to reserve in", "mesopress"),
    Option("principal", "MESOPRESS_PRINCIPAL", str, "Mesos principal", "mesopress"),
    Option("user", "MESOPRESS_USER", str, "framework user", "root"),
    Option("master", "MESOS_MASTER", str, "host:port or zk://host:2181/mesos", "127.0.0.1:5050"),
    Option("zk", "MESOPRESS_ZK", str, "ZooKeeper URL for mesopress state", "zk://127.0.0.1:2181/mesopress"),
    Option("http_port", "PORT0", int, "HTTP port (Marathon sets PORT0)", "8080"),
    Option("failover_timeout", "MESOPRESS_FAILOVER_TIMEOUT", float, "seconds", "604800"),
    Option("decline_long_seconds", "MESOPRESS_DECLINE_LONG", float, "seconds", "3600"),
    Option("decline_short_seconds", "MESOPRESS_DECLINE_SHORT", float, "seconds", "15"),
    Option("service_file", "MESOPRESS_SERVICE_FILE", str, "YAML or JSON service file", "service.yaml"),
    Option("hostname", "HOST", str, "host the HTTP API is reached at (Marathon sets HOST)", "node1"),
    Option("unreachable_timeout", "MESOPRESS_UNREACHABLE_TIMEOUT", float, "seconds", "600"),
    Option("reservation_timeout", "MESOPRESS_RESERVATION_TIMEOUT", float, "seconds", "120"),
    Option("reconcile_interval", "MESOPRESS_RECONCILE_INTERVAL", float, "seconds", "300"),
    Option("drain_seconds", "MESOPRESS_DRAIN_SECONDS", float, "seconds out of endpoints before a kill", "10"),
    Option(
        "advertise_url", "MESOPRESS_ADVERTISE_URL", str, "URL tasks fetch files from", "http://node1:8080"
    ),
    Option("api_url", "MESOPRESS_API_URL", str, "API URL the proxy tries first (VIP)", "http://vip:8080"),
    Option("galera_monitor_interval", "MESOPRESS_GALERA_MONITOR_INTERVAL", float, "seconds, 0: off", "5"),
)
SECRET_ENV = "MESOPRESS_SECRET"
SECRET_FILE_ENV = "MESOPRESS_SECRET_FILE"


def parse_flags(argv: Sequence[str]) -> dict[str, Any]:
    """Flags given on the command line, as raw strings keyed by setting name (absent = not given)."""
    parser = argparse.ArgumentParser(prog="mesopress", add_help=True)
    for option in OPTIONS:
        flag = "--" + option.name.replace("_", "-")
        parser.add_argument(flag, dest=option.name, default=None, help=f"{option.help} (${option.env})")
    parser.add_argument("--secret-file", dest="secret_file", default=None, help=f"(${SECRET_FILE_ENV})")
    parsed = parser.parse_args(list(argv))
    return {k: v for k, v in vars(parsed).items() if v is not None}


def build(
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    file_section: Mapping[str, Any] | None = None,
    read_file: Callable[[str], str] | None = None,
) -> tuple[Settings, list[str]]:
    """Settings from flags > env > file > defaults, and every error found (empty when valid)."""
    section = dict(file_section or {})
    known = ", ".join(_names())
    errors = [f"scheduler.{k}: unknown setting; known: {known}" for k in section if k not in _names()]
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = _first(flags.get(option.name), env.get(option.env), section.get(option.name))
        if raw is not None:
            _convert(option, raw, values, errors)
    values["secret"] = _read_secret(flags, env, read_file or read_text, errors)
    settings = Settings(**values)
    return settings, errors + check(settings)


def check(settings: Settings) -> list[str]:
    """Errors in an assembled Settings, each naming the setting and the fix."""
    errors = []
    if not _MASTER.match(settings.master):
        errors.append("master: must be host:port or zk://host:2181/mesos, e.g. 127.0.0.1:5050")
    if not _ZK.match(settings.zk):
        errors.append("zk: must be zk://host:port[,host:port]/path, e.g. zk://127.0.0.1:2181/mesopress")
    if not 1 <= settings.http_port <= 65535:
        errors.append("http_port: must be a port between 1 and 65535, e.g. 8080 (or set PORT0)")
    if settings.role == "*" or not _ROLE.match(settings.role):
        errors.append("role: must be a Mesos role name other than '*', e.g. mesopress")
    if settings.failover_timeout <= 0:
        errors.append("failover_timeout: must be positive seconds, e.g. 604800 (one week)")
    for name in ("unreachable_timeout", "reservation_timeout", "reconcile_interval"):
        if getattr(settings, name) <= 0:
            errors.append(f"{name}: must be positive seconds, e.g. {getattr(Settings, name):g}")
    if settings.galera_monitor_interval is not None and settings.galera_monitor_interval < 0:
        errors.append("galera_monitor_interval: must be seconds >= 0, e.g. 5 (0 turns the monitor off)")
    if settings.drain_seconds < 0:
        errors.append("drain_seconds: must be seconds >= 0, e.g. 10 (more than the proxy's poll interval)")
    if settings.advertise_url and not re.match(r"^https?://[^/\s]+/?$", settings.advertise_url):
        errors.append("advertise_url: must be http://host:port, e.g. http://node1:8080 (empty: HOST + port)")
    if settings.api_url and not re.match(r"^https?://[^/\s]+/?$", settings.api_url):
        errors.append("api_url: must be http://host:port, e.g. http://mesopress.marathon:8080 (or empty)")
    for name in ("framework_name", "principal", "user"):
        if not getattr(settings, name):
            errors.append(f"{name}: must not be empty")
    return errors


def framework_info(settings: Settings, framework_id: str | None = None) -> dict[str, Any]:
    """The FrameworkInfo sent on SUBSCRIBE (facts §2), with the stored framework id if any."""
    info: dict[str, Any] = {
        "user": settings.user,
        "name": settings.framework_name,
        "roles": [settings.role],
        "principal": settings.principal,
        "failover_timeout": settings.failover_timeout,
        "checkpoint": settings.checkpoint,
        "capabilities": [{"type": c} for c in settings.capabilities],
    }
    if settings.hostname:
        info["hostname"] = settings.hostname
        info["webui_url"] = f"http://{settings.hostname}:{settings.http_port}"
    if framework_id:
        info["id"] = {"value": framework_id}
    return info


def split_zk(url: str) -> tuple[str, str]:
    """``zk://h1:2181,h2:2181/mesopress`` -> (``h1:2181,h2:2181``, ``/mesopress``) for kazoo."""
    hosts, _, path = url.removeprefix("zk://").partition("/")
    return hosts, "/" + path.strip("/")


def _names() -> tuple[str, ...]:
    return tuple(o.name for o in OPTIONS)


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None and v != ""), None)


def _convert(option: Option, raw: Any, values: dict[str, Any], errors: list[str]) -> None:
    try:
        values[option.name] = option.kind(raw) if option.kind is not int else int(str(raw))
    except (TypeError, ValueError):
        kind = {int: "an integer", float: "a number", str: "a string"}[option.kind]
        errors.append(f"{option.name}: must be {kind}, e.g. {option.example} (flag or ${option.env})")


def _read_secret(
    flags: Mapping[str, Any], env: Mapping[str, str], read_file: Callable[[str], str], errors: list[str]
) -> str:
    path = _first(flags.get("secret_file"), env.get(SECRET_FILE_ENV))
    if path is None:
        return env.get(SECRET_ENV, "")
    try:
        return read_file(path).strip()
    except OSError as exc:
        reason = exc.strerror or exc
        errors.append(f"secret_file: cannot read {path}: {reason}; fix the path or set ${SECRET_ENV}")
        return ""


def service_file_path(flags: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    """Where the service file is: ``--service-file`` or ``$MESOPRESS_SERVICE_FILE``."""
    path = _first(flags.get("service_file"), env.get("MESOPRESS_SERVICE_FILE"))
    return str(path) if path is not None else None


def read_text(path: str) -> str:
    """The default ``read_file``: a UTF-8 text file (the only I/O here, and it is injectable)."""
    return Path(path).read_text(encoding="utf-8")
