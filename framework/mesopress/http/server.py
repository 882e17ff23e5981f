"""The HTTP transport of the API: a ThreadingHTTPServer that turns requests into `routes.route` calls.

Why it exists: the routes are pure functions of a view; this module only parses the request line, writes
JSON with the right status (errors as {"error": "..."}), and adds `Location` on redirects. Every scheduler
process runs one, leader or standby, on settings.http_port (Marathon's PORT0).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mesopress.http import routes, ui

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    server: ApiServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server name
        if ui.serve(self):  # the operator web UI: / and /ui/<file> (http/ui.py), standbys too
            return
        self._answer("GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server name
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= routes.MAX_BODY:  # refused unread; the connection is closed after the answer
            self.close_connection = True
            why = f"body: Content-Length must be 0 to {routes.MAX_BODY} bytes"
            body = {"ok": False, "reasons": [why], "error": why}
            self._send(routes.Answer(413 if length > 0 else 400, body))
            return
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = {}
        self._answer("POST", body if isinstance(body, dict) else {}, raw)

    def do_PUT(self) -> None:  # noqa: N802 - http.server name
        self._answer("PUT")

    def do_DELETE(self) -> None:  # noqa: N802 - http.server name
        self._answer("DELETE")

    def _answer(self, method: str, body: dict[str, Any] | None = None, raw: bytes = b"") -> None:
        try:
            answer = routes.route(self.server.view, method, self.path, body, raw)
        except Exception as err:
            log.exception("error answering %s %s", method, self.path)
            answer = routes.Answer(500, {"error": f"error answering {method} {self.path}: {err!r}"})
        self._send(answer)

    def _send(self, answer: routes.Answer) -> None:
        raw = isinstance(answer.body, bytes)
        data = answer.body if raw else json.dumps(answer.body, sort_keys=True, default=str).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/octet-stream" if raw else "application/json")
        self.send_header("Content-Length", str(len(data)))
        if answer.location:
            self.send_header("Location", answer.location)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        if "/v1/artifacts/" in self.path or "/v1/galera/report/" in self.path:  # never log a token
            return
        log.debug("%s " + format, self.address_string(), *args)


class ApiServer(ThreadingHTTPServer):
    """The API on `host:port` over `view`; `start()` serves on a daemon thread, `stop()` ends it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, view: routes.View, port: int, host: str = "0.0.0.0") -> None:
        super().__init__((host, port), _Handler)
        self.view = view
        self._thread = threading.Thread(target=self.serve_forever, name="http api", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> ApiServer:
        self._thread.start()
        log.info("HTTP API on port %d", self.port)
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
