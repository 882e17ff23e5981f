"""Requests/s through the proxy with 1, 2 and 4 WordPress instances beside one instance reached directly,
and the gap a Galera writer failover opens under load, beside the same load without a failure.

Issue 5 item 7. The site is built like tests/integration/test_wordpress_kinds.py (the kinds' rendered
files and the example's commands; HAProxy via the proxy program polling a stand-in of /v1/endpoints), on
a 3-node Galera cluster of `galera_node` tasks (tests/integration/test_galera_node.py's harness, as
bench/galera_raw.py uses it). Throughput: CLIENTS threads fetching the front page for SECONDS.

Failover: READERS threads fetch the front page and one writer creates posts through the REST API, all
through the proxy; the writer node (galera-0, the first Synced node) gets SIGKILL. The bench plays the
scheduler: it publishes the node as not ready at once (as TASK_FAILED would), relaunches `galera_node
run` on the same volume as soon as the task exited, and publishes it READY again once it is Synced (the
framework's relaunch time is measured in the galera-framework section). Per kill, over the window from
the kill until TAIL seconds after the node is READY again (the writer role moves back to it): failed
requests, the longest time between two successful writes, the longest time without a commit on the
surviving galera-2 (written to directly: Galera's own stall), the time to READY. Kills alternate between
a relaunch that waits for the old incarnation's eviction (galera/rejoin.py, the product's behaviour) and
one that rejoins at once (its alive stamp removed). Baseline: the same load, no kill, for a window as
long as the median kill window.

    .venv/bin/python bench/wordpress_proxy.py [--kills 3] [--note "..."]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "integration"), str(ROOT / "bench")]

import test_galera_node as harness  # noqa: E402
from test_wordpress_instance import free_port  # noqa: E402
from test_wordpress_kinds import Site  # noqa: E402

import report  # noqa: E402
from mesopress.kinds import wordpress  # noqa: E402
from support.waiting import eventually  # noqa: E402
from support.wordpress_login import Login  # noqa: E402

CLIENTS, SECONDS = 8, 8.0
READERS, TAIL = 3, 5.0
COMMIT_PACE = 0.05  # seconds between two direct commits on the surviving node


def fetch(url: str, host: str) -> bool:
    try:
        request = urllib.request.Request(url, headers={"Host": host})
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status == 200
    except OSError:
        return False


def rate(url: str, host: str) -> tuple[float, int]:
    """(successful requests/s, failures) of CLIENTS threads GETting `url` for SECONDS. `host`: the
    Host header, the public one even for an instance reached directly (else WordPress redirects)."""
    done, failed, stop = [0], [0], time.monotonic() + SECONDS

    def client() -> None:
        while time.monotonic() < stop:
            if fetch(url, host):
                done[0] += 1
            else:
                failed[0] += 1

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / SECONDS, failed[0]


def start_galera(root: Path, password: str) -> harness.Cluster:
    """3 `galera_node` tasks whose application user is WordPress' (database `wordpress`)."""
    cluster = harness.Cluster(3)
    for node in cluster.nodes:
        app = node.sandbox / "secrets" / "app"
        app.write_text(password)  # the harness made it 0600, owned by the task user
    for index, node in enumerate(cluster.nodes):
        configure(cluster, node, bootstrap=index == 0)
        node.start()
        node.wait_synced()
        configure(cluster, node, bootstrap=False)
    return cluster


def configure(cluster: harness.Cluster, node: harness.Node, bootstrap: bool) -> None:
    node.write_config(cluster.peers, bootstrap, app_user="wordpress", app_database="wordpress")


def build(root: Path, galera: harness.Cluster, site: Site) -> None:
    for node in galera.nodes:
        site.scheduler.publish("galera", node.name, {"sql": node.ports.sql})
    site.launch("proxy", 0, {"http": site.http_port, "mysql": site.mysql_port})
    eventually(site.proxy_ready, timeout=180, interval=0.5)
    site.launch("media", 0, {"http": free_port()})
    site.ready("media-0")
    for index in range(4):
        site.launch("wordpress", index, {"http": free_port()})


def only(site: Site, count: int) -> None:
    """Publish the first `count` instances as READY, the others as not ready; wait for the proxy."""
    for index in range(4):
        name = f"wordpress-{index}"
        site.scheduler.publish("wordpress", name, dict(site.endpoints[name]["ports"]), ready=index < count)
    time.sleep(4)  # one poll (1 s), a reload, two passing checks (rise 2, inter 1 s)


