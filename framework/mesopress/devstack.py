"""The whole product on one machine: ZooKeeper, localmesos, two schedulers, Galera, WordPress, the proxy.

Why processes and not imports: this is what `scripts/run-local` runs, so it must behave like an
operator's deployment: localmesos (`python -m localmesos.local`: ZooKeeper + master + 3 agents) and two
scheduler processes (`python -m mesopress scheduler`, one leads, one stands by) are children with their
own logs under `--work-dir`. mesopress never imports localmesos.

Stopping (Ctrl-C / SIGTERM) stops the schedulers first, with failover (the framework is not torn
down), then localmesos (its agents kill their tasks, as a host crash would). Everything lives under
`--work-dir`, so a second run finds ZooKeeper's data, the agents' reservations and volumes, and the
schedulers recover the service (Galera from its volumes, the uploads from the media volume).

    python -m mesopress.devstack --work-dir var/local [--service docs/examples/local-site.yaml]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mesopress.model import config

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SERVICE = REPO / "docs" / "examples" / "local-site.yaml"
STOP_TIMEOUT_S = 20.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mesopress.devstack", description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, required=True, help="where all state and logs are kept")
    parser.add_argument("--service", type=Path, default=DEFAULT_SERVICE, help="the service file")
    parser.add_argument("--master-port", type=int, default=5050)
    parser.add_argument("--zk-port", type=int, default=2181)
    parser.add_argument("--http-ports", default="8080,8081", help="the two schedulers' API ports")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the site")
    return parser.parse_args(argv)


def site_settings(service: Path) -> tuple[str, str]:
    """The site's URL and admin user: the wordpress pod's WORDPRESS_PUBLIC_URL and WORDPRESS_ADMIN_USER
    (exits with the reasons if the file is invalid)."""
    try:
        doc = config.parse_text(service.read_text(encoding="utf-8"), str(service))
    except (OSError, config.ConfigError) as exc:
        raise SystemExit(f"error reading the service file {service}: {exc}") from exc
    pods = doc.get("pods", []) if isinstance(doc, dict) else []
    env: dict[str, Any] = next(
        (
            p.get("env", {})
            for p in pods
            if isinstance(p, dict) and "wordpress" in (p.get("kind"), p.get("name"))
        ),
        {},
    )
    return str(env.get("WORDPRESS_PUBLIC_URL", "")).rstrip("/"), str(env.get("WORDPRESS_ADMIN_USER", ""))


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(200 <= response.status < 400)
    except (OSError, ValueError):
        return False


class Stack:
    """The children, in start order; `stop()` stops them in the order that keeps the service."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.logs = args.work_dir / "logs"
        self.ports = [int(p) for p in args.http_ports.split(",")]
        self.localmesos: subprocess.Popen[bytes] | None = None
        self.schedulers: list[subprocess.Popen[bytes]] = []

    def spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("ab") as log:
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)

    def start_localmesos(self) -> None:
        cmd = [sys.executable, "-m", "localmesos.local", "--work-dir", str(self.args.work_dir / "cluster")]
        cmd += ["--agents", "3", "--port", str(self.args.master_port), "--zk-port", str(self.args.zk_port)]
        self.localmesos = self.spawn("localmesos", cmd)

    def start_schedulers(self) -> None:
        zk = f"zk://127.0.0.1:{self.args.zk_port}"
        for port in self.ports:
            cmd = [sys.executable, "-m", "mesopress", "scheduler", "--config", str(self.args.service)]
            cmd += ["--master", f"{zk}/mesos", "--zk", f"{zk}/mesopress", "--http-port", str(port)]
            cmd += ["--hostname", "127.0.0.1"]
            self.schedulers.append(self.spawn(f"scheduler-{port}", cmd))

    def dead(self) -> str | None:
        for proc in [self.localmesos, *self.schedulers]:
            if proc is not None and proc.poll() is not None:
                return f"{' '.join(map(str, proc.args[1:4]))} exited with {proc.returncode}"  # type: ignore[index]
        return None

    def stop(self) -> None:
        for proc in self.schedulers:  # failover, never teardown: the service survives
            terminate(proc)
        if self.localmesos is not None:
            terminate(self.localmesos)


def terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait(stack: Stack, stop: threading.Event, check: Callable[[], bool], what: str, timeout: float) -> bool:
    """Poll `check` until true; False if stopped, a child died or the time ran out (said on stderr)."""
    deadline = time.monotonic() + timeout
    while not check():
        problem = stack.dead() or ("timed out" if time.monotonic() > deadline else None)
        if problem or stop.wait(1.0):
            if problem:
                print(f"error waiting for {what}: {problem}; logs in {stack.logs}", file=sys.stderr)
            return False
    return True


def banner(site: str, admin_user: str, ports: list[int]) -> str:
    first = f"http://127.0.0.1:{ports[0]}"
    return "\n".join(
        [
            f"Site:        {site}/   (admin: {site}/wp-admin/, user {admin_user})",
            "Schedulers:  " + ", ".join(f"http://127.0.0.1:{p}" for p in ports) + "   (one leads)",
            f"Admin password:  .venv/bin/python -m mesopress secret wordpress-admin-password --url {first}",
            f"Plans, pods:     .venv/bin/python -m mesopress plans|pods --url {first}",
            "Press Ctrl-C to stop (the next run reuses everything).",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    site, admin_user = site_settings(args.service)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(args)
    stack.logs.mkdir(exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stack.start_localmesos()
        master = f"http://127.0.0.1:{args.master_port}/health"
        if not wait(stack, stop, lambda: answers(master), "localmesos", 60):
            return 0 if stop.is_set() else 1
        stack.start_schedulers()
        print(f"localmesos up; schedulers deploying the service (logs: {stack.logs})", flush=True)
        if not wait(stack, stop, lambda: answers(f"{site}/"), "the site", args.timeout):
            return 0 if stop.is_set() else 1
        print(banner(site, admin_user, stack.ports), flush=True)
        while not stop.wait(1.0):
            if problem := stack.dead():
                print(f"error: {problem}; stopping (logs in {stack.logs})", file=sys.stderr)
                return 1
        return 0
    finally:
        print("stopping: schedulers (failover), then localmesos", flush=True)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
