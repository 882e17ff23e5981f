"""WordPress instances and the proxy as real processes, without Mesos.

One MariaDB server (a single-node Galera cluster, so the proxy's Synced-only check is exercised for
real), the media pod and two WordPress instances run by `mesopress.tasks.wordpress_instance`, and
HAProxy run by `mesopress.tasks.proxy` in front of them; the instances reach the database through the
proxy's MySQL front end, as in production. Everything binds 127.0.0.1 on free ports under tmp dirs
and is stopped afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from mesopress.tasks.proxy import stats_command
from mesopress.wordpress import site
from support.waiting import eventually
from support.wordpress_login import Login

FRAMEWORK = str(Path(__file__).resolve().parents[2] / "framework")
ENV = {**os.environ, "PYTHONPATH": FRAMEWORK}
ADMIN, ADMIN_PASSWORD = "admin", "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def secret(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


def get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def status(url: str) -> int:
    """HTTP status, or 0 when nothing answers yet."""
    try:
        return get(url, timeout=5)[0]
    except OSError:
        return 0


def alive(pid: int) -> bool:
    """From /proc, not kill -0: a zombie waiting for a late reaper counts as gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class MariaDB:
    """A single-node Galera cluster in a tmp dir: bootstraps itself (gcomm://) at every start."""

    def __init__(self, root: Path) -> None:
        self.root, self.port, galera = root, free_port(), free_port()
        self.socket = str(root / "mysqld.sock")
        (root / "data").mkdir(parents=True)
        self.cnf = root / "my.cnf"
        options = f"base_port={galera};gmcast.listen_addr=tcp://127.0.0.1:{galera};gcache.size=16M"
        self.cnf.write_text(
            "[mysqld]\nuser=root\n"
            f"datadir={root / 'data'}\nsocket={self.socket}\nport={self.port}\nbind-address=127.0.0.1\n"
            f"pid-file={root / 'mysqld.pid'}\nlog-error={root / 'error.log'}\n"
            "skip-name-resolve\ninnodb_buffer_pool_size=64M\nperformance_schema=OFF\nbinlog_format=ROW\n"
            "innodb_autoinc_lock_mode=2\nwsrep_on=ON\nwsrep_provider=/usr/lib/galera/libgalera_smm.so\n"
            f"wsrep_cluster_address=gcomm://\nwsrep_node_address=127.0.0.1:{galera}\n"
            f'wsrep_provider_options="{options}"\n'
        )
        subprocess.run(
            ["mariadb-install-db", f"--defaults-file={self.cnf}", "--skip-test-db"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["mariadbd", f"--defaults-file={self.cnf}"], stderr=subprocess.DEVNULL)
        eventually(
            self._synced, timeout=60, interval=0.1, message=lambda: (self.root / "error.log").read_text()
        )

    def _synced(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "mariadbd exited"
        query = "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'"
        cmd = ["mariadb", "--no-defaults", "-S", self.socket, "-u", "root", "-N", "-e", query]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return done.returncode == 0 and done.stdout.split() == ["wsrep_local_state", "4"]

    def sql(self, *statements: str) -> list[Any]:
        conn = pymysql.connect(unix_socket=self.socket, user="root", connect_timeout=2)
        with conn, conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
            conn.commit()
            return list(cursor.fetchall())

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


class Stack:
    """Paths, ports and processes of one test site."""

    def __init__(self, root: Path, db: MariaDB) -> None:
        self.root, self.db = root, db
        self.http_port, self.mysql_port = free_port(), free_port()
        self.public = f"http://127.0.0.1:{self.http_port}"
        self.db_password = secret(root / "db-password", "wp-secret-1\n")
        self.admin_password = secret(root / "admin-password", ADMIN_PASSWORD + "\n")
        self.salts = site.generate_salts()
        self.instances: dict[str, tuple[int, subprocess.Popen[bytes] | None]] = {}
        self.endpoints = root / "endpoints.json"
        self.proxy: subprocess.Popen[bytes] | None = None

    def config(self, name: str, port: int, media: str | None = None) -> Path:
        """The instance program's config, built by the scheduler's own `site.task_config`."""
        db = site.Database("127.0.0.1", self.mysql_port, "wordpress", "wordpress", self.db_password)
        site_info = {"title": "Mesopress Test", "admin_user": ADMIN, "admin_email": "admin@example.com",
                     "admin_password_file": self.admin_password}  # fmt: skip
        config = site.task_config(name, port, site.SiteConfig(db, self.salts, self.public), site_info, media)
        config |= {"sandbox": str(self.root / name), "fpm_workers": 2}
        path = self.root / f"{name}.json"
        path.write_text(json.dumps(config))
        return path

    def start_instance(self, name: str, media: str | None = None) -> str:
        port = free_port()
        config = self.config(name, port, media)
        cmd = [sys.executable, "-m", "mesopress.tasks.wordpress_instance", "run", "--config", str(config)]
        self.instances[name] = (port, subprocess.Popen(cmd, env=ENV))
        return f"http://127.0.0.1:{port}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.instances[name][0]}"

    def stop_instance(self, name: str) -> int:
        port, proc = self.instances.pop(name)
        return stop(proc) if proc else 0

    def task(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", *args]
        return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)

    def publish(self, wordpress: list[str], media: list[str] = ["media"]) -> None:  # noqa: B006
        def entry(name: str) -> dict[str, Any]:
            return {"name": name, "host": "127.0.0.1", "port": self.instances[name][0]}

        data = {
            "wordpress": [entry(n) for n in wordpress],
            "media": [entry(n) for n in media],
            "galera": [{"name": "galera-0", "host": "127.0.0.1", "port": self.db.port}],
        }
        tmp = self.endpoints.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.endpoints)

    def start_proxy(self) -> None:
        check = secret(self.root / "check.json", json.dumps({"user": "monitor", "password": "mon-secret"}))
        config = {
            "sandbox": str(self.root / "proxy"),
            "http_port": self.http_port,
            "mysql_port": self.mysql_port,
            "check_credentials_file": check,
            "poll_interval_s": 0.5,
        }
        path = self.root / "proxy.json"
        path.write_text(json.dumps(config))
        cmd = [sys.executable, "-m", "mesopress.tasks.proxy", "run", "--config", str(path)]
        self.proxy = subprocess.Popen([*cmd, "--endpoints-file", str(self.endpoints)], env=ENV)

    def servers(self, field: str = "status") -> dict[str, str]:
        """'backend/server' -> a `show stat` field (status: UP, DOWN...; stot: sessions so far)."""
        try:
            csv = stats_command(str(self.root / "proxy/run/haproxy.sock"), "show stat")
        except OSError:
            return {}
        lines = csv.splitlines()
        if not lines or not lines[0].startswith("# "):
            return {}
        column = lines[0][2:].split(",").index(field)
        rows = [line.split(",") for line in lines[1:] if line]
        return {f"{f[0]}/{f[1]}": f[column] for f in rows if f[1] not in ("FRONTEND", "BACKEND")}

    def shutdown(self) -> None:
        if self.proxy is not None:
            stop(self.proxy)
        for name in list(self.instances):
            self.stop_instance(name)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("wordpress")
    db = MariaDB(root / "db")
    db.start()
    stack = Stack(root, db)
    try:
        db.sql(
            "CREATE DATABASE wordpress",
            "CREATE USER 'wordpress'@'127.0.0.1' IDENTIFIED BY 'wp-secret-1'",
            "GRANT ALL ON wordpress.* TO 'wordpress'@'127.0.0.1'",
            "CREATE USER 'monitor'@'127.0.0.1' IDENTIFIED BY 'mon-secret'",
        )
        stack.start_instance("media", media=str(root / "media-volume"))
        stack.start_instance("wp-1")
        stack.start_instance("wp-2")
        stack.publish(["wp-1", "wp-2"])
        stack.start_proxy()
        eventually(lambda: stack.servers().get("galera/galera-0") == "UP", timeout=30, message=stack.servers)
        first = stack.task(
            "mesopress.tasks.wordpress_instance", "install", "--config", str(root / "wp-1.json")
        )
        assert first.returncode == 0 and "wp-1: installed" in first.stdout, first.stderr
        want = {"wordpress/wp-1": "UP", "wordpress/wp-2": "UP", "media/media": "UP"}
        eventually(lambda: want.items() <= stack.servers().items(), timeout=30, message=stack.servers)
        yield stack
    finally:
        stack.shutdown()
        db.stop()


def admin_session(base: str) -> Login:
    return Login(base, ADMIN, ADMIN_PASSWORD)


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_install_runs_once_and_a_second_install_changes_nothing(stack: Stack) -> None:
    again = stack.task(
        "mesopress.tasks.wordpress_instance", "install", "--config", str(stack.root / "wp-2.json")
    )
    assert again.returncode == 0, again.stderr
    assert "wp-2: already-installed" in again.stdout
    title = stack.db.sql("SELECT option_value FROM wordpress.wp_options WHERE option_name = 'blogname'")
    assert title == [("Mesopress Test",)]
    status, body = get(f"{stack.public}/")
    assert status == 200 and b"Mesopress Test" in body


def test_a_post_created_on_one_instance_is_read_on_another(stack: Stack) -> None:
    session = admin_session(stack.url("wp-1"))
    post = json.dumps({"title": "Hello from wp-1", "content": "shared database", "status": "publish"})
    status, created = session.rest(
        f"{stack.url('wp-1')}/wp-json/wp/v2/posts", post.encode(), "application/json"
    )
    assert status == 201, created
    status, body = get(f"{stack.url('wp-2')}/wp-json/wp/v2/posts/{created['id']}")
    assert status == 200 and json.loads(body)["title"]["rendered"] == "Hello from wp-1"


def upload(session: Login, base: str, name: str, png: bytes) -> str:
    """Upload through `base` with the REST API; returns the file's path under the site."""
    disposition = f'attachment; filename="{name}"'
    headers = {"Content-Disposition": disposition}
    status, media = session.rest(f"{base}/wp-json/wp/v2/media", png, "image/png", **headers)
    assert status == 201, media
    path = urllib.parse.urlsplit(media["source_url"]).path
    assert path.startswith("/wp-content/uploads/")
    return str(path)


@pytest.mark.parametrize("through", ["proxy", "wp-2"])
def test_an_upload_through_any_entry_is_served_by_proxy_and_every_instance(
    stack: Stack, through: str
) -> None:
    base = stack.public if through == "proxy" else stack.url(through)
    png = tiny_png()
    path = upload(admin_session(base), base, f"via-{through}.png", png)
    assert (stack.root / "media-volume" / path.removeprefix("/wp-content/uploads/")).read_bytes() == png
    for entry in (stack.public, stack.url("wp-1"), stack.url("wp-2")):
        assert get(f"{entry}{path}") == (200, png), entry


def test_uploads_survive_a_relaunch_of_the_media_pod_on_its_volume(stack: Stack) -> None:
    png = tiny_png()
    path = upload(admin_session(stack.public), stack.public, "before-relaunch.png", png)
    assert stack.stop_instance("media") == 0
    stack.start_instance("media", media=str(stack.root / "media-volume"))
    stack.publish(["wp-1", "wp-2"])
    eventually(lambda: status(f"{stack.public}{path}") == 200, timeout=30)
    assert get(f"{stack.public}{path}") == (200, png)


class Traffic:
    """GETs through the proxy from two threads until stopped (bounded by `limit`); records failures."""

    def __init__(self, url: str, limit: int = 20000) -> None:
        self.url, self.limit = url, limit
        self.done = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._loop) for _ in range(2)]

    def _loop(self) -> None:
        while not self.done.is_set() and self.ok + len(self.failures) < self.limit:
            try:
                status, _ = get(self.url)
            except OSError as exc:
                self.failures.append(repr(exc))
                continue
            if status == 200:
                self.ok += 1
            else:
                self.failures.append(f"HTTP {status}")

    def __enter__(self) -> Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(60)


