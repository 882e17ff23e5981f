"""Requests/s through the proxy with 1, 2 and 4 WordPress instances, beside one instance reached directly.

Why: the proxy must not be the bottleneck, and adding instances should add throughput until the machine
(2 shared cores here) is saturated. The site is built like tests/integration/test_wordpress_kinds.py:
the kinds' rendered files and the example's commands, one MariaDB (single-node Galera), HAProxy via the
proxy program polling a stand-in of /v1/endpoints. Each measurement: CLIENTS threads fetching the front
page for SECONDS. The Galera writer failover gap is measured by tests/e2e/test_wordpress_site.py.

    .venv/bin/python bench/wordpress_proxy.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "integration"), str(ROOT / "bench")]

from test_wordpress_instance import MariaDB, free_port  # noqa: E402
from test_wordpress_kinds import Site  # noqa: E402

import report  # noqa: E402
from mesopress.kinds import wordpress  # noqa: E402
from support.waiting import eventually  # noqa: E402

CLIENTS, SECONDS = 8, 8.0


def rate(url: str, host: str) -> tuple[float, int]:
    """(successful requests/s, failures) of CLIENTS threads GETting `url` for SECONDS. `host`: the
    Host header, the public one even for an instance reached directly (else WordPress redirects)."""
    done, failed, stop = [0], [0], time.monotonic() + SECONDS

    def client() -> None:
        while time.monotonic() < stop:
            try:
                request = urllib.request.Request(url, headers={"Host": host})
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                done[0] += 1
            except OSError:
                failed[0] += 1

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / SECONDS, failed[0]


def build(root: Path) -> Site:
    db = MariaDB(root / "db")
    db.start()
    site = Site(root, db)
    password = site.secrets[wordpress.DB_SECRET].replace("'", "''")
    db.sql(
        "CREATE DATABASE wordpress",
        f"CREATE USER 'wordpress'@'127.0.0.1' IDENTIFIED BY '{password}'",
        "GRANT ALL ON wordpress.* TO 'wordpress'@'127.0.0.1'",
    )
    site.scheduler.publish("galera", "galera-0", {"sql": db.port})
    site.launch("proxy", 0, {"http": site.http_port, "mysql": site.mysql_port})
    eventually(site.proxy_ready, timeout=60, interval=0.5)
    site.launch("media", 0, {"http": free_port()})
    site.ready("media-0")
    for index in range(4):
        site.launch("wordpress", index, {"http": free_port()})
    return site


def only(site: Site, count: int) -> None:
    """Publish the first `count` instances as READY, the others as not ready; wait for the proxy."""
    for index in range(4):
        name = f"wordpress-{index}"
        site.scheduler.publish("wordpress", name, dict(site.endpoints[name]["ports"]), ready=index < count)
    time.sleep(4)  # one poll (1 s), a reload, two passing checks (rise 2, inter 1 s)


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="mesopress-bench-wp-", dir="/tmp"))
    root.chmod(0o755)
    site = build(root)
    host = site.public.removeprefix("http://")
    try:
        for index in range(4):
            site.ready(f"wordpress-{index}")
            for _ in range(5):  # warm up PHP's opcache and WordPress' object loading
                warm = urllib.request.Request(f"{site.url(f'wordpress-{index}')}/", headers={"Host": host})
                urllib.request.urlopen(warm, timeout=60).read()
        rows = []
        direct, failed = rate(f"{site.url('wordpress-0')}/", host)
        rows.append(["1 instance, direct", f"{direct:.1f}", str(failed), "1.00"])
        for count in (1, 2, 4):
            only(site, count)
            value, failed = rate(f"{site.public}/", host)
            rows.append([f"{count} through the proxy", f"{value:.1f}", str(failed), f"{value / direct:.2f}"])
        body = (
            "## WordPress through the proxy (`bench/wordpress_proxy.py`)\n\n"
            f"Front page, {CLIENTS} clients for {SECONDS:.0f} s each, nginx + 2 FPM workers per instance, "
            "everything on one machine: the instances, HAProxy and its external MySQL check (a Python start "
            "per node per second) share the same cores, so here more instances cannot add throughput; on "
            "separate agents each instance brings its own cores. The Galera writer failover gap under load "
            "is printed by tests/e2e/test_wordpress_site.py.\n\n"
            + report.table(["instances", "requests/s", "failed", "vs direct"], rows)
        )
        print(body)
        report.write_section("wordpress-proxy", body)
    finally:
        site.shutdown()
        site.db.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
