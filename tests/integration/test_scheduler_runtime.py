"""The scheduler runtime (runner + pymesos adapter + HTTP API + CLI) on a real ZooKeeper and localmesos.

The core is replaced by a small recording fake so these tests pin the runtime alone: one loop thread,
callbacks that only enqueue, effects mapped to the right calls (KILL and RECONCILE with agent ids,
explicit acknowledgements), leadership wiring (only the leader subscribes, with the stored framework id;
a stopped leader fails over, never tears down) and the HTTP routes (JSON, errors, standby redirects).
The CLI's config validation runs as a real subprocess.
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
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localmesos.cluster import Cluster
from localmesos.zkserver import ZooKeeperServer, free_port
from mesopress import effects, events
from mesopress.adapters import driver, zkstore
from mesopress.adapters.election import Leadership
from mesopress.adapters.runner import Runner
from mesopress.http import routes
from mesopress.http.server import ApiServer
from mesopress.scheduler_commands import IdentityChanged
from mesopress.settings import Settings
from mesopress.state.store import StateStore
from support.waiting import eventually

ROLE = "runtime"
REPO = Path(__file__).resolve().parents[2]


class FakeCore:
    """Records events; decides trivially: store the framework id, decline or launch, ack, reply."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.seen: list[events.Event] = []
        self.launch: dict[str, Any] | None = None
        self.statuses: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.refuse: str | None = None  # load() raises IdentityChanged with this text

    def load(self) -> None:
        self.store.framework_id()
        if self.refuse:
            raise IdentityChanged(self.refuse)

    def handle(self, event: events.Event) -> list[effects.Effect]:
        with self.lock:
            self.seen.append(event)
        if isinstance(event, events.Subscribed):
            if self.store.framework_id() != event.framework_id:
                self.store.set_framework_id(event.framework_id)
            return [effects.Reconcile(())]
        if isinstance(event, events.Offers):
            return self._offers(event)
        if isinstance(event, events.Status):
            self.statuses.append(dict(event.status))
            return [effects.Acknowledge(event.status)]
        if isinstance(event, events.Command):
            return self._command(event)
        if isinstance(event, events.MesosError) and "removed" in event.message:
            self.store.clear_framework_id()  # what a core may decide: register anew
        return []

    def _offers(self, event: events.Offers) -> list[effects.Effect]:
        ids = [o["id"]["value"] for o in event.offers]
        if self.launch is None or self.launch.get("sent"):
            return [effects.Decline(ids, 1.0)]
        offer = event.offers[0]
        task = _task(self.launch["task_id"], offer)
        self.launch.update(sent=True, agent_id=offer["agent_id"]["value"])
        return [
            effects.Accept([ids[0]], [{"type": "LAUNCH", "launch": {"task_infos": [task]}}], 1.0),
            effects.Decline(ids[1:], 1.0),
        ]

    def _command(self, event: events.Command) -> list[effects.Effect]:
        task = {"task_id": event.args.get("task_id", ""), "agent_id": event.args.get("agent_id", "")}
        extra: dict[str, list[effects.Effect]] = {
            "kill": [effects.Kill(task["task_id"], task["agent_id"])],
            "reconcile": [effects.Reconcile((task,))],
            "teardown": [effects.Teardown()],
        }
        return [*extra.get(event.kind, []), effects.Reply(event.reply, {"kind": event.kind})]

    def snapshot(self) -> dict[str, Any]:
        return {
            "plans": [{"name": "deploy", "status": "COMPLETE"}],
            "pods": [{"instance": "db-0", "status": "RUNNING"}],
        }


def _task(task_id: str, offer: dict[str, Any]) -> dict[str, Any]:
    wanted = {"cpus": 0.1, "mem": 32.0}
    resources = []
    for resource in offer["resources"]:
        if resource["name"] in wanted and not resource.get("reservations"):
            resources.append(dict(resource, scalar={"value": wanted.pop(resource["name"])}))
    return {
        "name": "sleeper",
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": resources,
        "command": {"shell": True, "value": "exec sleep 600"},
    }


