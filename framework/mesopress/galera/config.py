"""A Galera node's my.cnf, the SQL that creates its users, and the cluster shape rules.

Why this module exists: the settings that make a node safe (durable commits, ROW binlog, the four ports
bound to one address, where state transfers listen) were measured once (components.md) and must be the
same on every node and every relaunch. Rendering is pure, so a config change can be diffed and tested,
and the task program only writes the text out.

Secrets never enter this module's output except through `user_statements`, which takes password hashes:
the plain passwords stay in their 0600 files and never travel to the server, a log or a binlog.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence

PROVIDER = "/usr/lib/galera/libgalera_smm.so"
SST_METHODS = ("rsync", "mariabackup")
MIN_SIZE = 3

DURABLE_DEFAULTS: dict[str, str] = {
    "binlog_format": "ROW",
    "log_bin": "mariadb-bin",
    "sync_binlog": "1",
    "innodb_flush_log_at_trx_commit": "1",
    "innodb_autoinc_lock_mode": "2",
    "default_storage_engine": "InnoDB",
    "innodb_buffer_pool_size": "64M",
    "performance_schema": "OFF",
    "skip_name_resolve": "ON",
}


@dataclasses.dataclass(frozen=True)
class Ports:
    """The four ports a node reserves and keeps across relaunches."""

    sql: int
    galera: int
    ist: int
    sst: int


def render_mycnf(
    node: str,
    ports: Ports,
    peers: Sequence[str],
    datadir: str,
    socket: str,
    sst_user: str,
    options: Mapping[str, object] | None = None,
) -> str:
    """The my.cnf of `node`. `options` may set host, cluster_name, sst_method, gcache_size, and any other
    my.cnf key, which overrides the defaults (e.g. {"innodb_buffer_pool_size": "256M"})."""
    extra = {k: str(v) for k, v in (options or {}).items()}
    host = extra.pop("host", "127.0.0.1")
    method = extra.pop("sst_method", "rsync")
    if method not in SST_METHODS:
        raise ValueError(f"sst_method: must be one of {', '.join(SST_METHODS)}, not {method!r}")
    settings = _server(node, ports, host, datadir, socket) | DURABLE_DEFAULTS
    settings |= _wsrep(node, ports, peers, host, method, extra.pop("cluster_name", "mesopress"))
    settings["wsrep_provider_options"] = _provider_options(ports, host, extra.pop("gcache_size", "64M"))
    settings |= extra
    lines = ["# rendered by mesopress: edits are overwritten on the next launch", "[mariadbd]"]
    lines += [f"{key} = {_value(key, value)}" for key, value in settings.items()]
    lines += ["", "[sst]", f'sockopt = "bind={host}"', f"# state transfer account: {sst_user}", ""]
    return "\n".join(lines)


def _server(node: str, ports: Ports, host: str, datadir: str, socket: str) -> dict[str, str]:
    return {
        "datadir": datadir,
        "socket": socket,
        "port": str(ports.sql),
        "bind_address": host,
        "log_bin_index": "mariadb-bin.index",
        "server_id": str(1 + sum(node.encode()) % 4000),
    }


def _wsrep(
    node: str, ports: Ports, peers: Sequence[str], host: str, method: str, cluster: str
) -> dict[str, str]:
    return {
        "wsrep_on": "ON",
        "wsrep_provider": PROVIDER,
        "wsrep_cluster_name": cluster,
        "wsrep_cluster_address": "gcomm://" + ",".join(peers),
        "wsrep_node_name": node,
        "wsrep_node_address": f"{host}:{ports.galera}",
        "wsrep_sst_method": method,
        "wsrep_sst_receive_address": f"{host}:{ports.sst}",
    }


def _provider_options(ports: Ports, host: str, gcache: str) -> str:
    return (
        f"base_port={ports.galera};gmcast.listen_addr=tcp://{host}:{ports.galera};"
        f"ist.recv_addr={host}:{ports.ist};gcache.size={gcache}"
    )


def _value(key: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError(f"{key}: a my.cnf value cannot contain a line break")
    return f'"{value}"' if key == "wsrep_provider_options" else value


def native_hash(password: str) -> str:
    """The mysql_native_password hash of `password` ('*' + SHA1(SHA1(password)) in upper-case hex)."""
    inner = hashlib.sha1(password.encode()).digest()
    return "*" + hashlib.sha1(inner).hexdigest().upper()


def user_statements(root_hash: str, sst: tuple[str, str], app: tuple[str, str], database: str) -> list[str]:
    """Idempotent SQL creating root, the state-transfer user and the application user from hashes.

    `sst` and `app` are (user name, password hash). Names are checked to be plain identifiers."""
    for name in (sst[0], app[0], database):
        if not name.replace("_", "").isalnum():
            raise ValueError(f"{name!r}: user and database names must be letters, digits and underscores")
    return [
        "DROP USER IF EXISTS ''@'localhost'",
        "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket"
        f" OR mysql_native_password USING '{root_hash}'",
        f"CREATE USER IF NOT EXISTS '{sst[0]}'@'localhost' IDENTIFIED BY PASSWORD '{sst[1]}'",
        f"ALTER USER '{sst[0]}'@'localhost' IDENTIFIED BY PASSWORD '{sst[1]}'",
        f"GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO '{sst[0]}'@'localhost'",
        f"CREATE DATABASE IF NOT EXISTS `{database}`",
        f"CREATE USER IF NOT EXISTS '{app[0]}'@'%' IDENTIFIED BY PASSWORD '{app[1]}'",
        f"ALTER USER '{app[0]}'@'%' IDENTIFIED BY PASSWORD '{app[1]}'",
        f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{app[0]}'@'%'",
    ]


def validate_cluster(
    size: int, allow_even: bool = False, volume_mb: int | None = None, min_volume_mb: int = 1024
) -> list[str]:
    """Every reason why a cluster of `size` nodes on volumes of `volume_mb` MiB is refused (empty = fine)."""
    reasons = []
    if size < MIN_SIZE:
        reasons.append(f"size: {size} is below {MIN_SIZE}; a Galera cluster needs 3 nodes to survive a loss")
    elif size % 2 == 0 and not allow_even:
        reasons.append(
            f"size: {size} is even; a network split can leave no majority. Use {size + 1} "
            "(or set allow_even to override)"
        )
    if volume_mb is not None and volume_mb < min_volume_mb:
        reasons.append(
            f"volume: {volume_mb} MiB is below the minimum of {min_volume_mb} MiB for a Galera node"
        )
    return reasons
