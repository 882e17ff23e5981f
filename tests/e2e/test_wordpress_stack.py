"""The WordPress site as a user runs it: localmesos, real ZooKeeper, two schedulers, Galera, WordPress.

One story per module (deploying is the slow part): a localmesos cluster of 3 agents on distinct
loopback hosts, two `python -m mesopress scheduler` processes deploying docs/examples/local-site.yaml
(with the proxy's fixed ports moved into this test's port range), and every check over real HTTP
through the proxy. In order: the site is installed with the generated admin password (read with the
`mesopress secret` CLI); a post created through the REST API on one instance is read on another and
through the proxy; an upload survives a crash of the media pod, then of its agent; `mesopress update`
scales the instances 2 -> 4 -> 1 under reads and writes without one failed request; in rounds
(MESOPRESS_FAILOVER_ROUNDS, 2 by default) the Galera writer (the node behind the proxy's MySQL front
end) is killed under a steady, bounded load of reads and writes through the proxy: failed requests and
the longest gap are counted, and every acknowledged post is readable through the proxy and in the
database of every Galera node afterwards; the next round starts once the killed node is READY again.
The agents' port ranges are a free block (tests/support/ports.py), so suites may run concurrently.
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

import pymysql
import pytest

from localmesos.cluster import Cluster
from localmesos.zkserver import ZooKeeperServer, free_port
from support.galera_checks import reserved_leftovers
from support.ports import agent_ports
from support.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "local-site.yaml"
AGENTS, PORTS_PER_AGENT = 3, 1000  # the proxy's ports are put in agent 0's range (first + 80, + 306)
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
    http_port: int = 0  # the proxy's fixed ports, in agent 0's range
    mysql_port: int = 0

    @property
    def site(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

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
        pods = [group for key, group in view.items() if key != "schedulers"]  # that is a list of URLs
        return {e["instance"]: e for group in pods for e in group}

    def url(self, instance: str) -> str:
        entry = self.endpoints()[instance]
        return f"http://{entry['host']}:{entry['ports']['http']}"

    def task_of(self, instance: str) -> dict[str, Any]:
        pods = api(self.leader(), "/v1/pods") or []
        return next(p for p in pods if p["instance"] == instance)

    def all_ready(self, names: list[str]) -> bool:
        view = self.endpoints()
        return all(view.get(n, {}).get("ready") for n in names)


def service_file(stack: Stack, wordpress: int = 2) -> Path:
    text = EXAMPLE.read_text().replace("31080", str(stack.http_port)).replace("31306", str(stack.mysql_port))
    text = text.replace("    count: 2\n", f"    count: {wordpress}\n")
    path = stack.work / f"site-{wordpress}.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def stack(zk_server: ZooKeeperServer) -> Iterator[Stack]:
    # the task users (mysql, www-data) must traverse every directory above their sandboxes
    work = Path(tempfile.mkdtemp(prefix="mesopress-wordpress-e2e-", dir="/tmp"))
    work.chmod(0o755)
    first, agent_range = agent_ports(AGENTS, PORTS_PER_AGENT)
    cluster = Cluster(
        work / "cluster",
        agents=AGENTS,
        port=0,
        agent_resources=f"cpus:4;mem:4096;disk:20000;ports:{agent_range}",
        distinct_hosts=True,
        allocation_interval=0.5,
    )
    cluster.start()
    built = Stack(
        cluster, work, zk_server.url(f"/wp-{uuid.uuid4().hex[:8]}/mesopress"), [free_port(), free_port()]
    )
    built.http_port, built.mysql_port = first + 80, first + 306
    try:
        built.start_schedulers(service_file(built))
        eventually(lambda: get(f"{built.site}/")[0] == 200, timeout=DEPLOY_S, interval=1, message="the site")
        names = ["galera-0", "galera-1", "galera-2", "media-0", "wordpress-0", "wordpress-1"]
        eventually(lambda: built.all_ready(names), timeout=60, interval=1, message="every pod ready")
        yield built
    finally:
        built.stop_schedulers()
        cluster.stop()
        if os.environ.get("MESOPRESS_KEEP_WORK"):  # logs and sandboxes, for a post-mortem
            print(f"\nkept {work}")
        else:
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


def cli_secret(name: str, api_port: int) -> str:
    """A generated secret as an operator reads it: `mesopress secret NAME --url ...`."""
    cmd = [sys.executable, "-m", "mesopress", "secret", name, "--url", f"http://127.0.0.1:{api_port}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def admin_password(stack: Stack) -> str:
    return cli_secret("wordpress-admin-password", stack.ports[1])


def test_the_site_is_installed_with_the_generated_admin_password(stack: Stack) -> None:
    code, body = get(f"{stack.site}/")
    assert code == 200 and b"mesopress local site" in body
    password = admin_password(stack)
    assert len(password) >= 32
    login(stack.site, password)


def test_a_post_made_on_one_instance_is_read_on_another_and_through_the_proxy(stack: Stack) -> None:
    one, two = stack.url("wordpress-0"), stack.url("wordpress-1")
    code, post = login(one, admin_password(stack)).post(one, "Hello from wordpress-0")
    assert code == 201, post
    for base in (two, stack.site):
        code, body = get(f"{base}/wp-json/wp/v2/posts/{post['id']}")
        assert code == 200, (base, code, body[:300])
        assert json.loads(body)["title"]["rendered"] == "Hello from wordpress-0", base


def test_an_upload_is_served_after_its_pod_then_its_agent_is_killed(stack: Stack) -> None:
    data = f"media {uuid.uuid4()}".encode()
    code, media = login(stack.site, admin_password(stack)).upload(stack.site, "e2e.txt", data)
    assert code == 201, media
    path = urllib.parse.urlsplit(media["source_url"]).path
    assert get(f"{stack.site}{path}") == (200, data)
    before = stack.task_of("media-0")
    stack.cluster.kill_task(before["task_id"])
    eventually(lambda: stack.task_of("media-0")["task_id"] != before["task_id"], timeout=60, interval=0.5)
    eventually(
        lambda: get(f"{stack.site}{path}") == (200, data), timeout=90, interval=0.5, message="after a crash"
    )
    agent = next(a for a in stack.cluster.agents if a.agent_id == stack.task_of("media-0")["agent_id"])
    stack.cluster.stop_agent(agent.name)
    stack.cluster.start_agent(agent.name)
    eventually(
        lambda: get(f"{stack.site}{path}") == (200, data), timeout=120, interval=1, message="after the agent"
    )
    eventually(
        lambda: get(f"{stack.site}/")[0] == 200, timeout=120, interval=1, message="the site after the agent"
    )


def served_by(site: str) -> str | None:
    """Which server answered GET / through the proxy: the proxy's X-Served-By header."""
    try:
        with urllib.request.urlopen(f"{site}/", timeout=10) as response:
            return response.headers.get("X-Served-By")
    except OSError:
        return None


