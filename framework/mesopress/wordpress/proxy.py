"""haproxy.cfg from the scheduler's endpoints: HTTP over ready WordPress instances, MySQL to one writer.

Why one writer: WordPress on Galera with several writers meets certification conflicts (deadlock
errors on hot rows such as options and sessions); sending every statement to one Synced node avoids
them and a failover costs a few seconds. The first Synced node is the active server, every other node
is `backup` (without `allbackups` HAProxy uses only the first healthy backup, so there is still one
writer). Health is an external check that passes only for a Synced node (the built-in mysql-check only
proves the port answers). The check is a shell script around the `mariadb` client (a few ms; a Python
check costs a few hundred under load): HAProxy gives an external check only min(inter, timeout connect)
to finish (src/check.c, process_chk_proc), so a slow check under CPU load would mark every node down
at once. Hence the Galera servers' own timing: `inter 2s` (the check's budget) with `fastinter 500ms`
so that a failing writer is still out within about 2.5 s. HTTP checks hit the instances' readiness
URL, which fails when the instance cannot reach the database. Upload endpoints and
/wp-content/uploads/ always go to the media backend, even when it is empty (503): sending them
elsewhere would store files outside the media volume. Every answer says which server gave it
(`X-Served-By`), so an operator can tell which instance served a request.

Reloads are seamless: the task program dumps `show servers state` into the server-state file before
SIGUSR2, so the new workers start with the old health verdicts, and the listeners are handed over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mesopress.wordpress.web import READY_PATH, UPLOAD_PATHS, UPLOADS_PREFIX

CHECK_TIMING = "inter 1s rise 2 fall 2"
GALERA_CHECK_TIMING = "inter 2s fastinter 500ms downinter 1s rise 2 fall 2"
# What the external check reads, and the values a Synced, ready member of a Primary component shows.
SYNCED_STATUS = {"wsrep_local_state": "4", "wsrep_ready": "ON", "wsrep_cluster_status": "Primary"}


@dataclass(frozen=True)
class Server:
    name: str
    host: str
    port: int
    synced: bool = True  # meaningful for Galera nodes only


@dataclass(frozen=True)
class Endpoints:
    wordpress: tuple[Server, ...] = ()
    media: tuple[Server, ...] = ()
    galera: tuple[Server, ...] = ()


@dataclass(frozen=True)
class ProxyConfig:
    http_port: int
    mysql_port: int
    stats_socket: str
    state_file: str
    check_script: str
    host: str = "127.0.0.1"


def _server(item: Any, where: str, errors: list[str]) -> Server | None:
    if not isinstance(item, Mapping):
        errors.append(f"{where}: must be an object with name, host and port")
        return None
    name, host, port = str(item.get("name", "")), item.get("host"), item.get("port")
    ok = name.replace("-", "").replace("_", "").isalnum() and isinstance(host, str) and bool(host)
    if not ok or not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        errors.append(f"{where}: needs a name of letters, digits, - or _, a host and a port 1-65535")
        return None
    return Server(name, str(host), port, bool(item.get("synced", True)))


# The key of /v1/endpoints that lists the live schedulers' API URLs, leader first (not a pod).
SCHEDULERS_KEY = "schedulers"
ENDPOINTS_PATH = "/v1/endpoints"

# The scheduler's /v1/endpoints lists every pod's instances as {instance, host, ports, ready}: which
# of them the proxy uses, and on which named port (web instances only when READY; every Galera node,
# Synced = READY, so the one writer is a node the scheduler saw Synced).
SCHEDULER_GROUPS = {"wordpress": ("http", True), "media": ("http", True), "galera": ("sql", False)}


def _is_scheduler_view(data: Mapping[str, Any]) -> bool:
    groups = (group for key, group in data.items() if key != SCHEDULERS_KEY and isinstance(group, list))
    entries = [e for group in groups for e in group]
    return bool(entries) and all(isinstance(e, Mapping) and "instance" in e for e in entries)


def from_scheduler(data: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The scheduler's per-pod view -> this module's endpoints JSON (entries without the port dropped)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for group, (port_name, ready_only) in SCHEDULER_GROUPS.items():
        out[group] = []
        for entry in data.get(group) or []:
            port = (entry.get("ports") or {}).get(port_name)
            if port is None or (ready_only and not entry.get("ready")):
                continue
            item = {"name": entry.get("instance"), "host": entry.get("host"), "port": port}
            out[group].append(item | ({} if ready_only else {"synced": bool(entry.get("ready"))}))
    return out


def parse_endpoints(data: Any) -> Endpoints:
    """Endpoints from this module's JSON or the scheduler's /v1/endpoints view; raises ValueError
    naming every bad entry."""
    if isinstance(data, Mapping) and isinstance(data.get("error"), str):
        raise ValueError(f"error reading endpoints: the answer is an error: {data['error']}")
    if isinstance(data, Mapping) and isinstance(data.get("endpoints"), Mapping):
        data = data["endpoints"]
    if isinstance(data, Mapping) and _is_scheduler_view(data):
        data = from_scheduler(data)
    if not isinstance(data, Mapping):
        raise ValueError("error reading endpoints: expected an object with wordpress, media, galera lists")
    errors: list[str] = []
    groups: dict[str, tuple[Server, ...]] = {}
    for group in ("wordpress", "media", "galera"):
        items = data.get(group, [])
        if not isinstance(items, list):
            errors.append(f"{group}: must be a list")
            items = []
        found = (_server(item, f"{group}[{i}]", errors) for i, item in enumerate(items))
        groups[group] = tuple(s for s in found if s is not None)
    if errors:
        raise ValueError("error reading endpoints: " + "; ".join(errors))
    return Endpoints(**groups)


def endpoints_url(url: str) -> str:
    """A scheduler's /v1/endpoints URL from its base URL (`http://host:port`) or that URL itself."""
    url = url.strip().rstrip("/")
    return url if url.endswith(ENDPOINTS_PATH) else url + ENDPOINTS_PATH