class Node:
    """One scheduler process' runtime, in this test process."""

    def __init__(self, zk: ZooKeeperServer, root: str, master: str, identity: str) -> None:
        self.client = zkstore.connect(zk.hosts, 4.0)
        persister = zkstore.ZkPersister(self.client, root)
        self.cores: list[FakeCore] = []
        self.settings = Settings(master=master, role=ROLE, principal=ROLE, failover_timeout=120.0)
        self.runner = Runner(
            StateStore(persister),
            lambda elected, deposed: Leadership(self.client, persister, identity, elected, deposed),
            self._core,
            lambda framework_id, sched: driver.build_driver(self.settings, framework_id, sched),
            identity,
        )
        self.stopped = False
        self.refuse: str | None = None  # every core this node builds refuses to load with this text

    def _core(self, store: StateStore) -> FakeCore:
        self.cores.append(FakeCore(store))
        self.cores[-1].refuse = self.refuse
        return self.cores[-1]

    @property
    def core(self) -> FakeCore:
        return self.cores[-1]

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.runner.stop()
            self.client.stop()
            self.client.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "cluster", agents=2, port=0, allocation_interval=0.2)
    c.start()
    yield c
    c.stop()


@pytest.fixture
def nodes(zk_server: ZooKeeperServer, zk_chroot: str, cluster: Cluster) -> Iterator[Callable[..., Node]]:
    started: list[Node] = []

    def start(identity: str, refuse: str | None = None) -> Node:
        node = Node(zk_server, f"{zk_chroot}/mesopress/runtime", cluster.master_url, identity)
        node.refuse = refuse
        started.append(node)
        node.runner.start()
        return node

    yield start
    for node in started:
        node.stop()


def master_state(cluster: Cluster) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{cluster.master_url}/state", timeout=10) as resp:
        return json.loads(resp.read())


def framework(cluster: Cluster, framework_id: str) -> dict[str, Any] | None:
    state = master_state(cluster)
    return next((f for f in state["frameworks"] if f["id"] == framework_id), None)


def test_the_leader_subscribes_acts_through_the_driver_and_fails_over_to_a_standby(
    nodes: Callable[[str], Node], cluster: Cluster
) -> None:
    first = nodes("127.0.0.1:1")
    eventually(lambda: first.runner.status()["subscribed"], message="the leader never subscribed")
    framework_id = first.runner.status()["framework_id"]
    assert framework_id and first.runner.store.framework_id() == framework_id
    second = nodes("127.0.0.1:2")
    eventually(lambda: second.runner.status()["leader"] == "127.0.0.1:1", message="standby sees no leader")
    assert second.runner.status() | {"framework_id": None} == {
        "identity": "127.0.0.1:2",
        "role": "standby",
        "leader": "127.0.0.1:1",
        "framework_id": None,
        "subscribed": False,
        "refused": None,
    }
    assert not second.cores, "a standby builds no core"

    # LAUNCH through Accept; statuses acknowledged explicitly; KILL and RECONCILE carry the agent id.
    task_id = f"sleeper-{uuid.uuid4().hex[:6]}"
    first.core.launch = {"task_id": task_id}
    eventually(lambda: any(s["state"] == "TASK_RUNNING" for s in first.core.statuses), timeout=20)
    agent_id = first.core.launch["agent_id"]
    assert first.runner.submit("reconcile", {"task_id": task_id, "agent_id": agent_id}) == {
        "kind": "reconcile"
    }
    eventually(lambda: sum(s["task_id"]["value"] == task_id for s in first.core.statuses) >= 2)
    assert first.runner.submit("kill", {"task_id": task_id, "agent_id": agent_id}) == {"kind": "kill"}
    eventually(lambda: any(s["state"] == "TASK_KILLED" for s in first.core.statuses), timeout=20)
    # the agent forgets a terminal task only once every update of it was acknowledged
    eventually(lambda: not cluster.agent(agent_id).task_states(), message="updates never acknowledged")

    # Stopping the leader fails over (the framework stays registered); the standby takes the same id.
    first.stop()
    assert framework(cluster, framework_id) is not None, "the framework was torn down"
    eventually(lambda: second.runner.status()["subscribed"], timeout=20)
    assert second.runner.status()["framework_id"] == framework_id
    assert isinstance(second.core.seen[0], events.Subscribed)
    assert framework(cluster, framework_id)["active"]