def update(stack: Stack, wordpress: int) -> None:
    """The operator's path: `mesopress update FILE --url` (POST /v1/config) with `wordpress` instances."""
    cmd = [sys.executable, "-m", "mesopress", "update", str(service_file(stack, wordpress))]
    done = subprocess.run(
        [*cmd, "--url", f"http://127.0.0.1:{stack.leader()}"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def wordpress_pods(stack: Stack) -> list[str]:
    pods = api(stack.leader(), "/v1/pods") or []
    return sorted(p["instance"] for p in pods if p["instance"].startswith("wordpress-"))


def test_scaling_from_2_to_4_to_1_instances_fails_no_request(stack: Stack) -> None:
    """Reads and writes through the proxy while the instances go 2 -> 4 -> 1. Up: the proxy adds each new
    instance once it is READY. Down: the decommission plan takes the surplus instances highest first, each
    out of /v1/endpoints (so out of the proxy) for drain_seconds before it is stopped, then releases its
    reservations. Not one request may fail, and every acknowledged post is still there."""
    load = Load(login(stack.site, admin_password(stack)), stack.site)
    threads = load.run()
    four, seen = [f"wordpress-{i}" for i in range(4)], set()

    def every_instance_serves() -> bool:
        seen.add(served_by(stack.site))
        return set(four) <= seen

    try:
        update(stack, 4)
        eventually(lambda: stack.all_ready(four), timeout=180, interval=1, message="4 instances ready")
        eventually(every_instance_serves, timeout=60, interval=0.1, message=lambda: f"served by {seen}")
        at_four = len(load.acked)
        update(stack, 1)
        eventually(
            lambda: wordpress_pods(stack) == ["wordpress-0"],
            timeout=240,
            interval=1,
            message=lambda: str(api(stack.leader(), "/v1/plans/decommission")),
        )
        only_one = lambda: {served_by(stack.site) for _ in range(8)} == {"wordpress-0"}  # noqa: E731
        eventually(only_one, timeout=30, interval=0.5, message="only wordpress-0 serves")
        eventually(lambda: len(load.acked) >= at_four + 5, timeout=60, interval=0.2, message="writes after")
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(30)
    assert load.failures == [], load.failures
    assert (api(stack.leader(), "/v1/plans/decommission") or {}).get("status") == "COMPLETE"
    gone = set(four[1:])
    eventually(
        lambda: not reserved_leftovers(stack.cluster.master_url, "mesopress", gone, set()),
        timeout=60,
        message=lambda: str(reserved_leftovers(stack.cluster.master_url, "mesopress", gone, set())),
    )
    unread = {i: code for i in load.acked if (code := get(f"{stack.site}/wp-json/wp/v2/posts/{i}")[0]) != 200}
    assert not unread, unread
    print(f"\nscale 2 -> 4 -> 1: {len(load.acked)} posts acknowledged, longest gap {load.gap:.1f}s")


@dataclass
class Load:
    """Bounded load through the proxy: one reader and one writer, each at most `rate` requests/s.

    Records every acknowledged post id (HTTP 201), every failed request with its time, and the longest
    time without a successful request (`gap`: reads and writes; `write_gap`: writes only)."""

    login: Login
    site: str
    rate: float = 5.0
    stop: threading.Event = field(default_factory=threading.Event)
    acked: list[int] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    last_ok: float = field(default_factory=time.monotonic)
    last_write: float = field(default_factory=time.monotonic)
    gap: float = 0.0
    write_gap: float = 0.0

    def _ok(self) -> None:
        now = time.monotonic()
        self.gap, self.last_ok = max(self.gap, now - self.last_ok), now

    def read(self) -> None:
        while not self.stop.wait(1 / self.rate):
            code, _ = get(f"{self.site}/", timeout=15)
            self._ok() if code == 200 else self.failures.append((time.monotonic(), f"GET {code}"))

    def write(self) -> None:
        while not self.stop.wait(1 / self.rate):
            code, post = self.login.post(self.site, f"load {len(self.acked)}")
            if code == 201:
                self.acked.append(int(post["id"]))
                now = time.monotonic()
                self.write_gap, self.last_write = max(self.write_gap, now - self.last_write), now
                self._ok()
            else:
                self.failures.append((time.monotonic(), f"POST {code} {post!r:.120}"))

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=t, daemon=True) for t in (self.read, self.write)]
        for thread in threads:
            thread.start()
        return threads


