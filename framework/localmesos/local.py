"""The single-machine mode: ZooKeeper plus a local Mesos-compatible cluster, in the foreground.

This is what `scripts/run-local` runs. It exists so that a user can try the product on one machine: it
starts the Debian ZooKeeper on loopback, then localmesos (one master registered in ZooKeeper at `/mesos`
like a real Mesos master, and N agents), prints where everything is, and on SIGINT/SIGTERM stops all of it
in reverse order. All state lives under `--work-dir`, so a second run reuses the agents' checkpointed
reservations and volumes and ZooKeeper's data.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from localmesos.cluster import Cluster
from localmesos.zkserver import ZooKeeperError, ZooKeeperServer

log = logging.getLogger("localmesos.local")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localmesos.local", description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, required=True, help="where all state is kept")
    parser.add_argument("--agents", type=int, default=3, help="number of agents (default 3)")
    parser.add_argument("--port", type=int, default=5050, help="master port on 127.0.0.1 (default 5050)")
    parser.add_argument(
        "--zk-port", type=int, default=2181, help="ZooKeeper port on 127.0.0.1 (default 2181)"
    )
    parser.add_argument(
        "--agent-resources",
        default="cpus:4;mem:4096;disk:20000;ports:[31000-31999]",
        help="resources of each agent, Mesos --resources syntax",
    )
    parser.add_argument(
        "--same-host",
        action="store_true",
        help="give every agent hostname 127.0.0.1 (default: agent i is 127.0.0.(i+1))",
    )
    args = parser.parse_args(argv)
    if args.agents < 1:
        parser.error("--agents: must be at least 1, e.g. --agents 3")
    for flag in ("port", "zk_port"):
        if not 1 <= getattr(args, flag) <= 65535:
            parser.error(f"--{flag.replace('_', '-')}: must be a TCP port between 1 and 65535")
    return args


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    zk = ZooKeeperServer(args.work_dir / "zookeeper", port=args.zk_port)
    try:
        zk.start()
    except ZooKeeperError as exc:
        print(
            f"error starting ZooKeeper on 127.0.0.1:{args.zk_port}: {exc} (is the port taken? try --zk-port)",
            file=sys.stderr,
        )
        return 1
    cluster = Cluster(
        args.work_dir / "cluster",
        agents=args.agents,
        port=args.port,
        zk=zk.url("/mesos"),
        agent_resources=args.agent_resources,
        distinct_hosts=not args.same_host,
    )
    try:
        cluster.start()
        print(f"ZooKeeper:        {zk.hosts}", flush=True)
        print(f"Mesos master:     http://{cluster.master_url} (state: http://{cluster.master_url}/state)")
        print(f"Mesos master URL for frameworks: {zk.url('/mesos')} or {cluster.master_url}")
        print("Press Ctrl-C to stop.", flush=True)
        _wait_for_signal()
    except OSError as exc:
        print(
            f"error starting localmesos on 127.0.0.1:{args.port}: {exc} (is the port taken? try --port)",
            file=sys.stderr,
        )
        return 1
    finally:
        log.info("stopping")
        cluster.stop()
        zk.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