def test_events_of_a_deposed_leader_are_dropped_and_the_driver_stops_at_once(
    nodes: Callable[[str], Node], cluster: Cluster
) -> None:
    node = nodes("127.0.0.1:3")
    eventually(lambda: node.runner.status()["subscribed"])
    framework_id = node.runner.status()["framework_id"]
    node.runner._on_deposed("suspended")  # what Leadership reports when ZooKeeper is cut off
    assert not node.runner.is_leader and node.runner.store.fence is None
    eventually(lambda: not (framework(cluster, framework_id) or {}).get("connected", False))
    seen = len(node.core.seen)
    node.runner._queue.put(("event", node.runner._gen - 1, events.Tick(0.0)))
    eventually(lambda: node.runner._queue.empty())
    assert len(node.core.seen) == seen

    # CONNECTED again with the same fence: a fresh core, a new driver, the same framework id
    node.runner._on_elected(node.runner.leadership.fence)  # type: ignore[arg-type]
    eventually(lambda: node.runner.status()["subscribed"] and len(node.cores) == 2)
    assert node.runner.status()["framework_id"] == framework_id
    eventually(lambda: (framework(cluster, framework_id) or {}).get("connected", False))


def test_a_leader_whose_load_is_refused_says_why_and_never_subscribes(
    nodes: Callable[..., Node], cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    reason = "role: cannot change from 'old' to 'runtime'"
    node = nodes("127.0.0.1:4", refuse=reason)
    eventually(lambda: node.runner.status()["refused"] == reason, message="the refusal is not shown")
    status = node.runner.status()
    assert status["role"] == "standby" and not status["subscribed"] and not node.runner.is_leader
    assert node.runner.store.framework_id() is None
    assert not master_state(cluster)["frameworks"], "a refused scheduler registered a framework"
    refusals = [r for r in caplog.records if "refusing to act" in r.getMessage()]
    assert refusals and refusals[0].levelname == "ERROR" and refusals[0].exc_info is None
    assert reason in refusals[0].getMessage()
    # it holds the election, so it must not redirect to itself: every acting route says why it cannot
    answer = routes.route(node.runner, "GET", "/v1/pods")
    assert answer.status == 503 and reason in answer.body["error"], answer


def test_signals_stop_the_process_and_a_dead_driver_thread_is_reported_as_a_crash() -> None:
    from pymesos import process as pymesos_process

    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    stops: list[str] = []
    crashes: list[BaseException] = []
    try:
        driver.install_signal_handlers(stops.append, crashes.append)
        signal.raise_signal(signal.SIGTERM)
        boom = RuntimeError("Failed to send request 400")
        pymesos_process._exc_info = (RuntimeError, boom, None)  # what an aborted IO thread leaves
        signal.raise_signal(signal.SIGINT)  # what its interrupt_main() delivers
        signal.raise_signal(signal.SIGINT)  # a real Ctrl-C
    finally:
        signal.signal(signal.SIGINT, saved[0])
        signal.signal(signal.SIGTERM, saved[1])
    assert stops == ["SIGTERM", "SIGINT"] and crashes == [boom]
    assert pymesos_process._exc_info is None


def test_a_mesos_error_stops_the_driver_with_failover_and_a_new_one_subscribes_later(
    nodes: Callable[[str], Node], cluster: Cluster
) -> None:
    first = nodes("127.0.0.1:5")
    eventually(lambda: first.runner.status()["subscribed"])
    removed = first.runner.status()["framework_id"]
    first.runner.submit("teardown", {})  # the only TEARDOWN: the stored id now names a removed framework
    eventually(lambda: framework(cluster, removed) is None)
    assert first.runner.store.framework_id() == removed
    first.stop()
    second = nodes("127.0.0.1:6")  # subscribes with the removed id: the master answers ERROR
    eventually(lambda: second.cores and any(isinstance(e, events.MesosError) for e in second.core.seen))
    eventually(lambda: second.runner.status()["subscribed"], timeout=20, message="no new subscription")
    renewed = second.runner.status()["framework_id"]
    assert renewed != removed and framework(cluster, renewed)["connected"]
    assert sum(isinstance(e, events.MesosError) for e in second.core.seen) == 1, "an ERROR loop"


# --- HTTP ------------------------------------------------------------------------------------------


class FakeView:
    def __init__(self, leader: bool, leader_identity: str | None) -> None:
        self.is_leader = leader
        self.leader = leader_identity
        self.snapshot = FakeCore.snapshot(None)  # type: ignore[arg-type]
        self.submitted: list[tuple[str, dict[str, Any]]] = []

    def status(self) -> dict[str, Any]:
        role = "leader" if self.is_leader else "standby"
        return {"role": role, "leader": self.leader, "framework_id": "F", "subscribed": self.is_leader}

    def submit(self, kind: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
        self.submitted.append((kind, args))
        refused = {"ok": False, "error": "error replacing 'nope': no such pod instance"}
        return refused if args.get("instance") == "nope" else {"ok": 1}

    def config(self) -> dict[str, Any]:
        return {"name": "svc", "secret": "hunter2", "env": {"DB_PASSWORD": "x", "DB_HOST": "db"}}


def call(port: int, method: str, path: str) -> tuple[int, Any, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), ""
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers.get("Location", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


@pytest.fixture
def api() -> Iterator[Callable[[FakeView], int]]:
    servers: list[ApiServer] = []

    def serve(view: FakeView) -> int:
        servers.append(ApiServer(view, free_port(), host="127.0.0.1").start())
        return servers[-1].port

    yield serve
    for server in servers:
        server.stop()


def test_the_leader_answers_every_route_in_json(api: Callable[[FakeView], int]) -> None:
    view = FakeView(True, "127.0.0.1:9")
    port = api(view)
    assert call(port, "GET", "/v1/health")[:2] == (200, {"leader": "127.0.0.1:9", "role": "leader"})
    assert call(port, "GET", "/v1/state")[1]["framework_id"] == "F"
    assert call(port, "GET", "/v1/plans")[1] == [{"name": "deploy", "status": "COMPLETE"}]
    assert call(port, "GET", "/v1/plans/deploy")[1] == {"name": "deploy", "status": "COMPLETE"}
    assert call(port, "GET", "/v1/plans/nope")[:2] == (404, {"error": "no plan named 'nope'"})
    assert call(port, "GET", "/v1/pods")[1] == [{"instance": "db-0", "status": "RUNNING"}]
    assert call(port, "GET", "/v1/config")[1] == {
        "name": "svc",
        "secret": "<hidden>",
        "env": {"DB_PASSWORD": "<hidden>", "DB_HOST": "db"},
    }
    assert call(port, "POST", "/v1/pods/db-0/replace")[:2] == (202, {"ok": 1})
    assert call(port, "POST", "/v1/pods/nope/replace")[:2] == (
        404,
        {"error": "error replacing 'nope': no such pod instance"},
    )
    assert call(port, "POST", "/v1/uninstall")[0] == 202
    assert view.submitted == [
        ("replace", {"instance": "db-0"}),
        ("replace", {"instance": "nope"}),
        ("uninstall", {}),
    ]
    assert call(port, "GET", "/v1/uninstall")[0] == 405
    status, body, _ = call(port, "GET", "/v2/nothing")
    assert status == 404 and "error" in body


def test_a_standby_answers_health_and_state_and_redirects_the_rest(api: Callable[[FakeView], int]) -> None:
    port = api(FakeView(False, "10.0.0.7:8123"))
    assert call(port, "GET", "/v1/health")[:2] == (200, {"leader": "10.0.0.7:8123", "role": "standby"})
    assert call(port, "GET", "/v1/state")[0] == 200
    assert call(port, "GET", "/v1/pods") == (307, {"leader": "10.0.0.7:8123"}, "http://10.0.0.7:8123/v1/pods")
    assert call(port, "POST", "/v1/uninstall")[2] == "http://10.0.0.7:8123/v1/uninstall"
    alone = api(FakeView(False, None))
    assert call(alone, "GET", "/v1/plans")[:2] == (503, {"error": "no leader elected yet; try again shortly"})


def test_an_elected_scheduler_still_loading_answers_503_and_never_redirects_to_itself() -> None:
    loading = FakeView(False, "h:1")
    loading.status = lambda: {"identity": "h:1", "role": "standby", "leader": "h:1", "refused": None}  # type: ignore[method-assign]
    answer = routes.route(loading, "GET", "/v1/pods")
    assert answer.status == 503 and "loading its state" in answer.body["error"] and not answer.location


def test_routes_are_plain_functions_of_a_view() -> None:
    answer = routes.route(FakeView(True, "h:1"), "GET", "/v1/plans/deploy/")
    assert answer == routes.Answer(200, {"name": "deploy", "status": "COMPLETE"})


# --- the CLI ---------------------------------------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mesopress", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_an_invalid_config_exits_2_naming_every_field_and_registers_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad_Name\npods:\n  - name: db\n    count: 0\n    cpus: 0.1\n    mem: 32\n")
    result = run_cli(
        "scheduler", "--config", str(bad), "--master", "not a master", "--zk", "zk://127.0.0.1:1/x"
    )
    assert result.returncode == 2, result.stderr
    for field in ("name:", "pods[0].count:", "pods[0].command: required", "master:"):
        assert field in result.stderr, result.stderr
    missing = run_cli("scheduler", "--config", str(tmp_path / "absent.yaml"))
    assert missing.returncode == 2 and "service_file: cannot read" in missing.stderr
    nothing = run_cli("scheduler")
    assert nothing.returncode == 2 and "service_file: required" in nothing.stderr
    assert run_cli("frobnicate").returncode == 2


def test_a_taken_http_port_exits_1_and_leaves_nothing_behind(
    zk_server: ZooKeeperServer, tmp_path: Path
) -> None:
    service = tmp_path / "ok.yaml"
    service.write_text("name: ok\npods:\n  - {name: db, count: 1, cpus: 0.1, mem: 32, command: sleep 60}\n")
    with socket.create_server(("0.0.0.0", 0)) as taken:
        port = str(taken.getsockname()[1])
        zk = f"zk://{zk_server.hosts}/taken-port"
        result = run_cli("scheduler", "--config", str(service), "--http-port", port, "--zk", zk)
    assert result.returncode == 1, result.stderr
    assert "error starting the scheduler" in result.stderr and "Traceback" not in result.stderr


def test_operator_commands_follow_redirects_and_print_tables(api: Callable[[FakeView], int]) -> None:
    leader = api(FakeView(True, None))
    standby = api(FakeView(False, f"127.0.0.1:{leader}"))
    pods = run_cli("pods", "--url", f"http://127.0.0.1:{standby}")
    assert pods.returncode == 0, pods.stderr
    assert pods.stdout.split() == ["INSTANCE", "STATUS", "db-0", "RUNNING"]
    replaced = run_cli("replace", "db-0", "--url", f"http://127.0.0.1:{standby}")
    assert replaced.returncode == 0 and json.loads(replaced.stdout) == {"ok": 1}
    failed = run_cli("replace", "nope", "--url", f"http://127.0.0.1:{leader}")
    assert failed.returncode == 1 and "no such pod instance" in failed.stderr
    plans = run_cli("plans", "--url", f"http://127.0.0.1:{leader}")
    assert json.loads(plans.stdout) == [{"name": "deploy", "status": "COMPLETE"}]


# --- the pymesos adapter alone ---------------------------------------------------------------------


class RecordingDriver:
    """Stands in for MesosSchedulerDriver: records every call."""

    framework_id = "F-1"
    connected = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: self.calls.append((name, args + tuple(kwargs.values())))


def test_callbacks_only_enqueue_and_never_raise() -> None:
    got: list[events.Event] = []
    sched = driver.EventScheduler(got.append)
    fake = RecordingDriver()
    sched.registered(fake, {"value": "F-1"}, {})
    sched.reregistered(fake, {})
    sched.resourceOffers(fake, [{"id": {"value": "o1"}}])
    sched.offerRescinded(fake, {"value": "o1"})
    sched.statusUpdate(fake, {"state": "TASK_RUNNING"})
    sched.slaveLost(fake, {"value": "S1"})
    sched.disconnected(fake)
    sched.error(fake, "Framework has been removed")
    assert [type(e).__name__ for e in got] == [
        "Subscribed", "Subscribed", "Offers", "Rescinded", "Status", "AgentLost", "Disconnected",
        "MesosError",
    ]  # fmt: skip
    assert got[0] == events.Subscribed("F-1") and got[3] == events.Rescinded("o1")
    assert fake.calls == [("stop", (True,))], "error() stops the driver with failover, nothing else"
    exploding = driver.EventScheduler(lambda event: 1 / 0)
    exploding.statusUpdate(fake, {})  # a sink that raises is logged, never raised into pymesos
    exploding.registered(fake, None, None)


def test_effects_map_to_driver_calls_with_agent_ids() -> None:
    fake = RecordingDriver()
    run = driver.EffectExecutor(fake).run
    replies: list[Any] = []
    run(effects.Accept(["o1"], [{"type": "LAUNCH"}], 5))
    run(effects.Decline(["o2", "o3"], 60))
    run(effects.Kill("t1", "S1"))
    run(effects.Reconcile(({"task_id": "t1", "agent_id": "S1"},)))
    run(effects.Reconcile(()))
    run(effects.Revive())
    run(effects.Suppress())
    run(effects.Acknowledge({"task_id": {"value": "t1"}, "uuid": "dXU="}))
    run(effects.Reply(replies.append, {"ok": True}))
    run(effects.Teardown())
    framework = {"value": "F-1"}
    assert fake.calls == [
        ("acceptOffers", ([{"value": "o1"}], [{"type": "LAUNCH"}], {"refuse_seconds": 5.0})),
        ("declineOffer", ([{"value": "o2"}, {"value": "o3"}], {"refuse_seconds": 60.0})),
        ("_send", ({"type": "KILL", "framework_id": framework,
                    "kill": {"task_id": {"value": "t1"}, "agent_id": {"value": "S1"}}},)),
        ("_send", ({"type": "RECONCILE", "framework_id": framework,
                    "reconcile": {"tasks": [{"task_id": {"value": "t1"}, "agent_id": {"value": "S1"}}]}},)),
        ("_send", ({"type": "RECONCILE", "framework_id": framework, "reconcile": {"tasks": []}},)),
        ("reviveOffers", ()),
        ("suppressOffers", ()),
        ("acknowledgeStatusUpdate", ({"task_id": {"value": "t1"}, "uuid": "dXU="},)),
        ("_send", ({"type": "TEARDOWN", "framework_id": framework},)),
        ("stop", (True,)),
    ]  # fmt: skip
    assert replies == [{"ok": True}]


def test_the_marathon_app_runs_two_schedulers_with_port0_and_the_health_route() -> None:
    app = json.loads((REPO / "marathon-apps" / "mesopress-scheduler.json").read_text())
    assert app["instances"] == 2 and len(app["portDefinitions"]) == 1
    assert app["cmd"].startswith("exec python3 -m mesopress scheduler --config")
    (check,) = app["healthChecks"]
    assert (check["path"], check["portIndex"]) == ("/v1/health", 0)
    assert {"MESOS_MASTER", "MESOPRESS_ZK", "MESOPRESS_SERVICE_FILE"} <= set(app["env"])
    assert routes.route(FakeView(False, None), "GET", check["path"]).status == 200, "a standby is healthy"
