"""The HTTP face of localmesos: the v1 scheduler endpoint and the few master endpoints clients use.

Why this module exists: pymesos (and any v1 HTTP scheduler) sees only HTTP, so status codes, headers and
the chunked RecordIO event stream must be exactly what a Mesos 1.11 master produces (facts §1.2, §1.3,
§5.9). Everything protocol-level is decided here (content types, Accept, authentication, parse errors,
stream framing); everything stateful is delegated to the ``Master`` object, which can be swapped while the
listening socket stays (a master restart keeps its address, as a restarted Mesos master does).

Threading: one thread per connection (``ThreadingHTTPServer``). Plain calls are answered on keep-alive
HTTP/1.1 connections (pymesos reuses one connection for all calls). A SUBSCRIBE connection is owned by its
handler thread, which drains the ``Subscription`` queue and writes each event as one RecordIO record in
its own HTTP chunk until the master closes the subscription, the server stops, or the client goes away
(then the master is told via ``stream_closed``). Nothing a client sends may kill the server: unexpected
exceptions are logged and answered with 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from localmesos import proto, recordio

log = logging.getLogger("localmesos.server")

JSON = "application/json"
PROTOBUF = "application/x-protobuf"
SCHEDULER_PATH = "/api/v1/scheduler"
OPERATOR_PATH = "/api/v1"
FAULTS_PATH = "/localmesos/v1/faults"
STATE_PATHS = ("/state", "/master/state", "/state.json", "/master/state.json")
REDIRECT_PATHS = ("/redirect", "/master/redirect")
HEALTH_PATHS = ("/health", "/master/health")
VERSION_PATHS = ("/version",)
MAX_BODY = 64 * 1024 * 1024
STREAM_POLL = 0.2

VERSION_INFO = {
    "version": "1.11.0",
    "build_date": "2020-11-19 16:00:00",
    "build_time": 1605801600.0,
    "build_user": "localmesos",
    "git_sha": "0000000000000000000000000000000000000000",
    "git_tag": "1.11.0",
}


class HTTPError(Exception):
    """An answer other than success: HTTP status + plain-text message (+ extra headers)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class FaultError(Exception):
    """A fault request that cannot be carried out: 400 (bad request) or 404 (unknown agent/task)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


FaultHandler = Callable[[dict[str, Any]], dict[str, Any]]


class SubscriptionLike(Protocol):
    stream_id: str
    framework_id: str

    def get(self, timeout: float) -> dict[str, Any] | None: ...

    @property
    def closed(self) -> bool: ...


class MasterLike(Protocol):
    """What the server needs from ``master.Master`` (see docs/localmesos.md)."""

    info: dict[str, Any]

    def subscribe(self, call: dict[str, Any], principal: str | None) -> SubscriptionLike: ...

    def call(
        self, call: dict[str, Any], stream_id: str | None, principal: str | None
    ) -> tuple[int, dict[str, Any] | None]: ...

    def stream_closed(self, sub: SubscriptionLike) -> None: ...

    def state(self) -> dict[str, Any]: ...

    def mark_agent_gone(self, agent_id: str) -> None: ...


# --- small pure helpers ---------------------------------------------------------------------------


def media_type(header: str | None) -> str | None:
    """'application/json; charset=utf-8' -> 'application/json' (lower case); None stays None."""
    if header is None:
        return None
    return header.split(";", 1)[0].strip().lower()


def accepts(accept: str | None, wanted: str) -> bool:
    """Whether an Accept header allows ``wanted`` (absent header = anything; q=0 excludes)."""
    if accept is None or not accept.strip():
        return True
    major = wanted.split("/", 1)[0]
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        if _quality(parts[1:]) <= 0:
            continue
        kind = parts[0].lower()
        if kind in (wanted, "*/*", f"{major}/*"):
            return True
    return False


def _quality(params: list[str]) -> float:
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def basic_principal(header: str | None, credentials: dict[str, str]) -> str | None:
    """The principal of a valid HTTP Basic ``Authorization`` header, else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    principal, sep, secret = decoded.partition(":")
    if not sep or credentials.get(principal) != secret:
        return None
    return principal


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n"


