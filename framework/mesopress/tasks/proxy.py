"""The program inside the proxy task: HAProxy kept in step with the scheduler's endpoints.

Why a poller with graceful reloads: pods move and scale, and the proxy must follow without dropping a
connection. HAProxy runs in master-worker mode (-W -db) as our child; every few seconds we read the
endpoints (the scheduler's /v1/endpoints or a file), and only when the rendered haproxy.cfg changes we
validate it (`haproxy -c`), save the servers' health (`show servers state`) so new workers do not send
traffic to instances already known down, and send SIGUSR2 to the master: new workers take over the
listening sockets, old ones finish their requests. An invalid or unreachable endpoints source keeps the
current configuration. If the master dies we exit non-zero (TASK_FAILED); SIGTERM is a soft stop.

Which scheduler: several scheduler processes run, one leads, any may die. The config lists every
scheduler known at launch (`schedulers`, leader first) and optionally the operator's `api_url` (a VIP
or DNS name), which is always tried first. Each poll tries them in order and uses the first valid
answer (a standby redirects to the leader, urllib follows); the answer's `schedulers` list replaces
the known ones, so the proxy follows schedulers as they come and go. While none answers, the running
configuration stays; every change of state (which scheduler answers, none does, the list) is logged
once, not at every poll. Stdlib only: this runs with the agent's system python3 from the bundle.

    python -m mesopress.tasks.proxy run --config FILE [--endpoints-url URL | --endpoints-file FILE]
    python -m mesopress.tasks.proxy mysql-check --credentials FILE --host H --port P

Config JSON: {"sandbox": "/sandbox (default $MESOS_SANDBOX or cwd)", "host": "127.0.0.1",
              "http_port": 80, "mysql_port": 3306, "check_credentials_file": "/secrets/check.json",
              "poll_interval_s": 2.0, "haproxy": "haproxy",
              "api_url": "http://vip:8080 (optional)", "schedulers": ["http://host:port", ...]}
The credentials file (0600) is JSON: {"user": "monitor", "password": "..."}. `--endpoints-url` adds
one scheduler URL to `schedulers` (the launching scheduler's); a URL source or a file is required.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from mesopress.tasks.wordpress_instance import check_secret, fail, write
from mesopress.wordpress import proxy
from mesopress.wordpress.web import socket_path

STOP_TIMEOUT_S = 15.0
FETCH_TIMEOUT_S = 2.0


def paths(sandbox: str) -> dict[str, str]:
    base = os.path.abspath(sandbox)
    names = ("cfg", "stats", "state", "check", "check_defaults", "master")
    files = (
        "conf/haproxy.cfg",
        "run/haproxy.sock",
        "run/servers.state",
        "conf/mysql-check.sh",
        "conf/mysql-check.cnf",
        "run/master.sock",
    )
    found = {name: f"{base}/{file}" for name, file in zip(names, files, strict=True)}
    return found | {"stats": socket_path(base, "haproxy.sock"), "master": socket_path(base, "master.sock")}


def fetch_json(url: str, timeout: float = FETCH_TIMEOUT_S) -> Any:
    """GET `url` as JSON, following redirects (a standby scheduler answers 307 to the leader).

    Raises OSError (unreachable, timeout, an HTTP error with the answer's own reason) or ValueError."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        try:
            reason = json.loads(err.read() or b"{}").get("error", "")
        except (ValueError, AttributeError, OSError):
            reason = ""
        raise OSError(f"HTTP {err.code} {reason or err.reason}".strip()) from None
    except http.client.HTTPException as err:  # a broken answer (not an OSError)
        raise OSError(f"bad HTTP answer: {err!r}") from None


def read_file(path: str) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Sources:
    """Where the endpoints come from: a file, or scheduler URLs tried in order (`pinned` first, then
    the `known` schedulers, refreshed from every answer). `get` and `log` are injectable for tests."""

    def __init__(
        self,
        pinned: Sequence[str] = (),
        known: Sequence[str] = (),
        file: str | None = None,
        get: Callable[[str], Any] = fetch_json,
        log: Callable[[str], None] = say,
    ) -> None:
        self.pinned = proxy.candidates([], pinned)
        self.known = proxy.candidates([], known)
        self.file = file
        self.get = get
        self.log = log
        self.source: str | None = None  # what answered last; None while nothing does
        self.failing = False

    def order(self) -> list[str]:
        """The base URLs one poll tries, in order."""
        return proxy.candidates(self.pinned, self.known)

    def read(self) -> proxy.Endpoints | None:
        """The endpoints from the first source that gives a valid answer, or None (keep the current)."""
        if self.file:
            try:
                endpoints = proxy.parse_endpoints(read_file(self.file))
            except (OSError, ValueError) as exc:
                self._failed([f"{self.file}: {exc}"])
                return None
            self._answered(self.file, None)
            return endpoints
        failures = []
        for url in self.order():
            try:
                data = self.get(proxy.endpoints_url(url))
                endpoints = proxy.parse_endpoints(data)
            except (OSError, ValueError) as exc:
                failures.append(f"{url}: {exc}")
                continue
            self._answered(url, proxy.schedulers_in(data))
            return endpoints
        self._failed(failures or ["no scheduler URL known: set api_url or schedulers in the config"])
        return None

    def _answered(self, source: str, listed: list[str] | None) -> None:
        if self.failing or source != self.source:
            self.log(f"reading endpoints from {source}")
        self.source, self.failing = source, False
        if listed is not None and source not in listed and source not in self.pinned:
            listed = [source, *listed]  # it answers, under a name the schedulers do not advertise
        if listed is not None and listed != self.known:
            self.log(f"schedulers now: {', '.join(listed)} (were: {', '.join(self.known) or 'none'})")
            self.known = listed

    def _failed(self, failures: list[str]) -> None:
        if not self.failing:
            self.log(
                "error reading endpoints: no source answers ("
                + "; ".join(failures)
                + "); keeping the current configuration until one does"
            )
        self.source, self.failing = None, True


def stats_command(socket_path: str, command: str) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        sock.connect(socket_path)
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def valid(haproxy: str, cfg: str) -> str | None:
    """None if HAProxy accepts the file, else its complaint."""
    done = subprocess.run([haproxy, "-c", "-q", "-f", cfg], capture_output=True, text=True, timeout=30)
    return None if done.returncode == 0 else (done.stderr or done.stdout).strip()[-500:]


class Proxy:
    def __init__(self, config: dict[str, Any], sources: Sources) -> None:
        self.sandbox = config.get("sandbox", os.environ.get("MESOS_SANDBOX", os.getcwd()))
        self.files = paths(self.sandbox)
        self.haproxy = config.get("haproxy", "haproxy")
        self.interval = float(config.get("poll_interval_s", 2.0))
        self.sources = sources
        self.credentials = config["check_credentials_file"]
        self.config = proxy.ProxyConfig(
            http_port=int(config["http_port"]),
            mysql_port=int(config["mysql_port"]),
            stats_socket=self.files["stats"],
            state_file=self.files["state"],
            check_script=self.files["check"],
            host=config.get("host", "127.0.0.1"),
        )
        self.rendered = ""

    def current(self) -> proxy.Endpoints | None:
        return self.sources.read()

    def prepare(self) -> None:
        check_secret(self.credentials)
        for name in ("conf", "run"):
            os.makedirs(os.path.join(self.sandbox, name), exist_ok=True)
        write(self.files["check"], self.check_script(), 0o700)
        write(self.files["state"], "1\n")  # an empty file makes HAProxy warn about its version
        self.rendered = proxy.render_haproxy(self.config, self.current() or proxy.Endpoints())
        write(self.files["cfg"], self.rendered)
        problem = valid(self.haproxy, self.files["cfg"])
        if problem:
            fail(f"error starting haproxy: invalid configuration: {problem}")

    def check_script(self) -> str:
        """The Galera check through the mariadb client (fast), else through Python (said once)."""
        client = shutil.which("mariadb") or shutil.which("mysql")
        if client is None:
            say("no mariadb client on this host: the Galera check runs through python (slower)")
            pythonpath = os.pathsep.join(p for p in sys.path if p)
            return proxy.render_check_script(sys.executable, pythonpath, os.path.abspath(self.credentials))
        secret = read_credentials(self.credentials)
        defaults = proxy.render_client_defaults(secret["user"], secret["password"])
        write(self.files["check_defaults"], defaults, 0o600)
        return proxy.render_client_check_script(client, self.files["check_defaults"])

    def refresh(self, master: subprocess.Popen[bytes]) -> None:
        endpoints = self.current()
        if endpoints is None:
            return
        text = proxy.render_haproxy(self.config, endpoints)
        if text == self.rendered:
            return
        candidate = self.files["cfg"] + ".new"
        write(candidate, text)
        problem = valid(self.haproxy, candidate)
        if problem:
            print(f"error reloading haproxy: invalid configuration kept aside: {problem}", file=sys.stderr)
            return
        try:
            state = stats_command(self.files["stats"], "show servers state")
            write(self.files["state"], proxy.keep_state(state, endpoints))
        except OSError as exc:
            print(f"error saving server state: {exc}; new servers start unchecked", file=sys.stderr)
        os.replace(candidate, self.files["cfg"])
        self.rendered = text
        master.send_signal(signal.SIGUSR2)
        print(
            f"haproxy reloaded: {len(endpoints.wordpress)} wordpress, {len(endpoints.galera)} galera",
            flush=True,
        )

    def run(self) -> int:
        self.prepare()
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        cmd = [self.haproxy, "-W", "-db", "-f", self.files["cfg"], "-S", self.files["master"]]
        master = subprocess.Popen(cmd)
        while not stop.wait(self.interval):
            if master.poll() is not None:
                print(f"error running haproxy: the master exited with {master.returncode}", file=sys.stderr)
                return 1
            self.refresh(master)
        soft_stop(master)
        return 0


def soft_stop(master: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGUSR1 (finish the requests in flight), sent again every second: a master still re-executing
    itself after a SIGUSR2 reload misses it. Killed after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        master.send_signal(signal.SIGUSR1)
        try:
            master.wait(min(1.0, max(0.0, deadline - time.monotonic())))
            return
        except subprocess.TimeoutExpired:
            continue
    master.kill()
    master.wait()


def read_credentials(path: str) -> dict[str, str]:
    """The check user's {"user", "password"} from its 0600 JSON file; exits 1 naming what is wrong."""
    check_secret(path)
    try:
        with open(path, encoding="utf-8") as handle:
            secret = json.load(handle)
    except (OSError, ValueError) as exc:
        fail(f"error reading secret file {path}: {exc}")
    if not isinstance(secret, dict) or not all(isinstance(secret.get(k), str) for k in ("user", "password")):
        fail(f'error reading secret file {path}: must be JSON {{"user": "...", "password": "..."}}')
    return {"user": secret["user"], "password": secret["password"]}


def mysql_check(credentials: str, host: str, port: int) -> int:
    """Exit status 0 only if the node at host:port is Synced (wsrep_local_state 4, ready, Primary)."""
    import pymysql  # type: ignore[import-untyped]  # only the check needs it: keep `run` light

    secret = read_credentials(credentials)
    try:
        conn = pymysql.connect(
            host=host, port=port, user=secret["user"], password=secret["password"],
            connect_timeout=2, read_timeout=2, ssl_disabled=True,
        )  # fmt: skip
        with conn, conn.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'wsrep_%'")
            status = {str(k): str(v) for k, v in cursor.fetchall()}
    except pymysql.MySQLError as exc:
        print(f"{host}:{port} not synced: {exc}", file=sys.stderr)
        return 1
    if proxy.is_synced(status):
        return 0
    print(
        f"{host}:{port} not synced: state {status.get('wsrep_local_state_comment', 'no wsrep')}",
        file=sys.stderr,
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mesopress.tasks.proxy")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--config", required=True)
    source = run.add_mutually_exclusive_group()
    source.add_argument("--endpoints-url")
    source.add_argument("--endpoints-file")
    check = sub.add_parser("mysql-check")
    check.add_argument("--credentials", required=True)
    check.add_argument("--host", required=True)
    check.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "mysql-check":
        return mysql_check(args.credentials, args.host, args.port)
    try:
        with open(args.config, encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as exc:
        fail(f"error reading config {args.config}: {exc}")
    if not config.get("check_credentials_file"):
        fail(f"error reading config {args.config}: missing check_credentials_file")
    credentials = os.path.join(
        os.path.dirname(os.path.abspath(args.config)), config["check_credentials_file"]
    )
    config["check_credentials_file"] = credentials  # relative: to the config's directory
    if config.get("restrict_secrets") is True and os.path.exists(credentials):
        os.chmod(credentials, 0o600)  # the fetcher wrote it with the default umask
    return Proxy(config, sources_of(config, args.endpoints_url, args.endpoints_file, args.config)).run()


def sources_of(config: dict[str, Any], url: str | None, file: str | None, where: str) -> Sources:
    """The sources the config and flags name; exits 1 naming the field when there is none or a bad one."""
    api_url, schedulers = config.get("api_url") or "", config.get("schedulers") or []
    if not isinstance(schedulers, list) or not all(proxy.is_url(u) for u in schedulers):
        fail(f"error reading config {where}: schedulers must be a list of http://host:port URLs")
    if api_url and not proxy.is_url(api_url):
        fail(f"error reading config {where}: api_url {api_url!r} is not a URL, e.g. http://vip:8080")
    if url and not proxy.is_url(url):
        fail(f"error in --endpoints-url: {url!r} is not a URL, e.g. http://host:8080/v1/endpoints")
    pinned, known = [api_url] if api_url else [], [*schedulers, *([url] if url else [])]
    if not (file or pinned or known):
        fail(f"error reading config {where}: no endpoints source; give --endpoints-url or --endpoints-file")
    return Sources(pinned, known, file)


if __name__ == "__main__":
    sys.exit(main())