def test_endpoint_changes_reload_the_proxy_without_a_failed_request(stack: Stack) -> None:
    stack.start_instance("wp-3")
    eventually(lambda: status(f"{stack.url('wp-3')}/mesopress-ready") == 200, timeout=30)
    servers = stack.servers
    with Traffic(f"{stack.public}/wp-json/wp/v2/posts?per_page=1") as traffic:
        eventually(lambda: traffic.ok >= 20, timeout=30)
        stack.publish(["wp-1", "wp-2", "wp-3"])
        eventually(
            lambda: servers().get("wordpress/wp-3") == "UP", timeout=30, message=lambda: str(servers())
        )
        stack.publish(["wp-2", "wp-3"])
        eventually(lambda: "wordpress/wp-1" not in servers(), timeout=30, message=lambda: str(servers()))
        before = traffic.ok
        eventually(lambda: traffic.ok >= before + 20, timeout=30)
        stack.publish(["wp-1", "wp-2"])
        eventually(lambda: "wordpress/wp-3" not in servers(), timeout=30, message=lambda: str(servers()))
        assert stack.stop_instance("wp-3") == 0
        before = traffic.ok
        eventually(lambda: traffic.ok >= before + 20, timeout=30)
    print(f"requests through the proxy during the changes: {traffic.ok} ok")
    assert traffic.failures == [], traffic.failures[:5]
    assert servers().get("wordpress/wp-1") == "UP"


