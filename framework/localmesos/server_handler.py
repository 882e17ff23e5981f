"""The request handler of localmesos' HTTP server: routing, bodies, answers, operator and fault endpoints.

Why this module exists: one handler thread per connection reads the request (Content-Length or chunked),
routes it, and answers with exactly the status, headers and body a Mesos master would; nothing a client
sends may kill the server (unexpected exceptions are logged and answered with 500). The scheduler endpoint
with its event stream is the mixin ``server_scheduler.SchedulerEndpoint``.
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from localmesos.server_protocol import (
    FAULTS_PATH,
    HEALTH_PATHS,
    JSON,
    MAX_BODY,
    OPERATOR_PATH,
    PROTOBUF,
    REDIRECT_PATHS,
    SCHEDULER_PATH,
    STATE_PATHS,
    VERSION_INFO,
    VERSION_PATHS,
    FaultError,
    HTTPError,
    MasterLike,
    basic_principal,
    call_error,
    media_type,
)
from localmesos.server_scheduler import SchedulerEndpoint

if TYPE_CHECKING:
    from localmesos.server import HTTPServer, LocalMesosServer

log = logging.getLogger("localmesos.server")


class Handler(SchedulerEndpoint, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "localmesos/1.11.0"
    server: HTTPServer

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
            status_message = call_error(exc)
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
