"""Time to Synced for Galera bootstrap, join, restart in place and full-crash recovery: raw vs galera_node.

Baseline (issue 4 item 5): the same steps done BY HAND with the raw commands (mariadb-install-db,
`mariadbd --wsrep-new-cluster`, `--wsrep-recover`, editing grastate.dat, `--wsrep-start-position`), on the
same machine in the same run, with the same my.cnf (rendered by `galera.config`). Then the same steps
through `python -m mesopress.tasks.galera_node run|recover`, which adds a Python start-up, a
`--wsrep-recover` before every start with data, and (bootstrap only) the creation of the users.
Every mariadbd runs as `mysql`; readiness = Primary and Synced, polled over the unix socket.

Run as root: `.venv/bin/python bench/galera_raw.py [--repeat N]`; writes the "galera-raw" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "framework"), str(ROOT / "tests"), str(ROOT / "tests" / "integration")]

import test_galera_node as harness  # noqa: E402  (the integration test's cluster harness)

from bench.report import table, write_section  # noqa: E402
from mesopress.galera import bootstrap, config, position  # noqa: E402


class RawNode:
    """One node driven by hand: my.cnf, mariadbd as a direct child, no task program."""

    def __init__(self, node: harness.Node, peers: list[str]) -> None:
        self.node = node
        self.mycnf = node.sandbox / "raw.cnf"
        sock = node.sandbox / "mysqld.sock"
        self.mycnf.write_text(
            config.render_mycnf(node.name, node.ports, peers, str(node.datadir), str(sock), "sst")
        )
        os.chown(self.mycnf, *harness._ids())

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = ["mariadbd", f"--defaults-file={self.mycnf}", *args]
        return subprocess.run(argv, user="mysql", group="mysql", capture_output=True, text=True, timeout=120)

    def install(self) -> None:
        argv = ["mariadb-install-db", f"--defaults-file={self.mycnf}", "--user=mysql", "--skip-test-db"]
        subprocess.run(argv, user="mysql", group="mysql", capture_output=True, check=True, timeout=120)

    def start(self, *args: str) -> None:
        self.node.datadir.mkdir(exist_ok=True)
        os.chown(self.node.datadir, *harness._ids())
        with open(self.node.sandbox / "stderr", "ab") as err:
            self.node.proc = subprocess.Popen(
                ["mariadbd", f"--defaults-file={self.mycnf}", *args], user="mysql", group="mysql", stderr=err
            )

    def kill9(self) -> None:
        assert self.node.proc is not None
        os.kill(self.node.proc.pid, signal.SIGKILL)
        self.node.proc.wait(timeout=30)

    def recover(self) -> position.Reading:
        log = self.node.sandbox / "recover.log"
        log.unlink(missing_ok=True)
        self.run("--wsrep-recover", f"--log-error={log}")
        return position.parse_recover_log(log.read_text())

    def rejoin(self) -> None:
        self.start(f"--wsrep-start-position={self.recover()}")


def timed(action: Callable[[], object], wait: Callable[[], object]) -> float:
    began = time.monotonic()
    action()
    wait()
    return time.monotonic() - began


def create_table(node: harness.Node) -> None:
    node.query("CREATE DATABASE IF NOT EXISTS bench")
    node.query("CREATE TABLE IF NOT EXISTS bench.t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)")


def write_rows(node: harness.Node, count: int) -> None:
    """Commit `count` rows once the survivors have dropped the dead node (writes block until then)."""
    harness.eventually(
        lambda: (h := node.health()) is not None and h.ready and h.cluster_size == 2, timeout=60
    )
    conn = node.connect()
    try:
        with conn.cursor() as cursor:
            for i in range(count):
                cursor.execute("INSERT INTO bench.t (v) VALUES (%s)", (f"row-{i}",))
    finally:
        conn.close()


def raw_full_crash(nodes: list[RawNode]) -> None:
    for raw in nodes:
        raw.kill9()
    positions = {raw.node.name: raw.recover() for raw in nodes}
    choice = bootstrap.choose_bootstrap(positions, set(positions))
    assert isinstance(choice, bootstrap.Choice), choice
    by_name = {raw.node.name: raw for raw in nodes}
    chosen = by_name[choice.node]
    grastate = chosen.node.datadir / "grastate.dat"
    grastate.write_text(position.with_safe_to_bootstrap(grastate.read_text(), True))
    chosen.start("--wsrep-new-cluster", f"--wsrep-start-position={positions[choice.node]}")
    chosen.node.wait_synced()
    for name in sorted(set(by_name) - {choice.node}):
        by_name[name].start(f"--wsrep-start-position={positions[name]}")
        by_name[name].node.wait_synced()


def bench_raw(repeat: int) -> dict[str, list[float]]:
    cluster = harness.Cluster(3)
    try:
        nodes = [RawNode(n, cluster.peers) for n in cluster.nodes]
        first, times = nodes[0], {}
        times["bootstrap (new cluster)"] = [
            timed(lambda: (first.install(), first.start("--wsrep-new-cluster")), first.node.wait_synced)
        ]
        times["join (SST, rsync)"] = [timed(n.start, n.node.wait_synced) for n in nodes[1:]]
        victim = nodes[1]
        create_table(first.node)
        times["restart in place (IST)"] = []
        for _ in range(repeat):
            victim.kill9()
            write_rows(first.node, 200)
            times["restart in place (IST)"].append(timed(victim.rejoin, victim.node.wait_synced))
        times["full-crash recovery (3 nodes)"] = [
            timed(lambda: raw_full_crash(nodes), lambda: None) for _ in range(repeat)
        ]
        return times
    finally:
        cluster.destroy()


def task_full_crash(cluster: harness.Cluster) -> None:
    for node in cluster.nodes:
        node.kill9()
        node.wait_exit()
    state = harness.recover_all(cluster, now=0.0)
    harness.run_recovery(cluster, state, now=1.0)


def bench_task(repeat: int) -> dict[str, list[float]]:
    cluster = harness.Cluster(3)
    try:
        nodes, times = cluster.nodes, {}
        for index, node in enumerate(nodes):
            cluster.configure(node, bootstrap=index == 0)
        times["bootstrap (new cluster)"] = [timed(nodes[0].start, nodes[0].wait_synced)]
        cluster.configure(nodes[0], bootstrap=False)
        times["join (SST, rsync)"] = [timed(n.start, n.wait_synced) for n in nodes[1:]]
        victim = nodes[1]
        create_table(nodes[0])
        times["restart in place (IST)"] = []
        for _ in range(repeat):
            victim.kill9()
            victim.wait_exit()
            write_rows(nodes[0], 200)
            times["restart in place (IST)"].append(timed(victim.start, victim.wait_synced))
        times["full-crash recovery (3 nodes)"] = [
            timed(lambda: task_full_crash(cluster), lambda: None) for _ in range(repeat)
        ]
        return times
    finally:
        cluster.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    raw, task = bench_raw(args.repeat), bench_task(args.repeat)
    rows = []
    for step in raw:
        r, t = statistics.median(raw[step]), statistics.median(task[step])
        rows.append([step, str(len(raw[step])), f"{r:.2f}", f"{t:.2f}", f"{t / r:.2f}x"])
        print(f"{step}: raw {r:.2f} s, galera_node {t:.2f} s", flush=True)
    body = (
        "## Galera: time to Synced, by hand vs galera_node (`bench/galera_raw.py`)\n\n"
        "Median seconds from the first command to Primary+Synced (polled every 0.1 s over the unix socket).\n"
        "Baseline: raw commands with the same my.cnf. galera_node adds Python start-up, `--wsrep-recover`\n"
        "before every start with data, and the user creation on bootstrap. Full-crash recovery = kill -9 of\n"
        "all 3, recover every node, choose the highest seqno, bootstrap it, join the others one by one.\n"
        "Before each restart in place, 200 rows are committed while the node is down (so IST has work).\n\n"
        + table(["step", "runs", "raw (s)", "galera_node (s)", "ratio"], rows)
    )
    write_section("galera-raw", body)


if __name__ == "__main__":
    main()
