"""The service file: YAML/JSON text in, validated ``ServiceSpec`` and ``Settings`` out.

Validation is a hand-written schema (tables of fields with small check functions), not the
``jsonschema`` package: we want messages that name the field *and the fix*
(``pods[1].volumes[0].size: must be a positive integer of MiB, e.g. 1024``) and we want all of them at
once, so an operator fixes a file in one round. ``load`` raises ``ConfigError`` carrying every error;
the CLI prints them and exits before registering with Mesos. See docs/configuration.md.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from mesopress import settings as settings_module
from mesopress.kinds import galera as galera_kind
from mesopress.model import ids, specs
from mesopress.model.specs import CHECK_KINDS, CONSTRAINT_OPERATORS

Check = Callable[[Any, str, list[str]], None]
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
POD_KINDS = ("galera", "wordpress", "proxy", "media")
_VOLUME_PATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


class ConfigError(Exception):
    """An invalid service file or settings; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Loaded:
    settings: settings_module.Settings
    service: specs.ServiceSpec
    doc: Mapping[str, Any] = field(default_factory=dict)  # the file with each kind's defaults filled in


def _rule(ok: Callable[[Any], bool], message: str) -> Check:
    def check(value: Any, path: str, errors: list[str]) -> None:
        if not ok(value):
            errors.append(f"{path}: {message}")

    return check


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _valid_regex(text: str) -> bool:
    try:
        re.compile(text)
    except re.error:
        return False
    return True


def _valid_constraint(v: Any) -> bool:
    parts = v.split(":", 2) if isinstance(v, str) else []
    if len(parts) < 2 or not parts[0] or parts[1] not in CONSTRAINT_OPERATORS:
        return False
    value = parts[2] if len(parts) == 3 else ""
    if parts[1] == "MAX_PER":
        return value.isdigit() and int(value) >= 1
    return bool(value) and _valid_regex(value) if parts[1] in ("LIKE", "UNLIKE") else True


NAME = _rule(
    lambda v: isinstance(v, str) and bool(ids.NAME_PATTERN.match(v)) and len(v) <= 40,
    "must be lowercase letters, digits and single dashes, starting with a letter, e.g. galera",
)
TEXT = _rule(lambda v: isinstance(v, str) and v.strip() != "", "must be a non-empty string")
COUNT = _rule(lambda v: _is_int(v) and 1 <= v <= 100, "must be an integer from 1 to 100, e.g. 3")
CPUS = _rule(lambda v: _is_number(v) and 0.01 <= v <= 1024, "must be a number of CPUs >= 0.01, e.g. 0.5")
MIB = _rule(lambda v: _is_int(v) and v > 0, "must be a positive integer of MiB, e.g. 1024")
PORT = _rule(lambda v: _is_int(v) and 0 <= v <= 65535, "must be 0 (any) or a port 1-65535, e.g. 3306")
BOOL = _rule(lambda v: isinstance(v, bool), "must be true or false")
GRACE = _rule(
    lambda v: _is_number(v) and 0 < v <= 3600,
    "must be a number of seconds > 0 (and at most 3600), e.g. 60 for a clean database shutdown",
)
SECONDS = _rule(lambda v: _is_number(v) and v >= 0, "must be a number of seconds >= 0, e.g. 10")
POSITIVE = _rule(lambda v: _is_int(v) and v >= 1, "must be an integer >= 1, e.g. 3")
KIND = _rule(lambda v: v in CHECK_KINDS, f"must be one of {', '.join(CHECK_KINDS)}")
CONTAINER_PATH = _rule(
    lambda v: isinstance(v, str) and bool(_VOLUME_PATH.match(v)),
    "must be a single relative directory name without '/', e.g. mysql-data",
)
CONSTRAINT = _rule(
    _valid_constraint,
    f"must be attribute:OPERATOR[:value] with OPERATOR one of {', '.join(CONSTRAINT_OPERATORS)}"
    ", e.g. zone:UNIQUE, rack:LIKE:r1, hostname:MAX_PER:2",
)


def _env_check(value: Any, path: str, errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"{path}: must be a mapping of NAME: value, e.g. {{WP_DEBUG: 'false'}}")
        return
    for key, item in value.items():
        if not isinstance(key, str) or not _ENV_KEY.match(key):
            errors.append(f"{path}.{key}: must be an environment variable name, e.g. WP_DEBUG")
        elif not isinstance(item, str | int | float) or isinstance(item, bool):
            errors.append(f'{path}.{key}: must be text; quote it, e.g. "1"')


def _list_of(item: Check, example: str) -> Check:
    def check(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, list):
            errors.append(f"{path}: must be a list, e.g. {example}")
            return
        for index, element in enumerate(value):
            item(element, f"{path}[{index}]", errors)

    return check