def base_url(url: str) -> str:
    """`http://host:port` from `http://host:port/v1/endpoints` (other URLs as they are, minus a '/')."""
    return url.strip().rstrip("/").removesuffix(ENDPOINTS_PATH)


def is_url(value: Any) -> bool:
    return isinstance(value, str) and re.match(r"^https?://[^/\s]+(/\S*)?$", value.strip()) is not None


def schedulers_in(data: Any) -> list[str] | None:
    """The live scheduler URLs an answer lists (`"schedulers": [...]`), or None when it lists none
    (an older scheduler, a file) or the list is not a non-empty list of http(s) URLs: keep yours then."""
    found = data.get(SCHEDULERS_KEY) if isinstance(data, Mapping) else None
    if not isinstance(found, list) or not found or not all(is_url(u) for u in found):
        return None
    return candidates([], found)


def candidates(pinned: Sequence[str], known: Sequence[str]) -> list[str]:
    """The base URLs to try, in order: the pinned ones (the operator's `api_url`), then the known
    schedulers (leader first); normalized, without blanks or duplicates."""
    out: list[str] = []
    for url in (*pinned, *known):
        url = base_url(url)
        if url and url not in out:
            out.append(url)
    return out


def to_json(endpoints: Endpoints) -> dict[str, list[dict[str, Any]]]:
    """What the scheduler publishes at /v1/endpoints; `parse_endpoints(to_json(e)) == e`."""

    def entry(server: Server, galera: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"name": server.name, "host": server.host, "port": server.port}
        return data | {"synced": server.synced} if galera else data

    return {
        "wordpress": [entry(s, False) for s in endpoints.wordpress],
        "media": [entry(s, False) for s in endpoints.media],
        "galera": [entry(s, True) for s in endpoints.galera],
    }


def writer_order(nodes: Sequence[Server]) -> list[tuple[Server, bool]]:
    """(node, is_backup) in config order: the first Synced node is the writer (else the first node)."""
    writer = next((n for n in nodes if n.synced), nodes[0] if nodes else None)
    return [(n, n is not writer) for n in nodes]


def is_synced(status: Mapping[str, str]) -> bool:
    """The external check's verdict from `SHOW GLOBAL STATUS LIKE 'wsrep_%'`: Synced, ready, Primary."""
    return all(status.get(name, "").upper() == value.upper() for name, value in SYNCED_STATUS.items())


def keep_state(state: str, endpoints: Endpoints) -> str:
    """`show servers state` output minus the servers that moved or left.

    HAProxy restores a server's address and port from the state file too, so a pod that came back on
    another port would keep the old, dead address: its line is dropped and it starts fresh.
    """
    wanted = {
        (backend, s.name): (s.host, str(s.port))
        for backend, servers in (("wordpress", endpoints.wordpress), ("media", endpoints.media))
        for s in servers
    }
    wanted.update({("galera", s.name): (s.host, str(s.port)) for s in endpoints.galera})
    lines = state.splitlines()
    header = next((line[2:].split() for line in lines if line.startswith("# ")), [])
    if not {"be_name", "srv_name", "srv_addr", "srv_port"} <= set(header):
        return ""
    kept = []
    for line in lines:
        fields = line.split()
        if line.startswith("#") or len(fields) < len(header):
            kept.append(line)
            continue
        row = dict(zip(header, fields, strict=False))
        if wanted.get((row["be_name"], row["srv_name"])) == (row["srv_addr"], row["srv_port"]):
            kept.append(line)
    return "\n".join(kept) + "\n"


