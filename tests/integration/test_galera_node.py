"""The Galera task program against REAL mariadbd processes, without Mesos.

Three nodes on free loopback ports (four each) in temporary sandboxes, every task run as the `mysql`
user as a Mesos agent would run it (the test itself is root and chowns the directories), each started
through `python -m mesopress.tasks.galera_node run`. Covered: first deploy (bootstrap node 0, join the
others one at a time after the previous is Synced), a restart in place after `kill -9` that catches up by
IST, and three full crashes with writes in flight, recovered through `recover` on every node, the pure
recovery machine (`galera.recovery`) and `choose_bootstrap`: every acknowledged row must be on every node
and the cluster one Primary component of size 3. Every process started here is killed by pid in the
fixtures' finalizers; every wait is bounded (`support.waiting.eventually`).

The `Cluster` harness is also used by bench/galera_raw.py.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from mesopress.galera import bootstrap, health, position, recovery
from mesopress.galera.config import Ports
from support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
TASK_USER = "mysql"
SECRETS = {"root": "r00t-secret", "sst": "sst-secret", "app": "app-secret"}
SYNC_TIMEOUT = 90.0

pytestmark = pytest.mark.skipif(
    shutil.which("mariadbd", path="/usr/sbin:/usr/bin") is None or os.geteuid() != 0,
    reason="needs the Debian mariadb-server package and root (to run tasks as mysql)",
)


def task_python() -> str:
    """An interpreter the task user can execute (the venv's may live under /root)."""
    try:
        probe = subprocess.run([sys.executable, "-c", "pass"], user=TASK_USER, capture_output=True)
    except OSError:
        return "/usr/bin/python3"
    return sys.executable if probe.returncode == 0 else "/usr/bin/python3"


@functools.lru_cache(maxsize=1)
def task_pylib() -> str:
    """mesopress and pymysql copied where the task user can read them.

    The checkout and its venv may sit under a directory the task user cannot enter (/root is 0700), as
    on a Mesos agent, where tasks get their code through the fetcher; so the tasks of these tests import
    from a world-readable copy, removed when the test run ends.
    """
    import pymysql as module

    lib = Path(tempfile.mkdtemp(prefix="mp-pylib-", dir="/tmp"))
    os.chmod(lib, 0o755)
    atexit.register(shutil.rmtree, lib, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "framework" / "mesopress", lib / "mesopress", ignore=ignore)
    shutil.copytree(Path(module.__file__).resolve().parent, lib / "pymysql", ignore=ignore)
    for path in lib.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return str(lib)


def task_env() -> dict[str, str]:
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": task_pylib(), "LANG": "C.UTF-8"}


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclasses.dataclass
class Node:
    """One Galera task: its sandbox (config, secrets, volume) and its running `galera_node` process."""

    name: str
    sandbox: Path
    ports: Ports
    python: str
    proc: subprocess.Popen[bytes] | None = None
    mariadbd_pids: set[int] = dataclasses.field(default_factory=set)

    @property
    def config(self) -> Path:
        return self.sandbox / "config.json"

    @property
    def datadir(self) -> Path:
        return self.sandbox / "volume" / "data"

    def write_config(self, peers: list[str], bootstrap: bool, **extra: Any) -> None:
        data = {
            "node": self.name,
            "ports": dataclasses.asdict(self.ports),
            "peers": peers,
            "volume": "volume",
            "datadir": "data",
            "bootstrap": bootstrap,
            "secrets": {k: f"secrets/{k}" for k in SECRETS},
            "sst_user": "sst",
            "app_user": "app",
            "app_database": "app",
        } | extra
        self.config.write_text(json.dumps(data, indent=2))
        os.chown(self.config, *_ids())

    def command(self, verb: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        argv = [self.python, "-m", "mesopress.tasks.galera_node", verb, "--config", str(self.config)]
        return subprocess.run(
            argv, user=TASK_USER, group=TASK_USER, env=task_env(), cwd=self.sandbox, capture_output=True,
            text=True, timeout=120, **kwargs,
        )  # fmt: skip

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is already running"
        argv = [self.python, "-m", "mesopress.tasks.galera_node", "run", "--config", str(self.config)]
        with open(self.sandbox / "stdout", "ab") as out, open(self.sandbox / "stderr", "ab") as err:
            self.proc = subprocess.Popen(
                argv,
                user=TASK_USER,
                group=TASK_USER,
                env=task_env(),
                cwd=self.sandbox,
                stdout=out,
                stderr=err,
            )

    def mariadbd_pid(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return None
        for pid in map(int, children):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == "mariadbd":
                    self.mariadbd_pids.add(pid)
                    return pid
        return None

    def kill9(self) -> None:
        """Crash the node: SIGKILL its mariadbd; the task then exits with mariadbd's status."""
        pid = eventually(self.mariadbd_pid, timeout=10, message=f"{self.name} has no mariadbd")
        os.kill(pid, signal.SIGKILL)

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def connect(self) -> Any:
        """root over the unix socket; the socket is ours to close (pymysql leaks it on a refused connect)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(2)
            sock.connect(str(self.sandbox / "mysqld.sock"))
            conn = pymysql.Connection(
                unix_socket=str(self.sandbox / "mysqld.sock"), user="root", password=SECRETS["root"],
                ssl_disabled=True, connect_timeout=2, read_timeout=5, write_timeout=5, autocommit=True,
                defer_connect=True,
            )  # fmt: skip
            conn.connect(sock)
            return conn
        except BaseException:
            sock.close()
            raise

    def health(self) -> health.NodeHealth | None:
        try:
            conn = self.connect()
        except (pymysql.Error, OSError):
            return None
        try:
            with conn.cursor() as cursor:
                cursor.execute("SHOW GLOBAL STATUS LIKE 'wsrep_%'")
                return health.interpret(cursor.fetchall())
        except pymysql.Error:
            return None
        finally:
            conn.close()

    def wait_synced(self, timeout: float = SYNC_TIMEOUT) -> health.NodeHealth:
        def synced() -> health.NodeHealth | None:
            assert self.proc is not None and self.proc.poll() is None, f"{self.name} exited: {self.tail()}"
            node = self.health()
            return node if node is not None and node.ready and self.users_ready() else None

        return eventually(
            synced, timeout=timeout, interval=0.1, message=lambda: f"{self.name}: {self.tail()}"
        )

    def users_ready(self) -> bool:
        """As `check` does: a node bootstrapping a new cluster is ready once it created the users."""
        bootstrap = json.loads(self.config.read_text()).get("bootstrap") if self.config.exists() else False
        return not bootstrap or (self.sandbox / "volume" / "mesopress-users.done").exists()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            conn.close()

    def tail(self, lines: int = 15) -> str:
        path = self.sandbox / "stderr"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def log_text(self) -> str:
        return (self.sandbox / "stderr").read_text(errors="replace")

    def kill_all(self) -> None:
        """Finalizer: SIGKILL every mariadbd the task ever started, by pid, then the task (it reaps them)."""
        self.mariadbd_pid()
        for pid in self.mariadbd_pids:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        if self.proc is not None and self.proc.poll() is None:
            try:  # the task reaps its mariadbd and exits by itself; else kill it too
                self.proc.wait(timeout=5 if self.mariadbd_pids else 0.01)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        eventually(lambda: not any(_running(pid) for pid in self.mariadbd_pids), timeout=10)


def _running(pid: int) -> bool:
    """True while `pid` is a live mariadbd (not gone, not a zombie waiting for a late PID 1)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    return comm == "mariadbd" and fields[1].split()[0] != "Z"


def _ids() -> tuple[int, int]:
    entry = pwd.getpwnam(TASK_USER)
    return entry.pw_uid, entry.pw_gid


class Cluster:
    """Three (or more) task sandboxes under one temporary directory owned by the task user."""

    def __init__(self, size: int = 3) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="mp-galera-", dir="/tmp"))
        os.chmod(self.base, 0o755)
        os.chown(self.base, *_ids())
        python = task_python()
        ports = free_ports(4 * size)
        self.nodes = [self._node(i, ports[4 * i : 4 * i + 4], python) for i in range(size)]
        self.peers = [f"127.0.0.1:{n.ports.galera}" for n in self.nodes]

    def _node(self, index: int, ports: list[int], python: str) -> Node:
        sandbox = self.base / f"galera-{index}"
        for path in (sandbox, sandbox / "secrets", sandbox / "volume"):
            path.mkdir()
            os.chown(path, *_ids())
        for name, value in SECRETS.items():
            secret = sandbox / "secrets" / name
            secret.write_text(value)
            secret.chmod(0o600)
            os.chown(secret, *_ids())
        return Node(f"galera-{index}", sandbox, Ports(*ports), python)

    def configure(self, node: Node, bootstrap: bool) -> None:
        node.write_config(self.peers, bootstrap)

    def deploy(self) -> None:
        """First deploy: bootstrap node 0, then join the others one at a time, each after the previous."""
        for index, node in enumerate(self.nodes):
            self.configure(node, bootstrap=index == 0)
            node.start()
            node.wait_synced()
            self.configure(node, bootstrap=False)  # a later relaunch rejoins, never re-bootstraps

    def destroy(self) -> None:
        for node in self.nodes:
            node.kill_all()
        shutil.rmtree(self.base, ignore_errors=True)


class Writer:
    """Commits one row at a time through every node in turn; remembers the rows that were acknowledged."""

    def __init__(self, cluster: Cluster) -> None:
        self.ports = [n.ports.sql for n in cluster.nodes]
        self.acked: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.counter = 0

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def _loop(self) -> None:
        connections: dict[int, Any] = {}
        while not self.stop.is_set():
            port = self.ports[self.counter % len(self.ports)]
            self.counter += 1
            value = f"row-{self.counter}"
            try:
                conn = connections.get(port) or connections.setdefault(port, _app_connect(port))
                with conn.cursor() as cursor:
                    cursor.execute("INSERT INTO app.rows (v) VALUES (%s)", (value,))
                self.acked.append(value)
            except pymysql.Error:
                bad = connections.pop(port, None)
                if bad is not None:
                    with contextlib.suppress(Exception):
                        bad.close()
                self.stop.wait(0.02)  # pace retries against a node that is down
        for conn in connections.values():
            with contextlib.suppress(Exception):
                conn.close()

    def wait_rows(self, count: int, timeout: float = 30.0) -> None:
        eventually(
            lambda: len(self.acked) >= count, timeout=timeout, message=f"fewer than {count} rows acked"
        )


def _app_connect(port: int) -> Any:
    return pymysql.connect(
        host="127.0.0.1", port=port, user="app", password=SECRETS["app"], database="app", ssl_disabled=True,
        connect_timeout=2, read_timeout=5, write_timeout=5, autocommit=True,
    )  # fmt: skip


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = Cluster(3)
    try:
        made.deploy()
        made.nodes[0].query("CREATE TABLE IF NOT EXISTS app.rows (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)")
        yield made
    finally:
        made.destroy()


@pytest.fixture
def big_cluster() -> Iterator[Cluster]:
    """Five sandboxes; only the first three are deployed."""
    made = Cluster(5)
    try:
        for index, node in enumerate(made.nodes[:3]):
            made.configure(node, bootstrap=index == 0)
            node.start()
            node.wait_synced()
            made.configure(node, bootstrap=False)
        made.nodes[0].query("CREATE TABLE IF NOT EXISTS app.rows (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)")
        yield made
    finally:
        made.destroy()


@pytest.fixture
def sandbox() -> Iterator[Cluster]:
    made = Cluster(1)
    try:
        yield made
    finally:
        made.destroy()


def assert_all_rows_everywhere(cluster: Cluster, acked: list[str]) -> None:
    for node in cluster.nodes:
        have = {row[0] for row in node.query("SELECT v FROM app.rows")}
        lost = [v for v in acked if v not in have]
        assert not lost, f"{node.name} lost {len(lost)} acknowledged rows, e.g. {lost[:5]}"
        status = node.health()
        assert (
            status is not None
            and status.ready
            and status.primary
            and status.cluster_size == len(cluster.nodes)
        )


def recover_all(cluster: Cluster, now: float) -> recovery.RecoveryState:
    """Run `recover` on every node and feed the positions to the recovery machine."""
    state = recovery.start({n.name for n in cluster.nodes}, now)
    effects: list[Any] = []
    for node in cluster.nodes:
        done = node.command("recover")
        assert done.returncode in (0, 3), done.stderr
        record = json.loads(done.stdout.strip().splitlines()[-1])
        on_disk = json.loads((node.sandbox / "volume" / "mesopress-position.json").read_text())
        assert on_disk == record
        result = recovery.transition(
            state, recovery.PositionReported(node.name, position.from_dict(record)), now
        )
        assert result.ok, result.reason
        state, effects = result.state, [*effects, *result.effects]
    assert state.phase == recovery.CHOSEN, state.reason
    assert any(isinstance(e, recovery.StartBootstrap) for e in effects)
    return state


def run_recovery(cluster: Cluster, state: recovery.RecoveryState, now: float) -> recovery.RecoveryState:
    """Carry out the machine's effects with real processes until DONE, as the scheduler would."""
    by_name = {n.name: n for n in cluster.nodes}
    chosen = by_name[str(state.chosen)]
    cluster.configure(chosen, bootstrap=True)
    chosen.start()
    state = recovery.transition(state, recovery.Launched(chosen.name), now).state
    pending: str | None = chosen.name
    while pending is not None:
        by_name[pending].wait_synced()
        cluster.configure(by_name[pending], bootstrap=False)
        result = recovery.transition(state, recovery.NodeSynced(pending), now)
        assert result.ok, result.reason
        state = result.state
        joins = [e.node for e in result.effects if isinstance(e, recovery.StartJoin)]
        pending = joins[0] if joins else None
        if pending is not None:
            by_name[pending].start()
    assert state.phase == recovery.DONE
    return state


def test_restart_in_place_after_kill_catches_up_by_ist(cluster: Cluster) -> None:
    victim = cluster.nodes[1]
    with Writer(cluster) as writer:
        writer.wait_rows(50)
        before = len(victim.log_text())
        victim.kill9()
        assert victim.wait_exit() == 128 + signal.SIGKILL
        writer.wait_rows(len(writer.acked) + 50)  # the survivors keep committing while it is down
        stamp = victim.sandbox / "volume" / "mesopress-alive"
        assert stamp.exists(), "a run that ended without leaving the cluster must leave its stamp"
        os.utime(stamp)  # as if it had died just now, however long the rows above took
        victim.start()
        victim.wait_synced()
        writer.wait_rows(len(writer.acked) + 20)
    restart_log = victim.log_text()[before:]
    assert "recovered position" in restart_log and "rejoin from" in restart_log
    assert "without leaving the cluster: waiting" in restart_log, restart_log[-3000:]
    assert "IST received" in restart_log, restart_log[-3000:]
    assert_all_rows_everywhere(cluster, writer.acked)
    probe = victim.command("check")  # as mysql: root's password is checked, not the unix socket
    assert probe.returncode == 0 and json.loads(probe.stdout)["ready"] is True
    assert_no_secret_leaked(cluster)
    assert victim.proc is not None  # a stray bootstrap=true next to live peers must not split the cluster
    victim.proc.send_signal(signal.SIGTERM)
    assert victim.wait_exit(timeout=60) == 0
    assert not stamp.exists(), "a clean shutdown left the cluster: the next start must not wait"
    cluster.configure(victim, bootstrap=True)
    refused = victim.command("run")
    assert refused.returncode == 2 and "refusing to bootstrap: peer" in refused.stderr


def assert_no_secret_leaked(cluster: Cluster) -> None:
    for node in cluster.nodes:
        assert stat.S_IMODE((node.sandbox / "my.cnf").stat().st_mode) == 0o600
        for name in ("stdout", "stderr"):
            text = (node.sandbox / name).read_text(errors="replace")
            assert not [s for s in SECRETS.values() if s in text], f"{node.name} {name} shows a secret"
        cmdlines = [_cmdline(pid) for pid in node.mariadbd_pids | {node.proc.pid if node.proc else 0}]
        assert not [s for s in SECRETS.values() for line in cmdlines if s in line]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return ""


def test_scale_3_to_5_to_3_and_replace_a_node_on_a_fresh_volume(big_cluster: Cluster) -> None:
    first, extra = big_cluster.nodes[:3], big_cluster.nodes[3:]
    for node in extra:  # scale up: each new node joins by SST after the previous is Synced
        big_cluster.configure(node, bootstrap=False)
        node.start()
        node.wait_synced()
    eventually(lambda: all((h := n.health()) and h.cluster_size == 5 for n in big_cluster.nodes), timeout=30)
    for node in reversed(extra):  # scale down: SIGTERM is forwarded, mariadbd leaves cleanly, exit 0
        assert node.proc is not None
        node.proc.send_signal(signal.SIGTERM)
        assert node.wait_exit(timeout=60) == 0
    eventually(lambda: all((h := n.health()) and h.ready and h.cluster_size == 3 for n in first), timeout=30)
    replaced = first[2]  # replacement: a fresh, empty volume gets a full copy from a Synced donor
    assert replaced.proc is not None
    replaced.proc.send_signal(signal.SIGTERM)
    assert replaced.wait_exit(timeout=60) == 0
    shutil.rmtree(replaced.datadir)
    first[0].query("INSERT INTO app.rows (v) VALUES ('written-while-replaced')")
    replaced.start()
    replaced.wait_synced()
    assert ("written-while-replaced",) in replaced.query("SELECT v FROM app.rows")
    assert "empty data directory: join by full state transfer" in replaced.log_text()


def test_rolling_restart_applies_a_config_change_without_losing_writes(cluster: Cluster) -> None:
    with Writer(cluster) as writer:
        writer.wait_rows(30)
        for node in cluster.nodes:  # one node at a time: clean stop, new my.cnf, rejoin by IST, Synced
            node.write_config(cluster.peers, bootstrap=False, options={"max_connections": "77"})
            assert node.proc is not None
            node.proc.send_signal(signal.SIGTERM)
            assert node.wait_exit(timeout=60) == 0
            node.start()
            node.wait_synced()
            writer.wait_rows(len(writer.acked) + 20)
    for node in cluster.nodes:
        assert node.query("SELECT @@max_connections") == [(77,)]
    assert_all_rows_everywhere(cluster, writer.acked)


def test_full_crash_with_writes_in_flight_recovers_every_acknowledged_row(cluster: Cluster) -> None:
    for round_ in range(3):
        with Writer(cluster) as writer:
            writer.wait_rows(100)
            for node in cluster.nodes:
                node.kill9()
        for node in cluster.nodes:
            assert node.wait_exit() == 128 + signal.SIGKILL
        state = recover_all(cluster, now=1000.0 * round_)
        positions = {n: position.from_dict(p) for n, p in state.positions.items()}
        again = bootstrap.choose_bootstrap(positions, set(state.expected))
        assert isinstance(again, bootstrap.Choice) and again.node == state.chosen
        best = max(p.seqno for p in positions.values() if isinstance(p, position.Position))
        chosen = positions[str(state.chosen)]
        assert isinstance(chosen, position.Position) and chosen.seqno == best
        resumed = recovery.RecoveryState.from_dict(json.loads(json.dumps(state.to_dict())))
        run_recovery(cluster, resumed, now=1000.0 * round_ + 1)
        assert_all_rows_everywhere(cluster, writer.acked)


def test_recover_on_an_empty_volume_reports_unknown_and_exits_3(sandbox: Cluster) -> None:
    node = sandbox.nodes[0]
    sandbox.configure(node, bootstrap=False)
    done = node.command("recover")
    assert done.returncode == 3
    assert json.loads(done.stdout) == {"node": node.name, "unknown": "the data directory is empty"}


def test_run_refuses_a_secret_readable_by_others_and_never_prints_it(sandbox: Cluster) -> None:
    node = sandbox.nodes[0]
    sandbox.configure(node, bootstrap=True)
    (node.sandbox / "secrets" / "app").chmod(0o644)
    done = node.command("run")
    assert done.returncode == 2
    assert "must be 0600" in done.stderr and SECRETS["app"] not in done.stderr + done.stdout
    assert not node.datadir.exists()


def test_check_fails_when_the_node_is_down(sandbox: Cluster) -> None:
    node = sandbox.nodes[0]
    sandbox.configure(node, bootstrap=False)
    done = node.command("check")
    assert done.returncode == 1 and json.loads(done.stdout)["ready"] is False


def test_mariabackup_sst_authenticates_with_the_state_transfer_secret() -> None:
    made = Cluster(2)
    try:
        donor, joiner = made.nodes
        for index, node in enumerate(made.nodes):
            node.write_config(made.peers, bootstrap=index == 0, sst_method="mariabackup")
        donor.start()
        donor.wait_synced()
        donor.query("CREATE TABLE app.rows (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)")
        donor.query("INSERT INTO app.rows (v) VALUES ('before-the-copy')")
        joiner.start()
        joiner.wait_synced(timeout=120)
        assert joiner.query("SELECT v FROM app.rows") == [("before-the-copy",)]
        assert "wsrep_sst_mariabackup" in joiner.log_text() + donor.log_text()
        assert_no_secret_leaked(made)
    finally:
        made.destroy()
