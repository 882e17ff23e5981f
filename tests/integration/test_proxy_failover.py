"""The proxy program follows the endpoints when the scheduler that launched it dies.

Two real scheduler HTTP servers (`http.server.ApiServer` over the real routes) stand for two scheduler
processes: L leads, S is a standby that redirects leader-only routes to L, as a standby does. The proxy
program (`python -m mesopress.tasks.proxy run`, real HAProxy) starts knowing only S, is redirected to
L, learns both from L's `schedulers` list and follows L's endpoint changes; then L dies, and while S is
still a standby pointing at the dead L nothing answers (the running configuration stays, logged once);
S takes the lead and its endpoint changes reach haproxy.cfg. Loopback, free ports, a tmp sandbox.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localmesos.zkserver import free_port
from mesopress.http.server import ApiServer
from support.waiting import eventually

FRAMEWORK = str(Path(__file__).resolve().parents[2] / "framework")


class SchedulerView:
    """What the routes need from a scheduler process; flipped from standby to leader by the test."""

    def __init__(self, identity: str, leader: str) -> None:
        self.identity, self.leader = identity, leader
        self.snapshot: dict[str, Any] = {}
        self.live: list[str] = []
        self.asked = 0
        self._lock = threading.Lock()

    @property
    def is_leader(self) -> bool:
        return self.leader == self.identity

    def status(self) -> dict[str, Any]:
        with self._lock:
            self.asked += 1  # every request a standby redirects, and /v1/state
        return {"identity": self.identity, "leader": self.leader, "role": "leader" if self.is_leader else ""}

    def schedulers(self) -> list[str]:
        return list(self.live)

    def serve(self, *instances: tuple[str, int]) -> None:
        entries = [
            {"instance": n, "host": "127.0.0.1", "ports": {"http": p}, "ready": True} for n, p in instances
        ]
        self.snapshot = {"endpoints": {"wordpress": entries, "galera": [], "proxy": []}}

    def config(self) -> dict[str, Any]:
        return {}

    def submit(self, kind: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
        return {"error": "not here"}


@pytest.fixture
def schedulers() -> Iterator[tuple[tuple[SchedulerView, ApiServer], tuple[SchedulerView, ApiServer]]]:
    ports = free_port(), free_port()
    leader = f"127.0.0.1:{ports[0]}"
    views = SchedulerView(leader, leader), SchedulerView(f"127.0.0.1:{ports[1]}", leader)
    servers = [ApiServer(v, port, host="127.0.0.1").start() for v, port in zip(views, ports, strict=True)]
    try:
        yield (views[0], servers[0]), (views[1], servers[1])
    finally:
        for server in servers:
            if server.socket.fileno() != -1:
                server.stop()


def test_the_proxy_follows_the_endpoints_when_its_scheduler_dies(
    schedulers: tuple[tuple[SchedulerView, ApiServer], tuple[SchedulerView, ApiServer]], tmp_path: Path
) -> None:
    (lead, lead_server), (standby, _) = schedulers
    l_url, s_url = f"http://{lead.identity}", f"http://{standby.identity}"
    lead.live = [l_url, s_url]
    lead.serve(("wordpress-0", 41001))
    credentials = tmp_path / "check.json"
    credentials.write_text(json.dumps({"user": "u", "password": "p"}))
    credentials.chmod(0o600)
    config = {
        "sandbox": str(tmp_path),
        "host": "127.0.0.1",
        "http_port": free_port(),
        "mysql_port": free_port(),
        "check_credentials_file": str(credentials),
        "poll_interval_s": 0.2,
        "schedulers": [s_url],  # only the standby: it redirects to the leader
    }
    (tmp_path / "proxy.json").write_text(json.dumps(config))
    log = (tmp_path / "proxy.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mesopress.tasks.proxy", "run", "--config", str(tmp_path / "proxy.json")],
        env={**os.environ, "PYTHONPATH": FRAMEWORK},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cfg = tmp_path / "conf" / "haproxy.cfg"

    def rendered(server: str) -> bool:
        return cfg.exists() and f"server {server} 127.0.0.1:" in cfg.read_text()

    def output() -> str:
        return (tmp_path / "proxy.log").read_text()

    try:
        eventually(lambda: rendered("wordpress-0"), timeout=20, message=output)
        learned = f"schedulers now: {l_url}, {s_url} (were: {s_url})"  # from the leader, via S's redirect
        eventually(lambda: learned in output(), timeout=10, message=output)
        lead.serve(("wordpress-1", 41002))  # the leader's changes are followed
        eventually(lambda: rendered("wordpress-1") and not rendered("wordpress-0"), 20, message=output)

        lead_server.stop()  # the scheduler that launched the proxy dies; S still names it as leader
        asked = standby.asked
        eventually(lambda: standby.asked >= asked + 5, timeout=20, message="the proxy asking the standby")
        assert rendered("wordpress-1"), "the running configuration is kept while no scheduler answers"
        assert output().count("error reading endpoints: no source answers") == 1, output()
        assert f"{s_url}: HTTP 503" not in output()  # S redirected to the dead leader: refused

        standby.leader, standby.live = standby.identity, [s_url]  # S is elected
        standby.serve(("wordpress-1", 41002), ("wordpress-2", 41003))
        eventually(lambda: rendered("wordpress-2"), timeout=20, message=output)
        standby.serve(("wordpress-2", 41003))
        eventually(lambda: not rendered("wordpress-1"), timeout=20, message=output)
        text = output()
        assert f"reading endpoints from {s_url}" in text and f"schedulers now: {s_url} (were: " in text
        assert text.count("error reading endpoints") == 1 and proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
    assert proc.returncode == 0, output()
