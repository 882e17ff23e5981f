"""The program inside every Galera Mesos task: `python -m mesopress.tasks.galera_node run|recover|check`.

Why this module exists: the scheduler decides which node bootstraps; the task must then start mariadbd
exactly that way on the node's persistent volume, and report what it finds there. Every decision is taken
by the pure `mesopress.galera` modules (`bootstrap.decide_start`, `position.parse_*`, `health.interpret`,
`config.render_mycnf`); this module only reads files, runs processes and talks SQL over the unix socket.

- `run`: render my.cnf (mode 0600), recover the position from the volume (`--wsrep-recover`), then
  install + `--wsrep-new-cluster` (first deploy), `safe_to_bootstrap: 1` + `--wsrep-new-cluster`
  (chosen recovery node), `--wsrep-start-position` (rejoin by IST) or a plain start (SST). mariadbd stays
  our child: SIGTERM/SIGINT are forwarded and we exit with its status (PID 1 reaps late, components.md).
  After a run that ended without leaving the cluster, the start waits until the peers have evicted the
  old incarnation (`galera.rejoin`), stamping `<volume>/mesopress-alive` every second while mariadbd runs.
- `recover`: print the position as one JSON line and write it to `<volume>/mesopress-position.json`;
  exit 0, or 3 when the position is unknown.
- `check`: readiness; exit 0 only when Primary and Synced (wsrep_ready=ON, wsrep_local_state=4).

Secrets are files of mode 0600 (anything else is refused). Passwords never appear on a command line, in
the environment or in a log: users are created from password hashes over the unix socket, and the
state-transfer password (mariabackup only) goes into the 0600 my.cnf. The config JSON schema is in
docs/galera.md.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mesopress.galera import bootstrap, config, health, position, rejoin
from mesopress.tasks.galera_node_config import NodeConfig, load, read_secret, restrict_secrets

EXIT_UNKNOWN = 3
EXIT_REFUSED = 2
START_TIMEOUT_S = 120.0
ALIVE_EVERY_S = 1.0


def log(message: str) -> None:
    print(f"galera_node: {message}", file=sys.stderr, flush=True)


# --- my.cnf and the volume ----------------------------------------------------------------------------


def write_mycnf(cfg: NodeConfig, sst_password: str | None) -> None:
    text = config.render_mycnf(
        cfg.node, cfg.ports, cfg.peers, str(cfg.datadir), str(cfg.socket), cfg.users["sst"], cfg.mycnf_options
    )
    if sst_password is not None and cfg.mycnf_options.get("sst_method") == "mariabackup":
        text += f"[mariadbd]\nwsrep_sst_auth = {cfg.users['sst']}:{sst_password}\n"
    fd = os.open(cfg.mycnf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)


def has_data(cfg: NodeConfig) -> bool:
    return any((cfg.datadir / name).exists() for name in ("mysql", "grastate.dat", "ibdata1"))


def recover_position(cfg: NodeConfig) -> position.Reading:
    """`mariadbd --wsrep-recover` on the volume; grastate.dat only when the log has no position."""
    if not has_data(cfg):
        return position.Unknown("the data directory is empty")
    logfile = cfg.volume / "mesopress-recover.log"
    logfile.unlink(missing_ok=True)
    argv = [cfg.mariadbd, f"--defaults-file={cfg.mycnf}", "--wsrep-recover", f"--log-error={logfile}"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return position.Unknown("mariadbd --wsrep-recover timed out")
    text = (logfile.read_text(errors="replace") if logfile.exists() else "") + proc.stderr
    reading = position.parse_recover_log(text)
    grastate = cfg.datadir / "grastate.dat"
    if isinstance(reading, position.Unknown) and grastate.exists():
        saved = position.parse_grastate(grastate.read_text(errors="replace"))
        if position.usable(saved):
            return saved
    return reading


def live_peers(cfg: NodeConfig) -> list[str]:
    """The other peers whose Galera port accepts a TCP connection (0.5 s each)."""
    own = f"{cfg.mycnf_options.get('host', '127.0.0.1')}:{cfg.ports.galera}"
    live = []
    for peer in cfg.peers:
        host, _, port = peer.rpartition(":")
        if peer == own or not port.isdigit():
            continue
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
            live.append(peer)
        except OSError:
            pass
    return live


def users_marker(cfg: NodeConfig) -> Path:
    return cfg.volume / "mesopress-users.done"


def set_safe_to_bootstrap(cfg: NodeConfig) -> None:
    grastate = cfg.datadir / "grastate.dat"
    text = grastate.read_text() if grastate.exists() else "# GALERA saved state\nversion: 2.1\n"
    grastate.write_text(position.with_safe_to_bootstrap(text, True))


# --- run ------------------------------------------------------------------------------------------------


def run(cfg: NodeConfig) -> int:
    secrets = {name: read_secret(cfg, name) for name in ("root", "sst", "app")}
    write_mycnf(cfg, secrets["sst"])
    data = has_data(cfg)
    recovered = recover_position(cfg) if data else None
    if recovered is not None:
        log(f"{cfg.node}: recovered position {recovered}")
    live = live_peers(cfg) if cfg.bootstrap else []
    plan = bootstrap.decide_start(data, cfg.bootstrap, recovered, cfg.start_position, live)
    if plan.refuse:
        log(f"{cfg.node}: refusing to start: {plan.refuse}")
        return EXIT_REFUSED
    log(f"{cfg.node}: {plan.reason}")
    cfg.datadir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if plan.install:
        _install(cfg)
    if plan.safe_to_bootstrap:
        set_safe_to_bootstrap(cfg)
    argv = [cfg.mariadbd, f"--defaults-file={cfg.mycnf}"]
    argv += ["--wsrep-new-cluster"] if plan.new_cluster else []
    argv += [f"--wsrep-start-position={plan.start_position}"] if plan.start_position else []
    _wait_for_eviction(cfg, plan.new_cluster)
    proc = subprocess.Popen(argv)
    alive_stamp(cfg).touch()
    _forward_signals(proc)
    marker = users_marker(cfg)
    if plan.create_users and not marker.exists():
        try:
            _create_users(cfg, proc, secrets)
            marker.write_text("users created\n")
        except Exception as exc:  # the node must not serve without its users
            log(f"{cfg.node}: error creating users: {type(exc).__name__}: {exc}")
            if proc.poll() is None:
                proc.terminate()
            return _supervise(cfg, proc) or 1
    return _supervise(cfg, proc)


def alive_stamp(cfg: NodeConfig) -> Path:
    """Touched every second while mariadbd runs, removed on its clean exit (galera/rejoin.py)."""
    return cfg.volume / "mesopress-alive"


def _wait_for_eviction(cfg: NodeConfig, new_cluster: bool) -> None:
    try:
        age: float | None = time.time() - alive_stamp(cfg).stat().st_mtime
    except FileNotFoundError:
        age = None
    options = str(cfg.mycnf_options.get("wsrep_provider_options", ""))
    wait = rejoin.wait_seconds(age, new_cluster, options)
    if wait > 0:
        log(
            f"{cfg.node}: the previous run ended {age:.1f}s ago without leaving the cluster: waiting "
            f"{wait:.1f}s until the peers have evicted it (evs.suspect_timeout "
            f"{rejoin.suspect_timeout(options):.0f}s); joining earlier stalls every commit again"
        )
        time.sleep(wait)


def _supervise(cfg: NodeConfig, proc: subprocess.Popen[bytes]) -> int:
    """Wait for mariadbd, stamping the volume every ALIVE_EVERY_S; its exit status, as ours."""
    stamp = alive_stamp(cfg)
    while True:
        try:
            returncode = proc.wait(timeout=ALIVE_EVERY_S)
            break
        except subprocess.TimeoutExpired:
            stamp.touch()
    if returncode == 0:  # a clean shutdown left the cluster: the next start needs no wait
        stamp.unlink(missing_ok=True)
    return _exit_status(returncode)


def _install(cfg: NodeConfig) -> None:
    cfg.datadir.mkdir(parents=True, exist_ok=True)
    user = pwd.getpwuid(os.geteuid()).pw_name
    argv = [cfg.install_db, f"--defaults-file={cfg.mycnf}", f"--user={user}", "--skip-test-db"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"error installing the data directory: {proc.stderr.strip()[-500:]}")


def _forward_signals(proc: subprocess.Popen[bytes]) -> None:
    def forward(signum: int, _frame: object) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)


def _exit_status(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _create_users(cfg: NodeConfig, proc: subprocess.Popen[bytes], secrets: dict[str, str]) -> None:
    """Wait until the new primary is ready, then create users from password hashes over the socket."""
    user = pwd.getpwuid(os.geteuid()).pw_name
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"mariadbd exited with {proc.returncode} before it was ready")
        try:
            conn = _connect(cfg, user, None)
            if _status(conn).ready:
                break
            conn.close()
        except Exception:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)
    statements = config.user_statements(
        config.native_hash(secrets["root"]),
        (cfg.users["sst"], config.native_hash(secrets["sst"])),
        (cfg.users["app"], config.native_hash(secrets["app"])),
        cfg.users["database"],
    )
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    conn.close()
    log(f"{cfg.node}: users root, {cfg.users['sst']} and {cfg.users['app']} are in place")


def _connect(cfg: NodeConfig, user: str, password: str | None) -> Any:
    """pymysql over the unix socket, TLS off, 2 s timeouts. We connect the socket ourselves: pymysql
    leaks it when the server is not listening yet."""
    import pymysql  # type: ignore[import-untyped]

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(2)
        sock.connect(str(cfg.socket))
        conn = pymysql.Connection(
            unix_socket=str(cfg.socket),
            user=user,
            password=password or "",
            ssl_disabled=True,
            connect_timeout=2,
            read_timeout=2,
            write_timeout=2,
            autocommit=True,
            defer_connect=True,
        )
        conn.connect(sock)
        return conn
    except BaseException:
        sock.close()
        raise


def _status(conn: Any) -> health.NodeHealth:
    with conn.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'wsrep_%'")
        return health.interpret(cursor.fetchall())


# --- recover and check ------------------------------------------------------------------------------------


def recover(cfg: NodeConfig) -> int:
    write_mycnf(cfg, None)
    reading = recover_position(cfg)
    record = {"node": cfg.node, **reading.to_dict()}
    line = json.dumps(record, sort_keys=True)
    (cfg.volume / "mesopress-position.json").write_text(line + "\n")
    print(line, flush=True)
    return EXIT_UNKNOWN if isinstance(reading, position.Unknown) else 0


def report_position(url: str, record: Path) -> None:
    """POST the recovered position to the scheduler (its single-use report URL); retried briefly."""
    import urllib.request

    body = json.dumps({"position": record.read_text().strip()}).encode()
    for attempt in range(5):
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                log(f"position reported to the scheduler (HTTP {resp.status})")
                return
        except OSError as exc:
            log(f"error reporting the position (attempt {attempt + 1}): {type(exc).__name__}")
            time.sleep(1.0)


def check(cfg: NodeConfig) -> int:
    try:
        conn = _connect(cfg, "root", read_secret(cfg, "root"))
        try:
            node = _status(conn)
        finally:
            conn.close()
    except Exception as exc:
        print(json.dumps({"node": cfg.node, "ready": False, "error": type(exc).__name__}), flush=True)
        return 1
    users = not cfg.bootstrap or users_marker(cfg).exists()  # a new cluster is ready once its users are
    print(json.dumps({"node": cfg.node, **node.to_dict(), "ready": node.ready and users}, sort_keys=True))
    return 0 if node.ready and users else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mesopress.tasks.galera_node")
    parser.add_argument("command", choices=("run", "recover", "check"))
    parser.add_argument("--config", required=True, type=Path, help="the task's JSON config file")
    args = parser.parse_args(argv)
    try:
        cfg = load(args.config)
        raw = json.loads(args.config.read_text())
        if raw.get("restrict_secrets") is True:
            restrict_secrets(cfg)
        code = {"run": run, "recover": recover, "check": check}[args.command](cfg)
        if args.command == "recover" and raw.get("report_url"):
            report_position(str(raw["report_url"]), cfg.volume / "mesopress-position.json")
        return code
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        log(f"error running {args.command}: {exc}")
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