def _object(table: Mapping[str, tuple[Check, bool]]) -> Check:
    def check(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, dict):
            errors.append(f"{path or 'file'}: must be a mapping with keys {', '.join(table)}")
            return
        prefix = f"{path}." if path else ""
        for key in value:
            if key not in table:
                errors.append(f"{prefix}{key}: unknown field{_suggest(str(key), table)}")
        for key, (field_check, required) in table.items():
            if key in value:
                field_check(value[key], prefix + key, errors)
            elif required:
                errors.append(f"{prefix}{key}: required field is missing")

    return check


def _suggest(key: str, table: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(table), n=1)
    return f"; did you mean '{close[0]}'?" if close else f"; known fields: {', '.join(table)}"


CHECK = _object(
    {"kind": (KIND, False), "command": (TEXT, False), "port": (TEXT, False), "path": (TEXT, False)}
    | {name: (SECONDS, False) for name in specs.CHECK_TIMES}
    | {"max_failures": (POSITIVE, False)}
)
PORT_ITEM = _object({"name": (NAME, True), "port": (PORT, False)})
VOLUME_ITEM = _object({"container_path": (CONTAINER_PATH, True), "size": (MIB, True)})
PLACEMENT = _object(
    {"unique_agent": (BOOL, False), "constraints": (_list_of(CONSTRAINT, "[zone:UNIQUE]"), False)}
)
POD = _object(
    {name: (check, True) for name, check in (("name", NAME), ("count", COUNT), ("cpus", CPUS))}
    | {"mem": (MIB, True), "command": (TEXT, True)}
    | {"ports": (_list_of(PORT_ITEM, "[{name: sql, port: 3306}]"), False)}
    | {"volumes": (_list_of(VOLUME_ITEM, "[{container_path: data, size: 1024}]"), False)}
    | {"placement": (PLACEMENT, False), "env": (_env_check, False), "user": (TEXT, False)}
    | {"readiness_check": (CHECK, False), "health_check": (CHECK, False)}
    | {"kill_grace_period": (GRACE, False)}
    | {"kind": (_rule(lambda v: v in POD_KINDS, f"must be one of {', '.join(POD_KINDS)}"), False)}
    | {"galera": (_rule(lambda v: isinstance(v, dict), "must be a mapping, e.g. {size: 3}"), False)}
)
MAPPING = _rule(lambda v: isinstance(v, dict), "must be a mapping of settings, e.g. {role: mesopress}")
SERVICE = _object(
    {"name": (NAME, True), "user": (TEXT, False), "scheduler": (MAPPING, False)}
    | {"pods": (_list_of(POD, "[{name: galera, count: 3, ...}]"), True)}
)


def parse_text(text: str, source: str = "service file") -> Any:
    """YAML or JSON text -> plain data; a syntax error becomes a ConfigError naming the line."""
    try:
        return json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{source}: invalid JSON at line {exc.lineno}: {exc.msg}"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError([f"{source}: invalid YAML{where}: {getattr(exc, 'problem', exc)}"]) from exc


def validate(doc: Any) -> list[str]:
    """Every error in a parsed service file; empty means ``specs.build_service`` will succeed."""
    errors: list[str] = []
    doc = expand(doc)
    SERVICE(doc, "", errors)
    pods = _items(doc, "pods")
    if isinstance(doc, dict) and isinstance(doc.get("pods"), list) and not pods:
        errors.append("pods: must list at least one pod, e.g. [{name: galera, count: 3, ...}]")
    _check_unique([p.get("name") for p in pods], "pods[{i}].name", errors)
    for i, pod in enumerate(pods):
        _check_pod(pod, f"pods[{i}]", errors)
        if pod.get("kind") == "galera":
            errors += galera_kind.check_pod(pod, f"pods[{i}]")
    return errors


# Seconds between SIGTERM and SIGKILL by pod kind, unless the pod sets `kill_grace_period` (Galera's is
# in its kind's defaults): WordPress quits nginx then php-fpm gracefully (up to 15 s each).
KILL_GRACE = {"wordpress": 35, "proxy": 15, "media": 15}


def expand(doc: Any) -> Any:
    """The service file with each kind's pod defaults filled in (`kind: galera`: command, ports, volume,
    user, readiness check, count from `galera.size`, a 60 s kill grace period; WordPress, proxy and
    media pods: `KILL_GRACE`); the operator's own fields win."""
    if not isinstance(doc, dict) or not isinstance(doc.get("pods"), list):
        return doc
    pods = [_expand_pod(p) for p in doc["pods"]]
    return dict(doc, pods=pods)