def test_an_instance_without_database_is_not_ready_and_gets_no_traffic(stack: Stack) -> None:
    servers = stack.servers
    stack.db.stop()
    try:
        eventually(lambda: status(f"{stack.url('wp-1')}/mesopress-ready") == 503, timeout=30)
        down = {"wordpress/wp-1": "DOWN", "wordpress/wp-2": "DOWN", "galera/galera-0": "DOWN"}
        eventually(lambda: down.items() <= servers().items(), timeout=30, message=lambda: str(servers()))
        assert get(f"{stack.public}/")[0] == 503  # HAProxy's own answer: no server left
    finally:
        stack.db.start()
    up = {"wordpress/wp-1": "UP", "wordpress/wp-2": "UP", "galera/galera-0": "UP"}
    eventually(lambda: up.items() <= servers().items(), timeout=30, message=lambda: str(servers()))
    assert get(f"{stack.public}/")[0] == 200


def test_an_instance_that_cannot_reach_the_database_gets_no_traffic(stack: Stack) -> None:
    port = free_port()
    config = stack.config("cut-off", port)
    data = json.loads(config.read_text())
    data["database"]["port"] = free_port()  # nothing listens there: this instance has no database
    config.write_text(json.dumps(data))
    cmd = [sys.executable, "-m", "mesopress.tasks.wordpress_instance", "run", "--config", str(config)]
    stack.instances["cut-off"] = (port, subprocess.Popen(cmd, env=ENV))
    try:
        eventually(lambda: status(f"http://127.0.0.1:{port}/mesopress-ready") == 503, timeout=30)
        stack.publish(["wp-1", "wp-2", "cut-off"])
        servers = stack.servers
        eventually(
            lambda: servers().get("wordpress/cut-off") == "DOWN", timeout=30, message=lambda: str(servers())
        )
        sessions = stack.servers("stot")["wordpress/cut-off"]
        assert all(status(f"{stack.public}/wp-json/wp/v2/posts?per_page=1") == 200 for _ in range(20))
        assert stack.servers("stot")["wordpress/cut-off"] == sessions
    finally:
        stack.publish(["wp-1", "wp-2"])
        eventually(lambda: "wordpress/cut-off" not in stack.servers(), timeout=30)
        stack.stop_instance("cut-off")


