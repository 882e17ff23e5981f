"""The Galera node program's config file: its fields, defaults and checks, and the 0600 secret files.

Why this module exists: `galera_node` (the program inside every Galera task) runs processes and talks
SQL; what its config JSON means (paths resolved against the sandbox, the unix socket that must fit 108
bytes, ports, users) and how a secret file is accepted (mode 0600, not empty) are plain rules kept here,
unit-tested without a server. Standard library only: tasks run it with the system python3 (docs/galera.md
has the schema).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import stat
from pathlib import Path
from typing import Any

from mesopress.galera import config


@dataclasses.dataclass(frozen=True)
class NodeConfig:
    """The task's config file, with every path resolved against the sandbox (the file's directory)."""

    node: str
    ports: config.Ports
    peers: tuple[str, ...]
    sandbox: Path
    volume: Path
    datadir: Path
    socket: Path
    bootstrap: bool
    start_position: str | None
    secrets: dict[str, Path]
    users: dict[str, str]
    mycnf_options: dict[str, object]
    mariadbd: str
    install_db: str

    @property
    def mycnf(self) -> Path:
        return self.sandbox / "my.cnf"


def load(path: Path) -> NodeConfig:
    """Read and check the config JSON; errors name the field."""
    data = json.loads(path.read_text())
    sandbox = path.resolve().parent
    volume = sandbox / _field(data, "volume", str)
    ports = _field(data, "ports", dict)
    options = dict(data.get("options") or {})
    for key in ("host", "cluster_name", "sst_method"):
        if key in data:
            options[key] = data[key]
    return NodeConfig(
        node=_field(data, "node", str),
        ports=_ports(ports),
        peers=tuple(_field(data, "peers", list)),
        sandbox=sandbox,
        volume=volume,
        datadir=volume / data.get("datadir", "data"),
        socket=Path(data["socket"]) if data.get("socket") else _default_socket(sandbox),
        bootstrap=bool(data.get("bootstrap", False)),
        start_position=data.get("start_position"),
        secrets={k: sandbox / v for k, v in (data.get("secrets") or {}).items()},
        users={"sst": data.get("sst_user", "sst"), "app": data.get("app_user", "app")}
        | {"database": data.get("app_database", "app")},
        mycnf_options=options,
        mariadbd=data.get("mariadbd", "mariadbd"),
        install_db=data.get("install_db", "mariadb-install-db"),
    )


def _field(data: dict[str, Any], name: str, kind: type) -> Any:
    value = data.get(name)
    if not isinstance(value, kind):
        raise ValueError(f"config field {name!r}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _ports(ports: dict[str, Any]) -> config.Ports:
    names = ("sql", "galera", "ist", "sst")
    if not all(isinstance(ports.get(n), int) for n in names):
        raise ValueError(f"config field 'ports': needs integer {', '.join(names)}, got {sorted(ports)}")
    return config.Ports(*(int(ports[n]) for n in names))


def _default_socket(sandbox: Path) -> Path:
    """In the sandbox when the path fits a unix socket (108 bytes), else a stable name in /tmp."""
    candidate = sandbox / "mysqld.sock"
    if len(str(candidate)) < 100:
        return candidate
    return Path("/tmp") / f"mesopress-{hashlib.sha1(str(sandbox).encode()).hexdigest()[:16]}.sock"


def restrict_secrets(cfg: NodeConfig) -> None:
    """Give every secret file mode 0600 (the Mesos fetcher writes them with the default umask); asked for
    by the scheduler's config (`"restrict_secrets": true`), so a hand-written config is still checked."""
    for path in cfg.secrets.values():
        if path.exists():
            path.chmod(0o600)


def read_secret(cfg: NodeConfig, name: str) -> str:
    """The secret `name`; refused unless its file has mode 0600."""
    path = cfg.secrets.get(name)
    if path is None:
        raise ValueError(f"config field 'secrets.{name}': missing")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != 0o600:
        raise PermissionError(f"error reading secret {name}: {path} has mode {mode:04o}, must be 0600")
    value = path.read_text().strip("\n")
    if not value:
        raise ValueError(f"error reading secret {name}: {path} is empty")
    return value
