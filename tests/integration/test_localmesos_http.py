"""localmesos over raw HTTP: status codes (facts §1.3), the chunked RecordIO event stream (§1.2),
authentication, the operator and fault endpoints, and /state, against a real Cluster on a free port.

Raw sockets are used for the event stream so that the exact framing (one RecordIO record per HTTP chunk,
the terminating chunk when the master closes the stream) is checked byte for byte.
"""

from __future__ import annotations

import base64
import getpass
import http.client
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localmesos import recordio
from localmesos.cluster import Cluster
from support.waiting import wait_for

TIMEOUT = 15.0
USER = getpass.getuser()


def framework_info(**extra: Any) -> dict[str, Any]:
    info = {
        "user": USER,
        "name": "http-test",
        "roles": ["test"],
        "capabilities": [{"type": "MULTI_ROLE"}, {"type": "RESERVATION_REFINEMENT"}],
        "failover_timeout": 60.0,
    }
    info.update(extra)
    return info


def subscribe_call(info: dict[str, Any] | None = None, framework_id: str | None = None) -> dict[str, Any]:
    info = dict(info or framework_info())
    call: dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
    if framework_id:
        info["id"] = {"value": framework_id}
        call["framework_id"] = {"value": framework_id}
    return call


# --- raw HTTP helpers -----------------------------------------------------------------------------


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json"} if body is not None else {}
        all_headers.update(headers or {})
        conn.request(method, path, body=data, headers=all_headers)
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def post_call(port: int, call: dict[str, Any], stream_id: str | None = None, **headers: str) -> Response:
    hdrs = dict(headers)
    if stream_id is not None:
        hdrs["Mesos-Stream-Id"] = stream_id
    return request(port, "POST", "/api/v1/scheduler", call, hdrs)


