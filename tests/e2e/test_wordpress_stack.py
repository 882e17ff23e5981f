"""The WordPress site as a user runs it: localmesos, real ZooKeeper, two schedulers, Galera, WordPress.

One story per module (deploying is the slow part): a localmesos cluster of 3 agents on distinct
loopback hosts, two `python -m mesopress scheduler` processes deploying docs/examples/local-site.yaml
(with the proxy's fixed ports moved into this test's port range), and every check over real HTTP
through the proxy. In order: the site is installed with the generated admin password (read with the
`mesopress secret` CLI); a post created through the REST API on one instance is read on another and
through the proxy; an upload survives a crash of the media pod, then of its agent; the Galera writer
is killed under a steady, bounded load of reads and writes through the proxy: failed requests and the
longest gap are counted, and every acknowledged post is still there afterwards.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from localmesos.cluster import Cluster
from localmesos.zkserver import ZooKeeperServer, free_port
from support.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "local-site.yaml"
HTTP_PORT, MYSQL_PORT = 44080, 44306  # in agent 0's range below
RESOURCES = "cpus:4;mem:4096;disk:20000;ports:[44000-44999]"
SITE = f"http://127.0.0.1:{HTTP_PORT}"
DEPLOY_S = 240.0


def get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def api(port: int, path: str) -> Any:
    code, body = get(f"http://127.0.0.1:{port}{path}")
    try:
        return json.loads(body) if code == 200 else None
    except ValueError:
        return None


@dataclass
class Stack:
    cluster: Cluster
    work: Path
    zk: str
    ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_schedulers(self, service: Path) -> None:
        for port in self.ports:
            cmd = [sys.executable, "-m", "mesopress", "scheduler", "--config", str(service)]
            cmd += ["--master", self.cluster.master_url, "--zk", self.zk, "--http-port", str(port)]
            cmd += ["--hostname", "127.0.0.1"]
            with (self.work / f"scheduler-{port}.log").open("ab") as log:
                env = {**os.environ, "MESOPRESS_ZK_SESSION_TIMEOUT": "4"}
                self.procs.append(
                    subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env)
                )

    def stop_schedulers(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []

    def leader(self) -> int:
        def find() -> int | None:
            for port in self.ports:
                state = api(port, "/v1/state")
                if isinstance(state, dict) and state.get("role") == "leader":
                    return port
            return None

        return eventually(find, timeout=30, message="no leader")

    def endpoints(self) -> dict[str, dict[str, Any]]:
        view = api(self.leader(), "/v1/endpoints") or {}
        return {e["instance"]: e for group in view.values() for e in group}

    def url(self, instance: str) -> str:
        entry = self.endpoints()[instance]
        return f"http://{entry['host']}:{entry['ports']['http']}"

    def task_of(self, instance: str) -> dict[str, Any]:
        pods = api(self.leader(), "/v1/pods") or []
        return next(p for p in pods if p["instance"] == instance)

    def all_ready(self, names: list[str]) -> bool:
        view = self.endpoints()
        return all(view.get(n, {}).get("ready") for n in names)


def service_file(work: Path, wordpress: int = 2) -> Path:
    text = EXAMPLE.read_text().replace("31080", str(HTTP_PORT)).replace("31306", str(MYSQL_PORT))
    text = text.replace("    count: 2\n", f"    count: {wordpress}\n")
    path = work / f"site-{wordpress}.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def stack(zk_server: ZooKeeperServer) -> Iterator[Stack]:
    # the task users (mysql, www-data) must traverse every directory above their sandboxes
    work = Path(tempfile.mkdtemp(prefix="mesopress-wordpress-e2e-", dir="/tmp"))
    work.chmod(0o755)
    cluster = Cluster(
        work / "cluster",
        agents=3,
        port=0,
        agent_resources=RESOURCES,
        distinct_hosts=True,
        allocation_interval=0.5,
    )
    cluster.start()
    built = Stack(
        cluster, work, zk_server.url(f"/wp-{uuid.uuid4().hex[:8]}/mesopress"), [free_port(), free_port()]
    )
    try:
        built.start_schedulers(service_file(work))
        eventually(lambda: get(f"{SITE}/")[0] == 200, timeout=DEPLOY_S, interval=1, message="the site")
        names = ["galera-0", "galera-1", "galera-2", "media-0", "wordpress-0", "wordpress-1"]
        eventually(lambda: built.all_ready(names), timeout=60, interval=1, message="every pod ready")
        yield built
    finally:
        built.stop_schedulers()
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Login:
    """Cookie login with the admin password, then a REST nonce; usable on any instance or the proxy."""

    def __init__(self, base: str, password: str) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)
        self.open(f"{base}/wp-login.php")
        form = {"log": "admin", "pwd": password, "wp-submit": "Log In", "testcookie": "1"}
        code, _ = self.open(f"{base}/wp-login.php", urllib.parse.urlencode(form).encode())
        assert code == 302, code
        code, nonce = self.open(f"{base}/wp-admin/admin-ajax.php?action=rest-nonce")
        assert code == 200, nonce
        self.nonce = nonce.decode().strip()

    def open(
        self, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=15) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def post(self, base: str, title: str) -> tuple[int, Any]:
        body = json.dumps({"title": title, "content": "e2e", "status": "publish"}).encode()
        headers = {"X-WP-Nonce": self.nonce, "Content-Type": "application/json"}
        code, raw = self.open(f"{base}/wp-json/wp/v2/posts", body, headers)
        return code, json.loads(raw) if code == 201 else raw[:200]

    def upload(self, base: str, name: str, data: bytes) -> tuple[int, Any]:
        headers = {"X-WP-Nonce": self.nonce, "Content-Type": "text/plain"}
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
        code, raw = self.open(f"{base}/wp-json/wp/v2/media", data, headers)
        return code, json.loads(raw) if code == 201 else raw[:300]


def login(base: str, password: str) -> Login:
    """A login, retried: a request may meet a short database blip (a proxy check under CPU load)."""

    def attempt() -> Login | None:
        try:
            return Login(base, password)
        except (AssertionError, ValueError):
            return None

    return eventually(attempt, timeout=30, interval=1, message=f"logging in at {base}")


def admin_password(stack: Stack) -> str:
    cmd = [sys.executable, "-m", "mesopress", "secret", "wordpress-admin-password"]
    done = subprocess.run(
        [*cmd, "--url", f"http://127.0.0.1:{stack.ports[1]}"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_site_is_installed_with_the_generated_admin_password(stack: Stack) -> None:
    code, body = get(f"{SITE}/")
    assert code == 200 and b"mesopress local site" in body
    password = admin_password(stack)
    assert len(password) >= 32
    login(SITE, password)


def test_a_post_made_on_one_instance_is_read_on_another_and_through_the_proxy(stack: Stack) -> None:
    one, two = stack.url("wordpress-0"), stack.url("wordpress-1")
    code, post = login(one, admin_password(stack)).post(one, "Hello from wordpress-0")
    assert code == 201, post
    for base in (two, SITE):
        code, body = get(f"{base}/wp-json/wp/v2/posts/{post['id']}")
        assert code == 200, (base, code, body[:300])
        assert json.loads(body)["title"]["rendered"] == "Hello from wordpress-0", base


def test_an_upload_is_served_after_its_pod_then_its_agent_is_killed(stack: Stack) -> None:
    data = f"media {uuid.uuid4()}".encode()
    code, media = login(SITE, admin_password(stack)).upload(SITE, "e2e.txt", data)
    assert code == 201, media
    path = urllib.parse.urlsplit(media["source_url"]).path
    assert get(f"{SITE}{path}") == (200, data)
    before = stack.task_of("media-0")
    stack.cluster.kill_task(before["task_id"])
    eventually(lambda: stack.task_of("media-0")["task_id"] != before["task_id"], timeout=60, interval=0.5)
    eventually(lambda: get(f"{SITE}{path}") == (200, data), timeout=90, interval=0.5, message="after a crash")
    agent = next(a for a in stack.cluster.agents if a.agent_id == stack.task_of("media-0")["agent_id"])
    stack.cluster.stop_agent(agent.name)
    stack.cluster.start_agent(agent.name)
    eventually(
        lambda: get(f"{SITE}{path}") == (200, data), timeout=120, interval=1, message="after the agent"
    )
    eventually(lambda: get(f"{SITE}/")[0] == 200, timeout=120, interval=1, message="the site after the agent")


def test_scaling_up_from_2_to_4_instances_fails_no_request(stack: Stack) -> None:
    """A new configuration reaches the schedulers by a restart with the new file (failover, no
    teardown); the proxy adds each new instance once it is READY. (Scaling down needs the core to
    stop surplus instances: not yet, see docs/scheduler.md "Requests from the WordPress kinds".)"""
    load = Load(login(SITE, admin_password(stack)), rate=10.0)
    reader = threading.Thread(target=load.read, daemon=True)
    reader.start()
    stack.stop_schedulers()
    stack.start_schedulers(service_file(stack.work, wordpress=4))
    names = [f"wordpress-{i}" for i in range(4)]
    eventually(lambda: stack.all_ready(names), timeout=120, interval=1, message="4 instances ready")
    time.sleep(3)  # the proxy polls every second and needs two passing checks (rise 2, inter 1s)
    load.stop.set()
    reader.join(30)
    assert load.failures == [], load.failures
    for name in names:
        assert get(f"{stack.url(name)}/mesopress-ready")[0] == 200, name


@dataclass
class Load:
    """Bounded load through the proxy: one reader and one writer, each at most `rate` requests/s."""

    login: Login
    rate: float = 5.0
    stop: threading.Event = field(default_factory=threading.Event)
    acked: list[int] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    last_ok: float = field(default_factory=time.monotonic)
    gap: float = 0.0

    def _ok(self) -> None:
        now = time.monotonic()
        self.gap, self.last_ok = max(self.gap, now - self.last_ok), now

    def read(self) -> None:
        while not self.stop.wait(1 / self.rate):
            code, _ = get(f"{SITE}/", timeout=15)
            self._ok() if code == 200 else self.failures.append((time.monotonic(), f"GET {code}"))

    def write(self) -> None:
        while not self.stop.wait(1 / self.rate):
            code, post = self.login.post(SITE, f"load {len(self.acked)}")
            if code == 201:
                self.acked.append(int(post["id"]))
                self._ok()
            else:
                self.failures.append((time.monotonic(), f"POST {code}"))

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=t, daemon=True) for t in (self.read, self.write)]
        for thread in threads:
            thread.start()
        return threads


def writer(stack: Stack) -> str:
    """The node HAProxy writes to: the first Synced node in the endpoints' order."""
    nodes = sorted(n for n, e in stack.endpoints().items() if n.startswith("galera-") and e["ready"])
    return nodes[0]