def test_the_proxys_client_check_passes_only_for_a_synced_node(stack: Stack) -> None:
    """The script the proxy task rendered (the mariadb client, the HAProxy arguments), run as HAProxy does."""
    script = stack.root / "proxy/conf/mysql-check.sh"
    eventually(script.exists, timeout=30, message="the proxy's check script")
    assert "--defaults-file=" in script.read_text()
    assert (stack.root / "proxy/conf/mysql-check.cnf").stat().st_mode & 0o777 == 0o600

    def check(port: int) -> subprocess.CompletedProcess[str]:
        argv = [str(script), "", "", "127.0.0.1", str(port)]
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)

    assert check(stack.db.port).returncode == 0, check(stack.db.port).stderr
    closed = check(free_port())
    assert closed.returncode == 1 and "not synced" in closed.stderr


def test_mysql_check_passes_only_for_a_synced_node(stack: Stack, tmp_path: Path) -> None:
    good = str(stack.root / "check.json")
    check = ("mesopress.tasks.proxy", "mysql-check", "--host", "127.0.0.1")
    assert stack.task(*check, "--port", str(stack.db.port), "--credentials", good).returncode == 0
    closed = stack.task(*check, "--port", str(free_port()), "--credentials", good)
    assert closed.returncode == 1 and "not synced" in closed.stderr
    loose = tmp_path / "loose.json"
    loose.write_text(json.dumps({"user": "monitor", "password": "mon-secret"}))
    loose.chmod(0o644)
    refused = stack.task(*check, "--port", str(stack.db.port), "--credentials", str(loose))
    assert refused.returncode == 1 and "chmod 600" in refused.stderr