def db_password(stack: Stack) -> str:
    return cli_secret("galera-app-password", stack.ports[0])


def sql(host: str, port: int, password: str, query: str, args: Any = None) -> list[tuple[Any, ...]]:
    conn = pymysql.connect(
        host=host, port=port, user="wordpress", password=password, database="wordpress",
        connect_timeout=5, read_timeout=10, write_timeout=10, autocommit=True,
    )  # fmt: skip
    try:
        with conn.cursor() as cur:
            cur.execute(query, args)
            return list(cur.fetchall())
    finally:
        conn.close()


PROXY_ERRORS: list[str] = []  # the last error asking the proxy's MySQL front end (for messages)


def proxy_writer(stack: Stack, password: str) -> str | None:
    """The Galera node behind the proxy's MySQL front end now (what WordPress writes to)."""
    try:
        return str(sql("127.0.0.1", stack.mysql_port, password, "SELECT @@wsrep_node_name")[0][0])
    except pymysql.MySQLError as err:
        PROXY_ERRORS[:] = [repr(err)]
        return None


def galera_nodes(stack: Stack) -> dict[str, dict[str, Any]]:
    return {n: e for n, e in stack.endpoints().items() if n.startswith("galera-")}


def missing_on_nodes(stack: Stack, password: str, ids: list[int]) -> dict[str, Any]:
    """Per Galera node, the acknowledged post ids it does not hold (or the error reading them)."""
    missing: dict[str, Any] = {}
    for name, node in galera_nodes(stack).items():
        try:
            marks = ",".join(["%s"] * len(ids))
            found = sql(node["host"], node["ports"]["sql"], password,
                        f"SELECT ID FROM wp_posts WHERE ID IN ({marks})", ids)  # fmt: skip
        except pymysql.MySQLError as err:
            missing[name] = repr(err)
            continue
        if lost := sorted(set(ids) - {int(r[0]) for r in found}):
            missing[name] = lost
    return missing


