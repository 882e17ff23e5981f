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

This module holds the server and its bookkeeping; the request handler is ``server_handler`` (with the
scheduler endpoint in ``server_scheduler``) and the pure HTTP vocabulary is ``server_protocol``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any

from localmesos.server_handler import Handler
from localmesos.server_protocol import FaultHandler, MasterLike

log = logging.getLogger("localmesos.server")

# --- the server -----------------------------------------------------------------------------------


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: LocalMesosServer) -> None:
        self.app = app
        super().__init__(address, Handler)

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
        self._httpd = HTTPServer((host, port), self)
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
