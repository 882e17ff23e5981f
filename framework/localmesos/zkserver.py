"""A real ZooKeeper server (the Debian package) started as a plain child process on loopback.

Both the tests and the single-machine mode need ZooKeeper: mesopress keeps all its state there, and
localmesos can register its master there like Mesos does. There is no init system on our machines, so we
start the JVM directly (no zkServer.sh), in the foreground, as our own child, with its own data directory,
on a free 127.0.0.1 port, and we wait until it really serves (the `ruok` four-letter word answers `imok`
and `srvr` reports a mode) before returning. Stopping sends SIGTERM, waits, then SIGKILLs, and reaps the
child so nothing is left behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

log = logging.getLogger("localmesos.zkserver")

CLASSPATH_JARS = (
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
)
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"


class ZooKeeperError(RuntimeError):
    """ZooKeeper could not be started or did not become ready."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on `host` right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def four_letter_word(host: str, port: int, word: str, timeout: float = 1.0) -> str:
    """Send a ZooKeeper four-letter command and return the answer ('' when nothing answers)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                data = s.recv(4096)
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ZooKeeperError("java not found: run scripts/setup.sh (it installs the zookeeper package)")
    return java


def _check_installed() -> None:
    missing = [jar for jar in CLASSPATH_JARS if not Path(jar).exists()]
    if missing:
        raise ZooKeeperError(f"ZooKeeper jars missing ({', '.join(missing)}): run scripts/setup.sh")


class ZooKeeperServer:
    """One standalone ZooKeeper server bound to `host:port`, data in `data_dir`."""

    def __init__(
        self,
        data_dir: Path | str,
        port: int | None = None,
        host: str = "127.0.0.1",
        heap_mb: int = 128,
        tick_time_ms: int = 500,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port or free_port(host)
        self.heap_mb = heap_mb
        self.tick_time_ms = tick_time_ms
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def hosts(self) -> str:
        """The kazoo hosts string, e.g. '127.0.0.1:2181'."""
        return f"{self.host}:{self.port}"

    def url(self, path: str = "") -> str:
        """A zk:// URL for a path on this server, e.g. url('/mesos') -> 'zk://127.0.0.1:2181/mesos'."""
        return f"zk://{self.hosts}{path}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _write_config(self) -> Path:
        conf = self.data_dir / "conf"
        conf.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "data").mkdir(parents=True, exist_ok=True)
        (conf / "zoo.cfg").write_text(
            f"tickTime={self.tick_time_ms}\n"
            f"initLimit=10\nsyncLimit=5\n"
            f"dataDir={self.data_dir / 'data'}\n"
            f"clientPort={self.port}\n"
            f"clientPortAddress={self.host}\n"
            "maxClientCnxns=0\n"
            "minSessionTimeout=1000\n"
            "admin.enableServer=false\n"
            "4lw.commands.whitelist=ruok,srvr,stat,mntr\n"
            "autopurge.purgeInterval=0\n"
        )
        (conf / "log4j.properties").write_text(
            "log4j.rootLogger=WARN, FILE\n"
            "log4j.appender.FILE=org.apache.log4j.FileAppender\n"
            f"log4j.appender.FILE.File={self.data_dir / 'zookeeper.log'}\n"
            "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p %c{1}: %m%n\n"
        )
        return conf

    def start(self, timeout: float = 60.0) -> ZooKeeperServer:
        """Start the server and return once it serves; raise ZooKeeperError otherwise."""
        if self.running:
            return self
        _check_installed()
        conf = self._write_config()
        cmd = [
            _java(),
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseSerialGC",
            "-Dzookeeper.jmx.log4j.disable=true",
            "-cp",
            ":".join([str(conf), *CLASSPATH_JARS]),
            MAIN_CLASS,
            str(conf / "zoo.cfg"),
        ]
        out = open(self.data_dir / "zookeeper.out", "ab")  # noqa: SIM115 - handed to the child
        try:
            self._proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        finally:
            out.close()
        log.info("started ZooKeeper pid %s on %s (data %s)", self._proc.pid, self.hosts, self.data_dir)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise ZooKeeperError(
                    f"ZooKeeper exited with {self._proc.returncode}; see {self.data_dir / 'zookeeper.out'}"
                )
            if four_letter_word(self.host, self.port, "ruok") == "imok" and "Mode:" in four_letter_word(
                self.host, self.port, "srvr"
            ):
                return
            time.sleep(0.1)
        self.stop()
        raise ZooKeeperError(f"ZooKeeper on {self.hosts} not ready after {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and reap it. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.info("stopped ZooKeeper on %s", self.hosts)

    def __enter__(self) -> ZooKeeperServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
