"""Command line of localmesos: run a cluster in the foreground, or inject a fault into a running one.

Why this module exists: people (and the e2e tests) start localmesos as a separate process, exactly as they
would start a Mesos master, and break it from outside. The command parses flags, wires a ``Cluster``,
prints one line ``localmesos master at 127.0.0.1:PORT`` on stdout (the machine-readable "ready" signal;
logs go to stderr) and runs until SIGTERM/SIGINT, then stops everything it started. Bad flags exit with
status 2 and a message naming the flag and the fix.

    python -m localmesos --agents 3 --port 5050 --work-dir /tmp/lm [--zk zk://127.0.0.1:2181/mesos]
    python -m localmesos fault --master 127.0.0.1:5050 stop-agent agent-1
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

DEFAULT_RESOURCES = "cpus:4;mem:4096;disk:20000;ports:[31000-31999]"
FAULT_ACTIONS = {
    "kill-task": "task_id",
    "stop-agent": "agent",
    "start-agent": "agent",
    "reboot-agent": "agent",
    "mark-gone": "agent",
    "restart-master": None,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # exit 2 with the usage and our message
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


# --- run ------------------------------------------------------------------------------------------


def run_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m localmesos",
        description="Run a local Mesos-compatible cluster in the foreground until SIGTERM/SIGINT.",
        epilog="To break a running cluster: python -m localmesos fault --help",
    )
    parser.add_argument("--agents", type=int, default=3, help="number of agents (default 3)")
    parser.add_argument("--port", type=int, default=5050, help="master port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--work-dir", type=Path, required=True, help="directory for all state")
    parser.add_argument("--zk", help="register the master in ZooKeeper, e.g. zk://127.0.0.1:2181/mesos")
    parser.add_argument("--principal", help="require HTTP Basic authentication with this principal")
    parser.add_argument("--secret", help="secret of --principal")
    parser.add_argument(
        "--agent-resources", default=DEFAULT_RESOURCES, help="Mesos --resources text per agent"
    )
    parser.add_argument("--agent-attributes", help="Mesos --attributes text per agent, e.g. rack:r1")
    parser.add_argument("--allocation-interval", type=float, default=1.0, help="seconds between offer rounds")
    parser.add_argument("--heartbeat-interval", type=float, default=15.0, help="seconds between HEARTBEATs")
    parser.add_argument(
        "--agent-unreachable-timeout",
        type=float,
        default=75.0,
        help="seconds before a disconnected agent is marked unreachable",
    )
    parser.add_argument("--simulate", action="store_true", help="simulated agents (no task processes)")
    parser.add_argument(
        "--distinct-hosts",
        action="store_true",
        help="agent i gets hostname 127.0.0.(i+1) instead of 127.0.0.1 (so one-per-host placement works)",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    return parser


def _check_run_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.agents < 0:
        parser.error("--agents: must be 0 or more, e.g. --agents 3")
    if not 0 <= args.port <= 65535:
        parser.error("--port: must be a TCP port between 1 and 65535 (or 0 for any free port)")
    if (args.principal is None) != (args.secret is None):
        parser.error("--principal and --secret go together: give both, or neither to disable authentication")
    for flag in ("allocation_interval", "heartbeat_interval", "agent_unreachable_timeout"):
        if getattr(args, flag) <= 0:
            parser.error(f"--{flag.replace('_', '-')}: must be a positive number of seconds")
    if args.zk is not None:
        from localmesos.zk import ZkUrlError, parse_zk_url

        try:
            parse_zk_url(args.zk)
        except ZkUrlError as exc:
            parser.error(f"--zk: {exc}")
    if args.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        parser.error("--log-level: use DEBUG, INFO, WARNING or ERROR")


def _build_cluster(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Any:
    from localmesos.agent_spec import agent_resources_of, parse_attributes
    from localmesos.cluster import Cluster

    try:
        agent_resources_of(args.agent_resources, 0)
    except ValueError as exc:
        parser.error(f"--agent-resources: {exc}; write it like {DEFAULT_RESOURCES!r}")
    try:
        parse_attributes(args.agent_attributes)
    except ValueError as exc:
        parser.error(f"--agent-attributes: {exc}; write it like 'rack:r1;zone:a'")
    try:
        return _cluster(Cluster, args)
    except ValueError as exc:
        parser.error(f"--agents/--agent-resources: {exc}")


def _cluster(cls: Any, args: argparse.Namespace) -> Any:
    return cls(
        args.work_dir,
        agents=args.agents,
        port=args.port,
        zk=args.zk,
        credentials={args.principal: args.secret} if args.principal else None,
        agent_resources=args.agent_resources,
        agent_attributes=args.agent_attributes,
        allocation_interval=args.allocation_interval,
        simulate=args.simulate,
        agent_unreachable_timeout=args.agent_unreachable_timeout,
        heartbeat_interval=args.heartbeat_interval,
        distinct_hosts=args.distinct_hosts,
    )


def run(argv: list[str]) -> int:
    parser = run_parser()
    args = parser.parse_args(argv)
    _check_run_args(parser, args)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    cluster = _build_cluster(parser, args)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        cluster.start()
    except OSError as exc:
        print(
            f"error: cannot start localmesos on 127.0.0.1:{args.port}: {exc} (port taken? try --port 0)",
            file=sys.stderr,
        )
        return 1
    except Exception as exc:  # e.g. ZooKeeper unreachable: say so instead of a traceback
        logging.getLogger("localmesos").debug("start failed", exc_info=True)
        print(f"error: cannot start localmesos: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    try:
        print(f"localmesos master at {cluster.master_url}", flush=True)
        while not stop.wait(0.5):
            pass
        logging.getLogger("localmesos").info("signal received, stopping")
    finally:
        cluster.stop()
    return 0


# --- fault ----------------------------------------------------------------------------------------


def fault_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m localmesos fault", description="Inject a fault into a running localmesos."
    )
    parser.add_argument("--master", required=True, help="HOST:PORT of the localmesos master")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the answer")
    parser.add_argument("action", choices=sorted(FAULT_ACTIONS), help="what to break")
    parser.add_argument("target", nargs="?", help="agent name/id, or task id for kill-task")
    return parser


def fault(argv: list[str]) -> int:
    parser = fault_parser()
    args = parser.parse_args(argv)
    host, colon, port = args.master.rpartition(":")
    if not colon or not host or not port.isdigit():
        parser.error(f"--master: {args.master!r} is not HOST:PORT, e.g. --master 127.0.0.1:5050")
    field = FAULT_ACTIONS[args.action]
    body: dict[str, Any] = {"action": args.action}
    if field is not None:
        if not args.target:
            parser.error(
                f"{args.action}: needs the {field.replace('_', ' ')}, e.g. "
                f"fault --master {args.master} {args.action} {'agent-0' if field == 'agent' else 'TASK_ID'}"
            )
        body[field] = args.target
    return _post_fault(host, int(port), body, args.timeout)


def _post_fault(host: str, port: int, body: dict[str, Any], timeout: float) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(
            "POST",
            "/localmesos/v1/faults",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
    except OSError as exc:
        print(f"error: cannot reach localmesos at {host}:{port}: {exc}", file=sys.stderr)
        return 1
    finally:
        conn.close()
    if response.status != 200:
        print(f"error: HTTP {response.status}: {text}", file=sys.stderr)
        return 1
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "fault":
        return fault(argv[1:])
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