def first_synced(stack: Stack) -> str:
    """The node the proxy should write to: the first Synced node in the endpoints' order."""
    nodes = sorted(n for n, e in galera_nodes(stack).items() if e["ready"])
    return nodes[0] if nodes else "none"


FAILOVER_ROUNDS = int(os.environ.get("MESOPRESS_FAILOVER_ROUNDS", "2"))  # writer kills in a row (CI: 2)
GALERA = ["galera-0", "galera-1", "galera-2"]


@pytest.mark.parametrize("round_", range(FAILOVER_ROUNDS))
def test_killing_the_galera_writer_under_load_loses_no_acknowledged_post(stack: Stack, round_: int) -> None:
    eventually(lambda: stack.all_ready(GALERA), timeout=180, interval=1, message="every Galera node READY")
    password = db_password(stack)
    victim = eventually(lambda: proxy_writer(stack, password), timeout=60, interval=1,
                        message=lambda: f"the proxy's MySQL front end: {PROXY_ERRORS}")  # fmt: skip
    load = Load(login(stack.site, admin_password(stack)), stack.site)
    threads = load.run()
    started, stalled = time.monotonic(), None  # a stall is reported after the loss checks, which run anyway
    try:
        eventually(lambda: len(load.acked) >= 5, timeout=30, interval=0.2, message="the load never started")
        before = stack.task_of(victim)
        started = time.monotonic()
        stack.cluster.kill_task(before["task_id"])

        def back_ready() -> bool:
            return stack.task_of(victim)["task_id"] != before["task_id"] and stack.all_ready([victim])

        eventually(back_ready, timeout=180, interval=1, message=f"{victim} back")
        back = len(load.acked)  # keep the load on until posts are acknowledged with the node back
        eventually(lambda: len(load.acked) >= back + 5, timeout=60, interval=0.2, message="writes after")
    except AssertionError as err:
        stalled = err
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(30)
    during = [f for f in load.failures if f[0] >= started]
    posts_failed = sum(1 for f in during if f[1].startswith("POST"))
    print(f"\nround {round_}: writer {victim} killed (first Synced now {first_synced(stack)}, proxy writes "
          f"to {proxy_writer(stack, password)}): {len(during)} failed requests ({posts_failed} posts), "
          f"longest gap {load.gap:.1f}s (writes {load.write_gap:.1f}s), {len(load.acked)} posts "
          f"acknowledged; stalled: {stalled}; failures: {during}")  # fmt: skip
    eventually(lambda: stack.all_ready(GALERA), timeout=180, interval=1, message="every Galera node READY")

    def unreadable() -> dict[int, int]:  # 404: lost; 5xx: the site is not serving (yet)
        answers = {i: get(f"{stack.site}/wp-json/wp/v2/posts/{i}")[0] for i in load.acked}
        return {i: code for i, code in answers.items() if code != 200}

    def missing() -> dict[str, Any]:
        return missing_on_nodes(stack, password, load.acked)

    eventually(lambda: not unreadable(), timeout=60, interval=2, message=lambda: (
        f"acknowledged posts not read through the proxy (id: HTTP status): {unreadable()}, writer now "
        f"{proxy_writer(stack, password)}, missing per node: {missing()}"))  # fmt: skip
    eventually(lambda: not missing(), timeout=30, interval=1, message=lambda: f"per node: {missing()}")
    if stalled is not None:
        raise stalled
    assert load.gap < 30, load.failures
