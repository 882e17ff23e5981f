"""Benchmark: how fast the localmesos master makes and delivers offers at 1,000 and 10,000 agents.

Issue 2 asks for offers delivered per second and master CPU per allocation round. A cluster of simulated
agents (no processes) serves one framework subscribed over real HTTP; each round is triggered by hand,
timed, and every offer is read back from the RecordIO stream by a client thread; then all offers are
declined with no filter so the next round offers everything again.

Baseline from the same run: encoding the same OFFERS event to JSON and decoding it again (the work any
master and client must do to move those offers), so the table shows what the allocator itself adds.

    .venv/bin/python bench/localmesos_offers.py [--agents 1000 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import table, write_section  # noqa: E402
from localmesos.cluster import Cluster  # noqa: E402

FRAMEWORK = {
    "user": "bench",
    "name": "bench",
    "roles": ["bench"],
    "capabilities": [{"type": "MULTI_ROLE"}, {"type": "RESERVATION_REFINEMENT"}],
}


class Stream:
    """A raw v1 subscription: reads RecordIO records on a thread and counts offers."""

    def __init__(self, address: str) -> None:
        host, port = address.split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=600)
        body = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": FRAMEWORK}})
        self.conn.request(
            "POST",
            "/api/v1/scheduler",
            body,
            {"Content-Type": "application/json", "Accept": "application/json"},
        )
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        self.stream_id = self.resp.getheader("Mesos-Stream-Id")
        self.framework_id = ""
        self.offer_ids: list[dict[str, str]] = []
        self.cond = threading.Condition()
        self.subscribed = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            line = self.resp.readline()
            if not line:
                return
            event = json.loads(self.resp.read(int(line)))
            if event["type"] == "SUBSCRIBED":
                self.framework_id = event["subscribed"]["framework_id"]["value"]
                self.subscribed.set()
            elif event["type"] == "OFFERS":
                with self.cond:
                    self.offer_ids.extend(o["id"] for o in event["offers"]["offers"])
                    self.cond.notify_all()

    def wait_offers(self, count: int, timeout: float = 300) -> list[dict[str, str]]:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.offer_ids) >= count, timeout):
                raise RuntimeError(f"only {len(self.offer_ids)} of {count} offers arrived")
            taken, self.offer_ids = self.offer_ids, []
            return taken


def _call(address: str, stream: Stream, call: dict[str, Any]) -> None:
    host, port = address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    call["framework_id"] = {"value": stream.framework_id}
    conn.request(
        "POST",
        "/api/v1/scheduler",
        json.dumps(call),
        {"Content-Type": "application/json", "Mesos-Stream-Id": stream.stream_id},
    )
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 202, resp.status


def _baseline(cluster: Cluster, agents: int) -> float:
    """Seconds to JSON-encode and decode one OFFERS event holding one offer per agent."""
    offers = []
    for agent in cluster.agents:
        offers.append(
            {
                "id": {"value": "x-O1"},
                "framework_id": {"value": "x-0000"},
                "agent_id": {"value": agent.agent_id},
                "hostname": "127.0.0.1",
                "allocation_info": {"role": "bench"},
                "resources": [dict(r, allocation_info={"role": "bench"}) for r in agent.total],
            }
        )
    start = time.perf_counter()
    json.loads(json.dumps({"type": "OFFERS", "offers": {"offers": offers}}))
    return time.perf_counter() - start


def measure(agents: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Cluster(
            Path(tmp),
            agents=agents,
            simulate=True,
            allocation_interval=3600.0,
            agent_resources="cpus:4;mem:4096;disk:20000;ports:[31000-31004]",
        )
        cluster.start()
        try:
            stream = Stream(cluster.master_url)
            stream.subscribed.wait(60)
            _call(
                cluster.master_url,
                stream,
                {
                    "type": "DECLINE",
                    "decline": {"offer_ids": stream.wait_offers(agents), "filters": {"refuse_seconds": 0}},
                },
            )
            cpu, wall = [], []
            for _ in range(rounds):
                t0, c0 = time.perf_counter(), time.thread_time()
                cluster.master.allocate()
                cpu.append(time.thread_time() - c0)
                offer_ids = stream.wait_offers(agents)
                wall.append(time.perf_counter() - t0)
                _call(
                    cluster.master_url,
                    stream,
                    {
                        "type": "DECLINE",
                        "decline": {"offer_ids": offer_ids, "filters": {"refuse_seconds": 0}},
                    },
                )
            base = statistics.median(_baseline(cluster, agents) for _ in range(3))
        finally:
            cluster.stop()
    return {"cpu": statistics.median(cpu), "wall": statistics.median(wall), "baseline": base}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md")
    args = parser.parse_args()
    rows = []
    for n in args.agents:
        r = measure(n, args.rounds)
        row = [
            f"{n:,}",
            f"{r['cpu'] * 1000:.0f} ms",
            f"{r['wall'] * 1000:.0f} ms",
            f"{n / r['wall']:,.0f}",
            f"{r['baseline'] * 1000:.0f} ms",
            f"{r['wall'] / r['baseline']:.1f}x",
        ]
        print(" | ".join(row), flush=True)
        rows.append(row)
    body = (
        "## localmesos: offers per allocation round (issue 2)\n\n"
        "One framework subscribed over HTTP; each round offers every agent once; offers are declined with\n"
        "no filter between rounds. Median of the rounds. *Master CPU* is the CPU time of the thread running\n"
        "the round (allocation + offer construction); *delivered* is wall time from the start of the round\n"
        "until a client has read every offer off the stream. *Baseline*: JSON encode + decode of the same\n"
        "OFFERS event, measured in the same run.\n\n"
        + table(
            [
                "agents",
                "master CPU per round",
                "round delivered in",
                "offers/s",
                "baseline (JSON)",
                "delivered / baseline",
            ],
            rows,
        )
    )
    if not args.no_write:
        write_section("localmesos-offers", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