def _http_backend(name: str, servers: Sequence[Server]) -> list[str]:
    lines = [
        f"backend {name}",
        "    balance roundrobin",
        "    option httpchk",
        f"    http-check send meth GET uri {READY_PATH} ver HTTP/1.1 hdr Host mesopress-check",
        "    http-check expect status 200",
        "    retry-on conn-failure empty-response response-timeout 502 503 504",
        "    http-request disable-l7-retry if !METH_GET !METH_HEAD",
    ]
    return lines + [f"    server {s.name} {s.host}:{s.port} check {CHECK_TIMING}" for s in servers]


def _galera_backend(config: ProxyConfig, nodes: Sequence[Server]) -> list[str]:
    lines = [
        "backend galera",
        "    mode tcp",
        "    timeout server 8h",
        "    option external-check",
        '    external-check path "/usr/bin:/bin"',
        f"    external-check command {config.check_script}",
        "    default-server on-marked-down shutdown-sessions",
    ]
    for node, backup in writer_order(nodes):
        suffix = " backup" if backup else ""
        lines.append(f"    server {node.name} {node.host}:{node.port} check {GALERA_CHECK_TIMING}{suffix}")
    return lines


def _media_acls() -> list[str]:
    exact = " ".join(UPLOAD_PATHS[:-1])
    return [
        f"    acl media_path path_beg {UPLOADS_PREFIX} {UPLOAD_PATHS[-1]}",
        f"    acl media_path path {exact}",
        f"    acl media_path url_param(rest_route) -m beg {UPLOAD_PATHS[-1].removeprefix('/wp-json')}",
        "    use_backend media if media_path",
    ]


def render_haproxy(config: ProxyConfig, endpoints: Endpoints) -> str:
    """The whole haproxy.cfg; deterministic, so an unchanged input means no reload."""
    lines = [
        "global",
        f"    stats socket {config.stats_socket} mode 600 level admin expose-fd listeners",
        f"    server-state-file {config.state_file}",
        "    external-check",
        "    insecure-fork-wanted",
        "    maxconn 2000",
        "",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout check 3s",
        "    retries 2",
        "    option redispatch",
        "    load-server-state-from-file global",
        "",
        "frontend http",
        f"    bind {config.host}:{config.http_port}",
        "    option forwardfor",
        "    http-response set-header X-Served-By %[srv_name]",  # which instance answered: for operators
        *_media_acls(),
        "    default_backend wordpress",
        "",
        *_http_backend("wordpress", endpoints.wordpress),
        "",
        *_http_backend("media", endpoints.media),
        "",
        "frontend mysql",
        "    mode tcp",
        f"    bind {config.host}:{config.mysql_port}",
        "    timeout client 8h",
        "    default_backend galera",
        "",
        *_galera_backend(config, endpoints.galera),
    ]
    return "\n".join(lines) + "\n"


def render_check_script(python: str, pythonpath: str, credentials_file: str) -> str:
    """The external check through Python (the fallback when the host has no mariadb client).

    HAProxy passes the server's address and port as $3 and $4."""
    return (
        "#!/bin/sh\n"
        "# HAProxy external check (rendered by mesopress): exit 0 only if the node is Synced.\n"
        f"PYTHONPATH='{pythonpath}' exec '{python}' -m mesopress.tasks.proxy mysql-check "
        f'--credentials \'{credentials_file}\' --host "$3" --port "$4"\n'
    )


def render_client_check_script(client: str, defaults_file: str) -> str:
    """The external check through the `mariadb` client: the same verdict as `is_synced`, in awk."""
    names = ",".join(f"'{name}'" for name in SYNCED_STATUS)
    wanted = " && ".join(f'toupper(s["{k}"]) == "{v.upper()}"' for k, v in SYNCED_STATUS.items())
    return (
        "#!/bin/sh\n"
        "# HAProxy external check (rendered by mesopress): exit 0 only if the node at $3:$4 is Synced,\n"
        "# ready and in the Primary component.\n"
        f"out=$('{client}' --defaults-file='{defaults_file}' --protocol=tcp --host=\"$3\" --port=\"$4\" "
        "--connect-timeout=2 --batch --skip-column-names "
        f'--execute="SHOW GLOBAL STATUS WHERE Variable_name IN ({names})" 2>&1) || '
        '{ echo "$3:$4 not synced: $out" >&2; exit 1; }\n'
        f"printf '%s\\n' \"$out\" | awk -F'\\t' '{{s[$1] = $2}} END {{exit !({wanted})}}' && exit 0\n"
        'echo "$3:$4 not synced:" $out >&2\n'
        "exit 1\n"
    )


def render_client_defaults(user: str, password: str) -> str:
    """The check user's option file for the client (0600): values quoted, \\ and " escaped."""

    def quoted(value: str) -> str:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'

    return f"[client]\nuser={quoted(user)}\npassword={quoted(password)}\n"