class Load:
    """READERS front-page readers and one post writer through the proxy; (end time, ok) per request."""

    def __init__(self, site: Site, host: str, survivor: harness.Node) -> None:
        self.site, self.host, self.survivor = site, host, survivor
        self.reads: list[tuple[float, bool]] = []
        self.writes: list[tuple[float, bool]] = []
        self.commits: list[tuple[float, bool]] = []  # straight to a node never killed: Galera's own stall
        self.stop = threading.Event()
        self.gap_from = 0.0  # where the last measured write gap began, seconds after the window's start
        self.login = Login(site.public, "admin", site.secrets[wordpress.ADMIN_SECRET])
        self.threads = [threading.Thread(target=self._read) for _ in range(READERS)]
        self.threads += [threading.Thread(target=self._write), threading.Thread(target=self._commit)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def _read(self) -> None:
        while not self.stop.is_set():
            self.reads.append((time.monotonic(), fetch(f"{self.site.public}/", self.host)))

    def _write(self) -> None:
        url, count = f"{self.site.public}/wp-json/wp/v2/posts", 0
        while not self.stop.is_set():
            count += 1
            body = json.dumps({"title": f"load {count}", "content": "x", "status": "publish"}).encode()
            try:
                status, _ = self.login.rest(url, body, "application/json")
                ok = status == 201
            except (OSError, ValueError):
                ok = False
            self.writes.append((time.monotonic(), ok))

    def _commit(self) -> None:
        """One row every COMMIT_PACE s on the survivor, root over its socket (no proxy, no PHP)."""
        conn = None
        while not self.stop.wait(COMMIT_PACE):
            try:
                conn = conn or self.survivor.connect()
                with conn.cursor() as cursor:
                    cursor.execute("INSERT INTO wordpress.mesopress_bench (at) VALUES (%s)", (time.time(),))
                self.commits.append((time.monotonic(), True))
            except Exception:  # noqa: BLE001 - a failed commit is a measurement, not an error
                conn = None
                self.commits.append((time.monotonic(), False))

    def measure(self, start: float, end: float) -> tuple[str, str, float, float]:
        """("failed/all" reads, "failed/all" writes, longest time without a successful write, longest
        time without a commit on the survivor) within [start, end]."""

        def failed(done: list[tuple[float, bool]]) -> str:
            inside = [ok for t, ok in done if start <= t <= end]
            return f"{inside.count(False)}/{len(inside)}"

        gap, self.gap_from = longest_gap(self.writes, start, end)
        return failed(self.reads), failed(self.writes), gap, longest_gap(self.commits, start, end)[0]


def longest_gap(done: list[tuple[float, bool]], start: float, end: float) -> tuple[float, float]:
    """(longest time without a success within [start, end], where it began after `start`)."""
    marks = [t for t, ok in done if ok and t < start][-1:]  # the last success before
    marks += [t for t, ok in done if ok and start <= t <= end] + [end]
    return max((b - a, a - start) for a, b in zip(marks, marks[1:], strict=False))


def kill_writer(site: Site, galera: harness.Cluster, wait: bool) -> tuple[float, float]:
    """SIGKILL galera-0's mariadbd, relaunch it when its task exited; (kill time, READY again time).
    `wait=False` removes the node's alive stamp first: it rejoins at once, as before galera.rejoin."""
    node = galera.nodes[0]
    began = time.monotonic()
    node.kill9()
    site.scheduler.publish("galera", node.name, {"sql": node.ports.sql}, ready=False)
    node.wait_exit()
    if not wait:
        (node.sandbox / "volume" / "mesopress-alive").unlink(missing_ok=True)
    node.start()
    node.wait_synced(timeout=180)
    site.scheduler.publish("galera", node.name, {"sql": node.ports.sql})
    return began, time.monotonic()


Result = tuple[str, str, float, float, float]  # reads, writes failed; write gap, READY after, commit gap


def failover(site: Site, galera: harness.Cluster, host: str, kills: int) -> list[list[str]]:
    """`kills` kills whose relaunch waits for the eviction, as many relaunched at once, alternating."""
    results: dict[bool, list[Result]] = {True: [], False: []}
    windows: list[float] = []
    galera.nodes[-1].query(
        "CREATE TABLE IF NOT EXISTS wordpress.mesopress_bench (id INT AUTO_INCREMENT PRIMARY KEY, at DOUBLE)"
    )
    with Load(site, host, galera.nodes[-1]) as load:
        eventually(lambda: sum(ok for _, ok in load.writes) >= 5, timeout=60)
        for index in range(2 * kills):
            wait = index % 2 == 0
            began, back = kill_writer(site, galera, wait)
            time.sleep(TAIL)  # the proxy's poll and checks move the writer role back to galera-0
            reads, writes, gap, stall = load.measure(began, time.monotonic())
            results[wait].append((reads, writes, gap, back - began, stall))
            windows.append(time.monotonic() - began)
            print(
                f"kill ({'rejoin waits' if wait else 'rejoin at once'}): reads {reads}, writes {writes} "
                f"failed, longest write gap {gap:.1f} s from +{load.gap_from:.1f} s, no commit on "
                f"{load.survivor.name} for {stall:.1f} s, READY after {back - began:.1f} s",
                flush=True,
            )
        length = statistics.median(windows)
        quiet = time.monotonic()
        time.sleep(length)
        base = load.measure(quiet, quiet + length)

    def seconds(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} s (max {max(values):.1f})"

    def row(name: str, cell: Callable[[list[Result]], str], baseline: str) -> list[str]:
        return [name, cell(results[True]), cell(results[False]), baseline]

    return [
        row("failed / all reads, per kill", lambda rs: ", ".join(r[0] for r in rs), base[0]),
        row("failed / all writes, per kill", lambda rs: ", ".join(r[1] for r in rs), base[1]),
        row(
            "longest gap without a successful write",
            lambda rs: seconds([r[2] for r in rs]),
            f"{base[2]:.1f} s",
        ),
        row(
            "longest gap without a commit on the surviving galera-2 (direct, no proxy)",
            lambda rs: seconds([r[4] for r in rs]),
            f"{base[3]:.1f} s",
        ),
        row("killed node READY again", lambda rs: seconds([r[3] for r in rs]), "-"),
        ["window (median of all kills)", f"{length:.1f} s", f"{length:.1f} s", f"{length:.1f} s, no kill"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--note", default="", help="a sentence about the machine's load, for the doc")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mesopress-bench-wp-", dir="/tmp"))
    root.chmod(0o755)
    site = Site(root, None)  # type: ignore[arg-type]  # the database is the Galera cluster below
    galera = start_galera(root, site.secrets[wordpress.DB_SECRET])
    host = site.public.removeprefix("http://")
    watch = report.LoadWatch().__enter__()
    try:
        build(root, galera, site)
        for index in range(4):
            site.ready(f"wordpress-{index}")
            for _ in range(5):  # warm up PHP's opcache and WordPress' object loading
                fetch(f"{site.url(f'wordpress-{index}')}/", host)
        rows = []
        direct, failed = rate(f"{site.url('wordpress-0')}/", host)
        rows.append(["1 instance, direct", f"{direct:.1f}", str(failed), "1.00"])
        for count in (1, 2, 4):
            only(site, count)
            value, failed = rate(f"{site.public}/", host)
            rows.append([f"{count} through the proxy", f"{value:.1f}", str(failed), f"{value / direct:.2f}"])
        gap = failover(site, galera, host, args.kills)
        watch.__exit__()
        body = render(rows, gap, args.kills, f"{args.note} {watch.note()}".strip())
        print(body)
        if not args.no_write:
            report.write_section("wordpress-proxy", body)
    finally:
        watch.__exit__()
        site.shutdown()
        galera.destroy()
        shutil.rmtree(root, ignore_errors=True)


def render(rows: list[list[str]], gap: list[list[str]], kills: int, note: str) -> str:
    return (
        "## WordPress through the proxy (`bench/wordpress_proxy.py`, issue 5 item 7)\n\n"
        "One run, 4 WordPress instances (nginx + 2 FPM workers each), media, HAProxy and a 3-node Galera\n"
        f"cluster of `galera_node` tasks, all on this machine. Front page, {CLIENTS} clients for\n"
        f"{SECONDS:.0f} s per line. Everything shares the same 2 cores (the instances, HAProxy and its\n"
        "external MySQL check, a mariadb client per node every 2 s), so here more instances cannot add\n"
        "throughput; on separate agents each instance brings its own cores.\n\n"
        + report.table(["instances", "requests/s", "failed", "vs direct"], rows)
        + f"\n\n**Writer failover under load** ({kills} kill(s) of each kind, alternating; median, max):\n"
        f"{READERS} readers of "
        "the front page and one writer creating posts (REST API), all through the proxy; SIGKILL of\n"
        "the writer node's mariadbd. The bench plays the scheduler (node published not ready at once,\n"
        "`galera_node run` relaunched as soon as the task exited, READY when Synced), so *READY again*\n"
        "holds no offer or check delay (the galera-framework section has those). Window: kill -> READY\n"
        f"+ {TAIL:.0f} s (the writer role moves back to the first Synced node). Baseline: the same load\n"
        "for as long, no kill.\n\n"
        + report.table(
            [
                "measurement",
                "kill, rejoin waits for the eviction",
                "kill, rejoin at once",
                "baseline (no kill)",
            ],
            gap,
        )
        + "\n\nThe write gap is mostly Galera's: the surviving node, written to directly, stops committing\n"
        "for about as long (compare the two gap rows kill by kill). A node that dies without leaving\n"
        "stays in its peers' view until they "
        "suspect it (`evs.suspect_timeout`, 5 s); no node commits until then. A relaunched node that joins\n"
        "before that makes the membership protocol go round again (the joiner's install timer expires), a\n"
        "second stall. `galera_node run` therefore waits until the old incarnation is evicted\n"
        "(`galera/rejoin.py`); *rejoin at once* removes its alive stamp to show the behaviour without it."
        + (f"\n\n{note}\n" if note else "\n")
    )


if __name__ == "__main__":
    os.umask(0o022)
    main()