class EventStream:
    """A SUBSCRIBE connection read chunk by chunk from a raw socket."""

    def __init__(self, port: int, call: dict[str, Any], headers: dict[str, str | None] | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        body = json.dumps(call).encode()
        hdrs: dict[str, str | None] = {
            "Host": f"127.0.0.1:{port}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Connection": "close",
            "Content-Length": str(len(body)),
        }
        hdrs.update(headers or {})
        lines = "".join(f"{k}: {v}\r\n" for k, v in hdrs.items() if v is not None)
        head = "POST /api/v1/scheduler HTTP/1.1\r\n" + lines
        self.sock.sendall(head.encode() + b"\r\n" + body)
        self.file = self.sock.makefile("rb")
        status_line = self.file.readline().decode()
        self.status = int(status_line.split()[1])
        self.headers: dict[str, str] = {}
        while True:
            line = self.file.readline().decode().strip()
            if not line:
                break
            key, _, value = line.partition(":")
            self.headers[key.strip().lower()] = value.strip()
        self.ended = False

    @property
    def stream_id(self) -> str:
        return self.headers["mesos-stream-id"]

    def body(self) -> bytes:
        return self.file.read(int(self.headers.get("content-length", "0")))

    def next_chunk(self, timeout: float = TIMEOUT) -> bytes:
        self.sock.settimeout(timeout)
        size_line = self.file.readline()
        assert size_line.endswith(b"\r\n"), f"bad chunk size line {size_line!r}"
        size = int(size_line.strip(), 16)
        data = self.file.read(size)
        assert self.file.read(2) == b"\r\n"
        if size == 0:
            self.ended = True
        return data

    def next_event(self, timeout: float = TIMEOUT) -> dict[str, Any] | None:
        """The next event (each chunk must hold exactly one RecordIO record); None at the stream's end."""
        data = self.next_chunk(timeout)
        if not data:
            return None
        records = recordio.decode(data)
        assert len(records) == 1, f"expected one record per chunk, got {len(records)}"
        return json.loads(records[0])

    def wait_event(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for an event")
            event = self.next_event(left)
            if event is None:
                raise AssertionError("stream ended while waiting for an event")
            if predicate(event):
                return event

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            self.sock.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "lm", agents=1, port=0, allocation_interval=0.2, heartbeat_interval=0.5)
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def port(cluster: Cluster) -> int:
    return int(cluster.master_url.rsplit(":", 1)[1])


@pytest.fixture
def streams() -> Iterator[list[EventStream]]:
    opened: list[EventStream] = []
    yield opened
    for stream in opened:
        stream.close()


def open_stream(
    port: int, streams: list[EventStream], call: dict[str, Any] | None = None, **hdrs: str
) -> EventStream:
    stream = EventStream(port, call or subscribe_call(), hdrs)
    streams.append(stream)
    return stream


def subscribed(port: int, streams: list[EventStream], **info: Any) -> tuple[EventStream, str]:
    stream = open_stream(port, streams, subscribe_call(framework_info(**info)))
    assert stream.status == 200, stream.body()
    event = stream.next_event()
    assert event is not None and event["type"] == "SUBSCRIBED"
    return stream, event["subscribed"]["framework_id"]["value"]


# --- plain endpoints ------------------------------------------------------------------------------


def test_version(port: int) -> None:
    resp = request(port, "GET", "/version")
    assert resp.status == 200
    body = resp.json()
    assert body["version"] == "1.11.0"
    assert {"build_date", "build_time", "build_user", "git_sha"} <= set(body)


def test_health(port: int) -> None:
    assert request(port, "GET", "/health").status == 200


@pytest.mark.parametrize("path", ["/redirect", "/master/redirect"])
def test_redirect_points_at_the_leader(port: int, path: str) -> None:
    resp = request(port, "GET", path)
    assert resp.status == 307
    assert resp.headers["location"] == f"//127.0.0.1:{port}"


@pytest.mark.parametrize("path", ["/state", "/master/state"])
def test_state_shape(port: int, path: str) -> None:
    resp = request(port, "GET", path)
    assert resp.status == 200
    state = resp.json()
    for key in (
        "id",
        "pid",
        "hostname",
        "version",
        "leader",
        "start_time",
        "activated_slaves",
        "slaves",
        "frameworks",
        "completed_frameworks",
        "unregistered_frameworks",
        "localmesos",
    ):
        assert key in state, key
    assert state["version"] == "1.11.0"
    wait_for(lambda: request(port, "GET", path).json()["activated_slaves"] == 1, what="agent registered")
    slave = request(port, "GET", path).json()["slaves"][0]
    for key in (
        "id",
        "hostname",
        "port",
        "active",
        "attributes",
        "resources",
        "used_resources",
        "offered_resources",
        "unreserved_resources",
        "reserved_resources",
        "reserved_resources_full",
    ):
        assert key in slave, key


def test_unknown_path_is_404(port: int) -> None:
    assert request(port, "GET", "/nope").status == 404


def test_keep_alive_serves_several_calls_on_one_connection(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        for _ in range(3):
            conn.request(
                "POST", "/api/v1/scheduler", body=b"{}", headers={"Content-Type": "application/json"}
            )
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 400
            assert not resp.will_close
    finally:
        conn.close()


def test_garbage_does_not_kill_the_server(port: int) -> None:
    for junk in (
        b"\x00\x01garbage\r\n\r\n",
        b"POST /api/v1/scheduler HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.sendall(junk)
            sock.recv(4096)
    resp = request(
        port, "POST", "/api/v1/scheduler", raw=b"\xff\xfe", headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert request(port, "GET", "/health").status == 200


# --- /api/v1/scheduler status codes ---------------------------------------------------------------

FID = {"value": "no-such-framework"}


@pytest.mark.parametrize(
    ("method", "headers", "raw", "status", "text"),
    [
        ("GET", {}, None, 405, ""),
        ("POST", {}, b"{}", 400, "Content-Type"),
        ("POST", {"Content-Type": "application/x-protobuf"}, b"\x08\x01", 415, "localmesos speaks JSON only"),
        ("POST", {"Content-Type": "text/plain"}, b"{}", 415, "application/json"),
        ("POST", {"Content-Type": "application/json"}, b"{not json", 400, "JSON"),
        ("POST", {"Content-Type": "application/json"}, b"{}", 400, "type"),
        ("POST", {"Content-Type": "application/json"}, b'{"type": "REVIVE"}', 400, "framework_id"),
        (
            "POST",
            {"Content-Type": "application/json"},
            b'{"type": "KILL", "framework_id": {"value": "x"}}',
            400,
            "kill",
        ),
        (
            "POST",
            {"Content-Type": "application/json; charset=utf-8"},
            b'{"type": "UNKNOWN", "framework_id": {"value": "x"}}',
            501,
            "",
        ),
    ],
    ids=[
        "get-405",
        "no-content-type-400",
        "protobuf-415",
        "text-415",
        "bad-json-400",
        "no-type-400",
        "no-framework-id-400",
        "kill-without-kill-400",
        "unknown-type-501",
    ],
)
def test_http_level_refusals(
    port: int, method: str, headers: dict[str, str], raw: bytes | None, status: int, text: str
) -> None:
    resp = request(port, method, "/api/v1/scheduler", raw=raw, headers=headers)
    assert resp.status == status, resp.text
    assert text in resp.text


def test_acknowledge_with_bad_uuid_is_400(port: int) -> None:
    call = {
        "type": "ACKNOWLEDGE",
        "framework_id": FID,
        "acknowledge": {"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "AAAA"},
    }
    resp = post_call(port, call)
    assert resp.status == 400
    assert "uuid" in resp.text


def test_unknown_framework_is_400(port: int) -> None:
    resp = post_call(port, {"type": "REVIVE", "framework_id": FID}, stream_id="x")
    assert resp.status == 400


def test_subscribe_refusals(port: int, streams: list[EventStream]) -> None:
    protobuf_only = open_stream(port, streams, Accept="application/x-protobuf")
    assert protobuf_only.status == 406
    assert "JSON only" in protobuf_only.body().decode()
    html_only = open_stream(port, streams, Accept="text/html")
    assert html_only.status == 406
    with_stream_id = open_stream(port, streams, **{"Mesos-Stream-Id": "abc"})
    assert with_stream_id.status == 400
    mismatch = subscribe_call()
    mismatch["framework_id"] = {"value": "x"}
    assert post_call(port, mismatch).status == 400


@pytest.mark.parametrize(
    "accept",
    ["*/*", "application/json", "application/*;q=0.5, text/html", None],
    ids=["any", "json", "wildcard-with-q", "absent"],
)
def test_subscribe_accept_variants(port: int, streams: list[EventStream], accept: str | None) -> None:
    stream = EventStream(port, subscribe_call(), {"Accept": accept})
    streams.append(stream)
    assert stream.status == 200
    event = stream.next_event()
    assert event is not None and event["type"] == "SUBSCRIBED"


# --- the event stream -----------------------------------------------------------------------------


def test_subscribe_stream_framing_and_first_events(port: int, streams: list[EventStream]) -> None:
    stream = open_stream(port, streams)
    assert stream.status == 200
    assert stream.headers["content-type"] == "application/json"
    assert stream.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in stream.headers
    assert stream.stream_id
    first = stream.next_event()
    assert first is not None and first["type"] == "SUBSCRIBED"
    sub = first["subscribed"]
    assert sub["framework_id"]["value"]
    assert sub["heartbeat_interval_seconds"] == 0.5
    assert sub["master_info"]["address"]["port"] == port
    second = stream.next_event()
    assert second == {"type": "HEARTBEAT"}
    seen: dict[str, dict[str, Any]] = {}
    stream.wait_event(lambda e: bool(seen.setdefault(e["type"], e)) and {"HEARTBEAT", "OFFERS"} <= set(seen))
    assert seen["OFFERS"]["offers"]["offers"][0]["framework_id"] == sub["framework_id"]


def test_calls_need_the_right_stream_id(port: int, streams: list[EventStream]) -> None:
    stream, fid = subscribed(port, streams)
    revive = {"type": "REVIVE", "framework_id": {"value": fid}}
    assert post_call(port, revive).status == 400
    assert post_call(port, revive, stream_id="wrong").status == 400
    assert post_call(port, revive, stream_id=stream.stream_id).status == 202


def test_resubscribe_fails_over_the_old_stream(port: int, streams: list[EventStream]) -> None:
    first, fid = subscribed(port, streams)
    second = open_stream(port, streams, subscribe_call(framework_info(), framework_id=fid))
    assert second.status == 200
    assert second.stream_id != first.stream_id
    error = first.wait_event(lambda e: e["type"] == "ERROR")
    assert error["error"]["message"] == "Framework failed over"
    wait_for(lambda: first.next_event() is None, what="old stream to end")
    assert first.ended
    event = second.next_event()
    assert event is not None and event["type"] == "SUBSCRIBED"
    assert event["subscribed"]["framework_id"]["value"] == fid


def test_disconnected_framework_gets_403(port: int, streams: list[EventStream]) -> None:
    stream, fid = subscribed(port, streams)
    stream_id = stream.stream_id
    stream.close()
    revive = {"type": "REVIVE", "framework_id": {"value": fid}}
    wait_for(lambda: post_call(port, revive, stream_id=stream_id).status == 403, what="403 after disconnect")


def test_teardown_is_202_and_ends_the_stream(port: int, streams: list[EventStream]) -> None:
    stream, fid = subscribed(port, streams)
    resp = post_call(port, {"type": "TEARDOWN", "framework_id": {"value": fid}}, stream_id=stream.stream_id)
    assert resp.status == 202
    assert resp.body == b""
    wait_for(lambda: stream.next_event() is None, what="stream end after TEARDOWN")


def test_semantically_bad_accept_is_202_with_async_task_error(port: int, streams: list[EventStream]) -> None:
    stream, fid = subscribed(port, streams)
    offer = stream.wait_event(lambda e: e["type"] == "OFFERS")["offers"]["offers"][0]
    task = {
        "name": "too-big",
        "task_id": {"value": "too-big-1"},
        "agent_id": offer["agent_id"],
        "resources": [
            {
                "name": "cpus",
                "type": "SCALAR",
                "scalar": {"value": 10000.0},
                "allocation_info": offer["allocation_info"],
            }
        ],
        "command": {"value": "true"},
    }
    accept = {
        "type": "ACCEPT",
        "framework_id": {"value": fid},
        "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}}],
        },
    }
    resp = post_call(port, accept, stream_id=stream.stream_id)
    assert resp.status == 202, resp.text
    update = stream.wait_event(lambda e: e["type"] == "UPDATE")["update"]["status"]
    assert update["task_id"] == {"value": "too-big-1"}
    assert update["state"] == "TASK_ERROR"
    assert update["source"] == "SOURCE_MASTER"
    assert update["reason"] == "REASON_TASK_INVALID"
    assert "uuid" not in update


def test_accept_with_unknown_offer_is_202(port: int, streams: list[EventStream]) -> None:
    stream, fid = subscribed(port, streams)
    decline = {
        "type": "DECLINE",
        "framework_id": {"value": fid},
        "decline": {"offer_ids": [{"value": "nope"}]},
    }
    assert post_call(port, decline, stream_id=stream.stream_id).status == 202


# --- authentication -------------------------------------------------------------------------------


@pytest.fixture
def auth_port(tmp_path: Path) -> Iterator[int]:
    c = Cluster(tmp_path / "auth", agents=0, port=0, credentials={"fw": "s3cret"}, heartbeat_interval=0.5)
    c.start()
    try:
        yield int(c.master_url.rsplit(":", 1)[1])
    finally:
        c.stop()


def basic(principal: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()


@pytest.mark.parametrize(
    "authorization",
    [None, basic("fw", "wrong"), basic("other", "s3cret"), "Bearer abc", "Basic !!!"],
    ids=["missing", "wrong-secret", "unknown-principal", "not-basic", "bad-base64"],
)
def test_auth_refusals_are_401(auth_port: int, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    resp = post_call(auth_port, subscribe_call(), **headers)
    assert resp.status == 401
    assert resp.headers["www-authenticate"].startswith("Basic")


def test_auth_success_and_principal_mismatch(auth_port: int, streams: list[EventStream]) -> None:
    ok = open_stream(
        auth_port,
        streams,
        subscribe_call(framework_info(principal="fw")),
        Authorization=basic("fw", "s3cret"),
    )
    assert ok.status == 200
    mismatch = post_call(
        auth_port,
        subscribe_call(framework_info(principal="someone-else")),
        Authorization=basic("fw", "s3cret"),
    )
    assert mismatch.status == 400
    assert "does not match" in mismatch.text


def test_auth_leaves_version_open(auth_port: int) -> None:
    assert request(auth_port, "GET", "/version").status == 200


# --- operator API and faults ----------------------------------------------------------------------


def agent_id_of(port: int) -> str:
    slaves = wait_for(lambda: request(port, "GET", "/state").json()["slaves"], what="an agent")
    return str(slaves[0]["id"])


def test_operator_get_health_and_version(port: int) -> None:
    health = request(port, "POST", "/api/v1", {"type": "GET_HEALTH"})
    assert health.status == 200 and health.json()["get_health"]["healthy"] is True
    version = request(port, "POST", "/api/v1", {"type": "GET_VERSION"})
    assert version.json()["get_version"]["version_info"]["version"] == "1.11.0"
    assert request(port, "POST", "/api/v1", {"type": "GET_QUOTA"}).status == 501
    assert request(port, "POST", "/api/v1", {"nothing": 1}).status == 400


def test_operator_mark_agent_gone(port: int) -> None:
    agent_id = agent_id_of(port)
    missing = request(port, "POST", "/api/v1", {"type": "MARK_AGENT_GONE"})
    assert missing.status == 400
    resp = request(
        port,
        "POST",
        "/api/v1",
        {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": agent_id}}},
    )
    assert resp.status == 200, resp.text
    wait_for(lambda: request(port, "GET", "/state").json()["activated_slaves"] == 0, what="agent gone")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"action": "explode"}, 400),
        ({"nothing": 1}, 400),
        ({"action": "stop-agent"}, 400),
        ({"action": "stop-agent", "agent": "agent-99"}, 404),
        ({"action": "kill-task", "task_id": "no-such-task"}, 404),
    ],
    ids=["unknown-action", "no-action", "missing-agent", "unknown-agent", "unknown-task"],
)
def test_fault_refusals(port: int, body: dict[str, Any], status: int) -> None:
    resp = request(port, "POST", "/localmesos/v1/faults", body)
    assert resp.status == status, resp.text
    assert resp.text


def test_fault_stop_and_start_agent(port: int) -> None:
    agent_id_of(port)
    assert (
        request(port, "POST", "/localmesos/v1/faults", {"action": "stop-agent", "agent": "agent-0"}).status
        == 200
    )
    wait_for(lambda: request(port, "GET", "/state").json()["activated_slaves"] == 0, what="agent deactivated")
    assert (
        request(port, "POST", "/localmesos/v1/faults", {"action": "start-agent", "agent": "agent-0"}).status
        == 200
    )
    wait_for(lambda: request(port, "GET", "/state").json()["activated_slaves"] == 1, what="agent back")


def test_fault_restart_master_keeps_the_port(port: int, streams: list[EventStream]) -> None:
    agent_id = agent_id_of(port)
    stream, fid = subscribed(port, streams)
    old_id = request(port, "GET", "/state").json()["id"]
    assert request(port, "POST", "/localmesos/v1/faults", {"action": "restart-master"}).status == 200
    wait_for(lambda: stream.next_event() is None, what="stream end on master restart")
    state = request(port, "GET", "/state").json()
    assert state["id"] != old_id
    wait_for(
        lambda: (
            [s["id"] for s in request(port, "GET", "/state").json()["slaves"] if s["active"]] == [agent_id]
        ),
        what="agent re-registered with the new master",
    )
    again = open_stream(port, streams, subscribe_call(framework_info(), framework_id=fid))
    event = again.next_event()
    assert event is not None and event["type"] == "SUBSCRIBED"
    assert event["subscribed"]["framework_id"]["value"] == fid


def test_operator_mark_unknown_agent_gone_is_404(port: int) -> None:
    body = {"type": "MARK_AGENT_GONE", "mark_agent_gone": {"agent_id": {"value": "no-such-agent"}}}
    assert request(port, "POST", "/api/v1", body).status == 404


def test_fault_mark_gone_by_name(port: int) -> None:
    agent_id_of(port)
    assert (
        request(port, "POST", "/localmesos/v1/faults", {"action": "mark-gone", "agent": "agent-0"}).status
        == 200
    )
    wait_for(lambda: request(port, "GET", "/state").json()["activated_slaves"] == 0, what="agent gone")


def test_fault_reboot_agent_gives_a_new_agent_id(port: int) -> None:
    old_id = agent_id_of(port)
    assert (
        request(port, "POST", "/localmesos/v1/faults", {"action": "reboot-agent", "agent": "agent-0"}).status
        == 200
    )

    def new_active_id() -> str | None:
        active = [s["id"] for s in request(port, "GET", "/state").json()["slaves"] if s["active"]]
        return active[0] if active and active[0] != old_id else None

    wait_for(new_active_id, what="the rebooted agent under a new id")


def test_agents_get_disjoint_port_ranges_and_attributes(tmp_path: Path) -> None:
    c = Cluster(tmp_path / "sim", agents=3, port=0, simulate=True, agent_attributes="rack:r1;level:2")
    c.start()
    try:
        port = int(c.master_url.rsplit(":", 1)[1])
        slaves = wait_for(
            lambda: (
                len(request(port, "GET", "/state").json()["slaves"]) == 3
                and request(port, "GET", "/state").json()["slaves"]
            ),
            what="three agents",
        )
        assert sorted(s["resources"]["ports"] for s in slaves) == [
            "[31000-31999]",
            "[32000-32999]",
            "[33000-33999]",
        ]
        assert all(s["attributes"] == {"rack": "r1", "level": 2.0} for s in slaves)
        assert [a.name for a in c.agents] == ["agent-0", "agent-1", "agent-2"]
        assert c.agent(slaves[0]["id"]).agent_id == slaves[0]["id"]
    finally:
        c.stop()


def test_chunked_request_body_is_read(port: int) -> None:
    body = b'{"type": "REVIVE"}'
    chunked = (
        b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:5], body[5:]))
        + b"0\r\n\r\n"
    )
    head = (
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(head.encode() + chunked)
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"framework_id" in reply


def test_no_leader_is_503(cluster: Cluster, port: int) -> None:
    assert cluster.server is not None
    master = cluster.server.master
    cluster.server.master = None
    try:
        resp = post_call(port, subscribe_call())
        assert resp.status == 503
        assert "No leader elected" in resp.text
        assert request(port, "GET", "/state").status == 503
    finally:
        cluster.server.master = master
    assert request(port, "GET", "/state").status == 200


def test_distinct_hosts_give_each_agent_its_own_loopback_address(tmp_path: Path) -> None:
    with Cluster(tmp_path / "c", agents=3, port=0, distinct_hosts=True) as cluster:
        port = int(cluster.master_url.split(":")[1])
        slaves = wait_for(
            lambda: (
                len(request(port, "GET", "/state").json()["slaves"]) == 3
                and request(port, "GET", "/state").json()["slaves"]
            ),
            what="three agents",
        )
        assert sorted(s["hostname"] for s in slaves) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