def test_killing_the_galera_writer_under_load_loses_no_acknowledged_post(stack: Stack) -> None:
    load = Load(login(SITE, admin_password(stack)))
    threads = load.run()
    eventually(lambda: len(load.acked) >= 5, timeout=30, interval=0.2, message="the load never started")
    victim = writer(stack)
    before = stack.task_of(victim)
    started = time.monotonic()
    stack.cluster.kill_task(before["task_id"])
    eventually(lambda: stack.all_ready([victim]) and stack.task_of(victim)["task_id"] != before["task_id"],
               timeout=120, interval=1, message=f"{victim} back")  # fmt: skip
    time.sleep(3)  # keep the load on after the node's return (a bounded, known window)
    load.stop.set()
    for thread in threads:
        thread.join(30)
    during = [f for f in load.failures if f[0] >= started]
    print(f"writer {victim} killed: {len(during)} failed requests, longest gap {load.gap:.1f}s, "
          f"{len(load.acked)} posts acknowledged")  # fmt: skip
    assert load.gap < 30, load.failures
    answers = {i: get(f"{SITE}/wp-json/wp/v2/posts/{i}")[0] for i in load.acked}
    missing = {i: code for i, code in answers.items() if code != 200}
    assert missing == {}, (
        f"acknowledged posts not found (id: HTTP status): {missing}, writer now {writer(stack)}"
    )