def _expand_pod(pod: Any) -> Any:
    if not isinstance(pod, dict):
        return pod
    if pod.get("kind") == "galera":
        return galera_kind.expand(pod)
    grace = KILL_GRACE.get(str(pod.get("kind", "")))
    return {"kill_grace_period": grace} | pod if grace is not None else pod


def _items(obj: Any, key: str) -> list[dict[str, Any]]:
    """The list under ``key`` with non-mappings replaced by {} (their errors are already reported)."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return [v if isinstance(v, dict) else {} for v in value] if isinstance(value, list) else []


def _check_pod(pod: dict[str, Any], path: str, errors: list[str]) -> None:
    ports = _items(pod, "ports")
    _check_unique([p.get("name") for p in ports], path + ".ports[{i}].name", errors)
    _check_unique([p.get("port") or None for p in ports], path + ".ports[{i}].port", errors)
    paths = [v.get("container_path") for v in _items(pod, "volumes")]
    _check_unique(paths, path + ".volumes[{i}].container_path", errors)
    names = {p["name"] for p in ports if isinstance(p.get("name"), str)}
    for kind in ("readiness_check", "health_check"):
        if isinstance(pod.get(kind), dict):
            _check_probe(pod[kind], names, f"{path}.{kind}", errors)


def _check_unique(values: list[Any], path: str, errors: list[str]) -> None:
    seen: set[Any] = set()
    for i, value in enumerate(values):
        if isinstance(value, str | int) and value in seen:
            errors.append(f"{path.format(i=i)}: duplicate value {value!r}; each must be unique")
        if isinstance(value, str | int):
            seen.add(value)


def _check_probe(probe: dict[str, Any], ports: set[str], path: str, errors: list[str]) -> None:
    kind = probe.get("kind", "command")
    if kind == "command" and "command" not in probe:
        errors.append(f"{path}.command: required for kind command, e.g. 'mysqladmin ping'")
    if kind in ("http", "tcp") and probe.get("port") not in ports:
        known = ", ".join(sorted(ports)) or "none: add one under ports"
        errors.append(f"{path}.port: must name one of the pod's ports ({known})")


def load(
    text: str,
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    read_file: Callable[[str], str] | None = None,
    source: str = "service file",
) -> Loaded:
    """Service file text + flags + env -> Loaded, or ConfigError listing every error of both."""
    doc = parse_text(text, source)
    errors = validate(doc)
    section = doc.get("scheduler", {}) if isinstance(doc, dict) else {}
    built, setting_errors = settings_module.build(
        flags, env, section if isinstance(section, dict) else {}, read_file
    )
    errors += setting_errors
    if errors:
        raise ConfigError(errors)
    expanded = expand(doc)
    return Loaded(built, specs.build_service(expanded, built.role, built.principal), expanded)


def site_errors(service: specs.ServiceSpec) -> list[str]:
    """The WordPress site kinds' checks over a built spec (proxy, media, WordPress pods that fit)."""
    from mesopress.kinds import proxy  # the site kinds import the WordPress modules: only when asked

    return proxy.check_service(service)


def load_service_text(
    text: str, role: str, principal: str, source: str = "service file"
) -> tuple[specs.ServiceSpec, dict[str, Any]]:
    """A service file sent to a running scheduler (POST /v1/config) -> (spec, expanded doc), checked as at
    start-up: syntax, every field, the kinds' rules (Galera sizes, WordPress site) and the `scheduler:`
    section's settings (validated; they take effect at the next restart). The spec carries the running
    scheduler's `role` and `principal`. Raises ConfigError listing every error."""
    doc = parse_text(text, source)
    errors = validate(doc)
    section = doc.get("scheduler", {}) if isinstance(doc, dict) else {}
    if isinstance(section, dict):
        errors += settings_module.build({}, {}, section)[1]  # no flags or env: nothing is read
    if errors:
        raise ConfigError(errors)
    expanded = expand(doc)
    service = specs.build_service(expanded, role, principal)
    errors = site_errors(service)
    if errors:
        raise ConfigError(errors)
    return service, expanded


def load_file(
    flags: Mapping[str, Any], env: Mapping[str, str], read_file: Callable[[str], str] | None = None
) -> Loaded:
    """Find the service file (--service-file, $MESOPRESS_SERVICE_FILE), read it and ``load`` it."""
    read = read_file or settings_module.read_text
    path = settings_module.service_file_path(flags, env)
    if not path:
        raise ConfigError(["service_file: required; pass --service-file FILE or set $MESOPRESS_SERVICE_FILE"])
    try:
        text = read(path)
    except OSError as exc:
        raise ConfigError([f"service_file: cannot read {path}: {exc.strerror or exc}; fix the path"]) from exc
    return load(text, flags, env, read, source=path)