# --- the server -----------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: LocalMesosServer) -> None:
        self.app = app
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.app.track(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.app.untrack(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class LocalMesosServer:
    """HTTP server of one localmesos master on ``host:port`` (port 0 = pick a free one)."""

    def __init__(
        self,
        master: MasterLike | None,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: dict[str, str] | None = None,
        faults: FaultHandler | None = None,
    ) -> None:
        self._master = master
        self._master_lock = threading.Lock()
        self.host = host
        self.credentials = credentials
        self.faults = faults
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._streams: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._httpd = _HTTPServer((host, port), self)
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def master(self) -> MasterLike | None:
        with self._master_lock:
            return self._master

    @master.setter
    def master(self, master: MasterLike | None) -> None:
        """Swap the master (None = answer 503 'No leader elected' meanwhile); the port stays."""
        with self._master_lock:
            self._master = master

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="localmesos-http",
            daemon=True,
        )
        self._thread.start()
        log.info("localmesos HTTP server listening on %s", self.address)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, end every event stream, close every connection, wait for stream threads."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout)
        self._httpd.server_close()
        self._wait_streams(timeout)
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            _close_quietly(conn)
        log.info("localmesos HTTP server on %s stopped", self.address)

    def _wait_streams(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            streams = list(self._streams)
        for thread in streams:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- bookkeeping used by the handler ---------------------------------------------------------
    def track(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)

    def stream_started(self) -> None:
        with self._lock:
            self._streams.add(threading.current_thread())

    def stream_ended(self) -> None:
        with self._lock:
            self._streams.discard(threading.current_thread())


def _close_quietly(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        conn.close()
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "localmesos/1.11.0"
    server: _HTTPServer

    # -- plumbing --------------------------------------------------------------------------------
    @property
    def app(self) -> LocalMesosServer:
        return self.server.app

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self._body: bytes | None = None
        try:
            self._read_body()
            self._route()
        except HTTPError as err:
            self._send_text(err.status, err.message, err.headers)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception:
            log.exception("internal error answering %s %s", self.command, self.path)
            self._send_text(500, "Internal server error (see the localmesos log)")

    def _path(self) -> str:
        return self.path.split("?", 1)[0].rstrip("/") or "/"

    def _route(self) -> None:
        path = self._path()
        if path == SCHEDULER_PATH:
            self._scheduler()
        elif path == OPERATOR_PATH:
            self._operator()
        elif path == FAULTS_PATH:
            self._faults()
        elif path in VERSION_PATHS:
            self._require_method("GET", "HEAD")
            self._send_json(200, self._version())
        elif path in HEALTH_PATHS:
            self._require_method("GET", "HEAD")
            self._send_bytes(200, b"", None)
        elif path in STATE_PATHS:
            self._require_method("GET", "HEAD")
            self._send_json(200, self._leader().state())
        elif path in REDIRECT_PATHS:
            self._send_bytes(307, b"", None, {"Location": f"//{self.app.host}:{self.app.port}"})
        else:
            self._read_body()
            raise HTTPError(404, f"No such endpoint: {path}")

    # -- responses -------------------------------------------------------------------------------
    def _send_bytes(
        self, status: int, body: bytes, content_type: str | None, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self.wfile.flush()

    def _send_text(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        try:
            self._send_bytes(status, message.encode("utf-8"), "text/plain; charset=utf-8", headers)
        except OSError:
            self.close_connection = True

    def _send_json(self, status: int, obj: Any) -> None:
        self._send_bytes(status, json.dumps(obj).encode("utf-8"), JSON)

    # -- request helpers -------------------------------------------------------------------------
    def _require_method(self, *methods: str) -> None:
        if self.command not in methods:
            self._read_body()
            raise HTTPError(
                405,
                f"Expecting one of {{ '{', '.join(methods)}' }}, but received '{self.command}'",
                {"Allow": ", ".join(methods)},
            )

    def _read_body(self) -> bytes:
        """The request body, read once per request (always read, so keep-alive stays in sync)."""
        if self._body is not None:
            return self._body
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            length = self._content_length()
            body = self.rfile.read(length) if length else b""
        self._body = body
        return body

    def _content_length(self) -> int:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return 0
        try:
            length = int(raw)
        except ValueError:
            self.close_connection = True
            raise HTTPError(400, f"Invalid Content-Length {raw!r}") from None
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            raise HTTPError(413 if length > 0 else 400, f"Unacceptable Content-Length {length}")
        return length

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024).strip()
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                self.close_connection = True
                raise HTTPError(400, "Malformed chunked request body") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                raise HTTPError(413, "Request body too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _json_body(self) -> Any:
        body = self._read_body()
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise HTTPError(400, f"Failed to parse body into JSON: {exc}") from None

    def _leader(self) -> MasterLike:
        master = self.app.master
        if master is None:
            raise HTTPError(503, "No leader elected")
        return master

    def _version(self) -> dict[str, Any]:
        info = dict(VERSION_INFO)
        master = self.app.master
        if master is not None:
            info["version"] = master.info.get("version", info["version"])
        return info

    def _authenticate(self) -> str | None:
        credentials = self.app.credentials
        if not credentials:
            return None
        principal = basic_principal(self.headers.get("Authorization"), credentials)
        if principal is None:
            self._read_body()
            raise HTTPError(
                401,
                "Unauthorized: HTTP Basic credentials missing or wrong",
                {"WWW-Authenticate": 'Basic realm="mesos"'},
            )
        return principal

    def _check_content_type(self) -> None:
        content_type = media_type(self.headers.get("Content-Type"))
        if content_type is None:
            raise HTTPError(400, "Expecting 'Content-Type' to be present")
        if content_type == PROTOBUF:
            raise HTTPError(415, "localmesos speaks JSON only: send 'Content-Type: application/json'")
        if content_type != JSON:
            raise HTTPError(415, "Expecting 'Content-Type' of application/json or application/x-protobuf")

    # -- /api/v1/scheduler ---------------------------------------------------------------------
    def _scheduler(self) -> None:
        principal = self._authenticate()
        self._require_method("POST")
        self._check_content_type()
        obj = self._json_body()
        try:
            call = proto.parse_call(obj)
        except proto.UnknownCallType as exc:
            raise HTTPError(501, f"Failed to validate scheduler::Call: {exc}") from None
        except proto.ProtoError as exc:
            raise HTTPError(400, f"Failed to validate scheduler::Call: {exc}") from None
        except RecursionError:
            raise HTTPError(400, "Failed to validate scheduler::Call: nested too deeply") from None
        self._check_principal(call, principal)
        if call["type"] == "SUBSCRIBE":
            self._subscribe(call, principal)
        else:
            self._plain_call(call, principal)

    @staticmethod
    def _check_principal(call: dict[str, Any], principal: str | None) -> None:
        sub = call.get("subscribe") or call.get("update_framework")
        if principal is None or sub is None:
            return
        declared = sub["framework_info"].get("principal")
        if declared is not None and declared != principal:
            raise HTTPError(
                400,
                f"Authenticated principal '{principal}' does not match principal "
                f"'{declared}' set in `FrameworkInfo`",
            )

    def _plain_call(self, call: dict[str, Any], principal: str | None) -> None:
        master = self._leader()
        stream_id = self.headers.get("Mesos-Stream-Id")
        try:
            status, body = master.call(call, stream_id, principal)
        except Exception as exc:
            status_message = _call_error(exc)
            if status_message is None:
                raise
            raise HTTPError(*status_message) from None
        if body is None:
            self._send_bytes(status, b"", None)
        else:
            self._send_json(status, body)

    def _subscribe(self, call: dict[str, Any], principal: str | None) -> None:
        accept = self.headers.get("Accept")
        if not accepts(accept, JSON):
            if accepts(accept, PROTOBUF):
                raise HTTPError(406, "localmesos speaks JSON only: send 'Accept: application/json'")
            raise HTTPError(406, "Expecting 'Accept' to allow application/json or application/x-protobuf")
        if self.headers.get("Mesos-Stream-Id") is not None:
            raise HTTPError(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
        master = self._leader()
        try:
            sub = master.subscribe(call, principal)
        except Exception as exc:
            status_message = _call_error(exc)
            if status_message is None:
                raise
            raise HTTPError(*status_message) from None
        self._stream(master, sub)

    def _stream(self, master: MasterLike, sub: SubscriptionLike) -> None:
        self.close_connection = True
        self.app.stream_started()
        client_gone = False
        try:
            self.send_response(200)
            self.send_header("Content-Type", JSON)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Mesos-Stream-Id", sub.stream_id)
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.flush()
            client_gone = self._pump(sub)
            if not client_gone:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except OSError:
            client_gone = True
        finally:
            self.app.stream_ended()
            if client_gone or not sub.closed:
                self._notify_closed(master, sub)

    def _pump(self, sub: SubscriptionLike) -> bool:
        """Write events until the subscription closes or the server stops; True if the client went away."""
        while True:
            event = sub.get(STREAM_POLL)
            if event is not None:
                self.wfile.write(chunk(recordio.encode_json(event)))
                self.wfile.flush()
                continue
            if sub.closed or self.app.stopping.is_set():
                return False
            if self._client_gone():
                log.info(
                    "framework %s: event stream %s closed by the client", sub.framework_id, sub.stream_id
                )
                return True

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            data = self.connection.recv(4096)
        except (OSError, ValueError):
            return True
        return data == b""

    @staticmethod
    def _notify_closed(master: MasterLike, sub: SubscriptionLike) -> None:
        try:
            master.stream_closed(sub)
        except Exception:
            log.exception("master.stream_closed failed for stream %s", sub.stream_id)

    # -- operator API (minimal) ------------------------------------------------------------------
    def _operator(self) -> None:
        self._require_method("POST")
        self._check_content_type()
        obj = self._json_body()
        if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
            raise HTTPError(400, "Failed to validate master::Call: expecting 'type' to be present")
        call_type = obj["type"]
        if call_type == "GET_HEALTH":
            self._send_json(200, {"type": "GET_HEALTH", "get_health": {"healthy": True}})
        elif call_type == "GET_VERSION":
            self._send_json(200, {"type": "GET_VERSION", "get_version": {"version_info": self._version()}})
        elif call_type == "MARK_AGENT_GONE":
            self._mark_agent_gone(obj)
        else:
            raise HTTPError(
                501,
                f"localmesos implements only GET_HEALTH, GET_VERSION and MARK_AGENT_GONE "
                f"on {OPERATOR_PATH}, not {call_type}",
            )

    def _mark_agent_gone(self, obj: dict[str, Any]) -> None:
        agent_id = (((obj.get("mark_agent_gone") or {}).get("agent_id")) or {}).get("value")
        if not isinstance(agent_id, str):
            raise HTTPError(
                400, "Failed to validate master::Call: expecting 'mark_agent_gone.agent_id.value'"
            )
        master = self._leader()
        try:
            master.mark_agent_gone(agent_id)
        except KeyError:
            raise HTTPError(404, f"Agent {agent_id} not found") from None
        except Exception as exc:
            status_message = _call_error(exc)
            if status_message is None:
                raise
            raise HTTPError(*status_message) from None
        self._send_bytes(200, b"", None)

    # -- fault injection -------------------------------------------------------------------------
    def _faults(self) -> None:
        self._require_method("POST")
        obj = self._json_body()
        if self.app.faults is None:
            raise HTTPError(501, "fault injection is not available on this server")
        if not isinstance(obj, dict) or not isinstance(obj.get("action"), str):
            raise HTTPError(400, 'expecting a JSON object like {"action": "stop-agent", "agent": "agent-0"}')
        try:
            result = self.app.faults(obj)
        except FaultError as exc:
            raise HTTPError(exc.status, exc.message) from None
        self._send_json(200, result)


def _call_error(exc: Exception) -> tuple[int, str] | None:
    """(status, message) of a master CallError-like exception, else None."""
    status = getattr(exc, "status", None)
    message = getattr(exc, "message", None)
    if isinstance(status, int) and 400 <= status < 600:
        return status, str(message if message is not None else exc)
    return None
