"""`python -m mesopress ...`: run a scheduler process, or talk to a running one as an operator.

Why it exists: parse, wire, start, and nothing else (no decisions). The order matters:
1. the configuration (service file + flags + env) is parsed and validated before anything touches
   ZooKeeper or Mesos; an invalid one exits 2 listing every error with the field and the fix;
2. pymesos is imported in the main thread (it installs a SIGINT handler), then our signal handlers;
3. ZooKeeper, the HTTP API, the runner (which contends for leadership and, once leader, subscribes);
4. SIGTERM/SIGINT stop cleanly: leadership released, the driver stopped with failover (never TEARDOWN).

    python -m mesopress scheduler --config service.yaml [--master HOST:PORT] [--zk zk://...] [...]
    python -m mesopress plans|pods|state|config|uninstall [--url http://HOST:PORT]
    python -m mesopress galera [--url http://HOST:PORT]    (every Galera node's live wsrep state, a table)
    python -m mesopress replace INSTANCE [--url http://HOST:PORT]
    python -m mesopress update FILE|- [--url http://HOST:PORT]  (a new service file for the running service;
                                       prints its version, or every reason it is refused and exits 2)
    python -m mesopress secret NAME [--url http://HOST:PORT]    (prints one generated secret's value)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from mesopress import settings as settings_module
from mesopress.model import config

log = logging.getLogger("mesopress")
SESSION_ENV = "MESOPRESS_ZK_SESSION_TIMEOUT"  # seconds; ZooKeeper bounds it to 2-20 ticks
OPERATOR = {
    "plans": "GET",
    "pods": "GET",
    "state": "GET",
    "config": "GET",
    "uninstall": "POST",
    "replace": "POST",
    "secret": "GET",
    "galera": "GET",
    "update": "POST",
}
USAGE = (
    "usage: mesopress scheduler --config FILE [flags] | mesopress {plans,pods,state,config,uninstall,galera} "
    "[--url URL] | mesopress replace INSTANCE [--url URL] | mesopress secret NAME [--url URL] "
    "| mesopress update FILE|- [--url URL]"
)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__ if args else USAGE, file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "scheduler":
        return run_scheduler(rest)
    if command in OPERATOR:
        return run_operator(command, rest)
    print(f"mesopress: error: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


# --- the scheduler process -------------------------------------------------------------------------


def load(argv: list[str]) -> config.Loaded | None:
    """Flags (--config is the service file) + env + file -> Loaded; every error is printed."""
    pre = argparse.ArgumentParser(prog="mesopress scheduler", add_help=False)
    pre.add_argument("--config", dest="config")
    pre.add_argument("--log-level", dest="log_level", default="INFO")
    known, rest = pre.parse_known_args(argv)
    flags = settings_module.parse_flags(rest)
    if known.config:
        flags["service_file"] = known.config
    logging.basicConfig(
        level=getattr(logging, str(known.log_level).upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s",
    )
    try:
        loaded = config.load_file(flags, os.environ)
        site_errors = config.site_errors(loaded.service)
        if site_errors:
            raise config.ConfigError(site_errors)
        return loaded
    except config.ConfigError as err:
        print("mesopress: invalid configuration, nothing was started:", file=sys.stderr)
        for error in err.errors:
            print(f"  {error}", file=sys.stderr)
        return None


def run_scheduler(argv: list[str]) -> int:
    loaded = load(argv)
    if loaded is None:
        return 2
    from mesopress.adapters import driver  # imports pymesos: must happen in the main thread

    logging.getLogger("pymesos").handlers.clear()  # pymesos adds its own stderr handler: no doubled lines
    stopping = threading.Event()
    parts: dict[str, Any] = {}

    def on_stop(name: str) -> None:
        log.info("%s received", name)
        stopping.set()

    def on_crash(error: BaseException) -> None:
        log.error("the pymesos driver thread died: %r", error)
        if "runner" in parts:
            parts["runner"].driver_crashed()

    driver.install_signal_handlers(on_stop, on_crash)
    try:
        wire(loaded, parts)
    except Exception as err:  # ZooKeeper down, port taken: say so and leave nothing behind
        log.error("error starting the scheduler: %s", err)
        unwire(parts)
        return 1
    while not stopping.wait(0.5):
        pass
    log.info("stopping: releasing leadership, the driver is stopped with failover")
    unwire(parts)
    return 0


def wire(loaded: config.Loaded, parts: dict[str, Any]) -> None:
    """ZooKeeper client, store, runner (leadership + core + driver) and the HTTP API, started in order."""
    from mesopress.adapters import driver, zkstore
    from mesopress.adapters.election import Leadership
    from mesopress.adapters.galera_monitor import GaleraMonitor
    from mesopress.adapters.runner import Runner
    from mesopress.adapters.schedulers import LiveSchedulers, url_of
    from mesopress.http.server import ApiServer
    from mesopress.state.store import StateStore

    settings, service = loaded.settings, loaded.service
    log.info("settings: %s", settings.describe())
    hosts, path = settings_module.split_zk(settings.zk)
    credentials = (settings.principal, settings.secret) if settings.secret else None
    identity = f"{settings.hostname or '127.0.0.1'}:{settings.http_port}"
    parts["client"] = client = zkstore.connect(hosts, _session_timeout(), credentials)
    persister = zkstore.ZkPersister(client, f"{path.rstrip('/')}/{service.name}", credentials)
    live = LiveSchedulers(client, persister.election_path).start()  # the proxy's list of schedulers

    def schedulers() -> list[str]:  # read by the leader only: itself first
        return live.urls(first=url_of(identity))

    def kinds_for(spec: Any) -> dict[str, Any]:
        return pod_kinds(spec, f"{settings.advertised}/v1/endpoints", schedulers, settings.api_url)

    def core(store: StateStore) -> Any:
        from mesopress.scheduler import SchedulerCore

        return SchedulerCore(settings, service, store, doc=loaded.doc, kinds_for=kinds_for)

    store = StateStore(persister)

    def describe() -> dict[str, Any]:
        """/v1/config: the running target (the leader's, from its snapshot; else the file's)."""
        target, deployed = _stored_versions(store)
        running = dict(parts["runner"].snapshot.get("config") or {}) if "runner" in parts else {}
        answer = {"service": running.get("target") or asdict(service), "settings": settings.describe()}
        answer |= {"target": target, "deployed": deployed}
        return answer | ({"refused": running["refused"]} if running.get("refused") else {})

    parts["runner"] = runner = Runner(
        store,
        lambda elected, deposed: Leadership(client, persister, identity, elected, deposed),
        core,
        lambda framework_id, sched: driver.build_driver(settings, framework_id, sched),
        identity,
        describe=describe,
    )
    monitor = GaleraMonitor.for_runner(runner, service, settings.galera_monitor_interval)
    runner.galera_samples = monitor.samples
    runner.schedulers = schedulers
    parts["http"] = ApiServer(runner, settings.http_port).start()
    runner.start()
    parts["monitor"] = monitor.start()
    log.info("scheduler %s for service %s contending for leadership", identity, service.name)


def site_kinds_module() -> Any:
    from mesopress.kinds import proxy

    return proxy


def pod_kinds(
    service: Any, endpoints_url: str, schedulers: Any = tuple, api_url: str = ""
) -> dict[str, Any]:
    """The pod-kind hook of every pod named with a `kind:` in the service file (others: generic).

    `endpoints_url` is this scheduler's /v1/endpoints, which the WordPress proxy polls."""
    from mesopress.kinds.galera import GaleraKind

    kinds: dict[str, Any] = {}
    for pod in service.pods:
        if pod.kind == "galera":
            kinds[pod.name] = GaleraKind(settings=json.loads(pod.kind_settings))
    kinds.update(site_kinds_module().site_kinds(service, endpoints_url, schedulers, api_url))
    return kinds