def test_the_instance_exits_non_zero_when_php_fpm_dies_and_stops_nginx(stack: Stack) -> None:
    base = stack.start_instance("doomed")
    eventually(lambda: status(f"{base}/mesopress-ready") == 200, timeout=30)
    fpm_pid = int((stack.root / "doomed/run/php-fpm.pid").read_text())
    workers = Path(f"/proc/{fpm_pid}/task/{fpm_pid}/children").read_text().split()
    assert workers
    os.kill(fpm_pid, signal.SIGKILL)
    port, proc = stack.instances.pop("doomed")
    assert proc is not None
    assert proc.wait(30) == 1
    eventually(
        lambda: not any(alive(int(pid)) for pid in workers), timeout=10, message="orphaned FPM workers"
    )
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_sigterm_stops_the_instance_cleanly(stack: Stack) -> None:
    base = stack.start_instance("short-lived")
    eventually(lambda: status(f"{base}/mesopress-ready") == 200, timeout=30)
    assert stack.stop_instance("short-lived") == 0
    with pytest.raises(OSError):
        get(f"{base}/mesopress-ready", timeout=2)


def test_a_taken_port_fails_the_instance(stack: Stack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = stack.config("clash", taken.getsockname()[1])
        done = stack.task("mesopress.tasks.wordpress_instance", "run", "--config", str(config), timeout=60)
    assert done.returncode == 1 and "nginx exited" in done.stderr


def test_a_readable_password_file_is_refused(stack: Stack, tmp_path: Path) -> None:
    loose = tmp_path / "password"
    loose.write_text("x")
    loose.chmod(0o644)
    config = stack.config("loose", free_port())
    data = json.loads(config.read_text())
    data["database"]["password_file"] = str(loose)
    config.write_text(json.dumps(data))
    done = stack.task("mesopress.tasks.wordpress_instance", "run", "--config", str(config), timeout=60)
    assert done.returncode == 1 and f"chmod 600 {loose}" in done.stderr


def start_lone_proxy(stack: Stack, name: str) -> tuple[subprocess.Popen[bytes], int]:
    """A second proxy with no endpoints: its own sandbox and ports."""
    port, endpoints = free_port(), stack.root / f"{name}-endpoints.json"
    endpoints.write_text("{}")
    config = stack.root / f"{name}.json"
    sandbox = str(stack.root / name)
    config.write_text(
        json.dumps(
            {"sandbox": sandbox, "http_port": port, "mysql_port": free_port(),
             "check_credentials_file": str(stack.root / "check.json")}
        )
    )  # fmt: skip
    cmd = [sys.executable, "-m", "mesopress.tasks.proxy", "run", "--config", str(config)]
    proc = subprocess.Popen([*cmd, "--endpoints-file", str(endpoints)], env=ENV)
    eventually(lambda: status(f"http://127.0.0.1:{port}/") == 503, timeout=30)  # up, no instance
    return proc, port


def test_the_proxy_stops_cleanly_on_sigterm(stack: Stack) -> None:
    proc, port = start_lone_proxy(stack, "proxy-term")
    assert stop(proc) == 0
    assert status(f"http://127.0.0.1:{port}/") == 0


def test_the_proxy_exits_non_zero_when_haproxy_dies(stack: Stack) -> None:
    proc, port = start_lone_proxy(stack, "proxy-kill")
    try:
        (master,) = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        os.kill(int(master), signal.SIGKILL)
        assert proc.wait(30) == 1
        eventually(lambda: status(f"http://127.0.0.1:{port}/") == 0, timeout=10, message="workers outlived")
    finally:
        stop(proc)