def unwire(parts: dict[str, Any]) -> None:
    for name in ("monitor", "runner", "http"):
        if name in parts:
            try:
                parts.pop(name).stop()
            except Exception:
                log.exception("error stopping the %s", name)
    client = parts.pop("client", None)
    if client is not None:
        client.stop()
        client.close()


def _stored_versions(store: Any) -> tuple[str | None, str | None]:
    from mesopress.state.persister import StoreError

    try:
        return store.target_config(), store.deployed_config()
    except StoreError:
        return None, None


def _session_timeout() -> float:
    try:
        return float(os.environ.get(SESSION_ENV, "10"))
    except ValueError:
        return 10.0


# --- operator commands -----------------------------------------------------------------------------


def run_operator(command: str, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"mesopress {command}")
    if command == "replace":
        parser.add_argument("instance", help="pod instance to replace, e.g. db-1")
    if command == "secret":
        parser.add_argument("name", help="secret name, e.g. wordpress-admin-password")
    if command == "update":
        parser.add_argument("file", help="the new service file (YAML or JSON); - reads standard input")
    default = os.environ.get("MESOPRESS_URL", "http://127.0.0.1:8080")
    parser.add_argument("--url", default=default, help="a scheduler's API ($MESOPRESS_URL)")
    args = parser.parse_args(argv)
    if command == "update":
        return run_update(args.file, args.url)
    path = {
        "replace": f"/v1/pods/{getattr(args, 'instance', '')}/replace",
        "secret": f"/v1/secrets/{getattr(args, 'name', '')}",
    }.get(command, f"/v1/{command}")
    try:
        status, body = request(OPERATOR[command], args.url.rstrip("/") + path)
    except OSError as err:
        print(f"mesopress: error reaching {args.url}: {err}", file=sys.stderr)
        return 1
    if status >= 400:
        print(
            f"mesopress: error {status}: {body.get('error', body) if isinstance(body, dict) else body}",
            file=sys.stderr,
        )
        return 1
    if command == "secret":
        print(body.get("value", "") if isinstance(body, dict) else "")
        return 0
    if command == "galera":
        from mesopress.http import galera_view

        print(galera_view.table(body))
        return 0
    print(table(body) if command == "pods" else json.dumps(body, indent=2, sort_keys=True))
    return 0


def run_update(path: str, url: str) -> int:
    """`mesopress update FILE`: POST the file to /v1/config; 0 and the version, or 2 and every reason."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        print(f"mesopress: error reading {path}: {err}; give a readable service file", file=sys.stderr)
        return 2
    try:
        status, body = request("POST", url.rstrip("/") + "/v1/config", data=text.encode("utf-8"))
    except OSError as err:
        print(f"mesopress: error reaching {url}: {err}", file=sys.stderr)
        return 1
    body = body if isinstance(body, dict) else {}
    if status == 200 and body.get("ok") is True:
        print(f"configuration {body.get('version')}" + (" (unchanged)" if body.get("unchanged") else ""))
        return 0
    reasons = body.get("reasons") or [body.get("error") or f"HTTP {status}"]
    print(f"mesopress: the configuration was refused (HTTP {status}), nothing changed:", file=sys.stderr)
    for reason in reasons:
        print(f"  {reason}", file=sys.stderr)
    return 2


def request(method: str, url: str, hops: int = 3, data: bytes | None = None) -> tuple[int, Any]:
    """One JSON request, following 307 redirects (also for POST, with the same body) up to `hops` times."""
    body = (data or b"") if method == "POST" else None
    req = urllib.request.Request(url, method=method, data=body)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        location = err.headers.get("Location")
        if err.code == 307 and location and hops > 0:
            return request(method, location, hops - 1, data)
        try:
            return err.code, json.loads(err.read() or b"null")
        except ValueError:
            return err.code, {"error": err.reason}


def table(rows: Any) -> str:
    """Pods as a text table (anything else as JSON)."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows) or not rows:
        return json.dumps(rows, indent=2, sort_keys=True)
    known = ("instance", "goal", "status", "hostname", "agent_id", "task_id", "reason")
    columns = [c for c in known if any(c in r for r in rows)]
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)
