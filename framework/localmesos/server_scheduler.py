"""The v1 scheduler endpoint: call parsing, principal checks, plain calls and the SUBSCRIBE event stream.

Why this module exists: ``/api/v1/scheduler`` is the whole of what pymesos sees. A SUBSCRIBE connection is
owned by its handler thread, which drains the ``Subscription`` queue and writes each event as one RecordIO
record in its own HTTP chunk until the master closes the subscription, the server stops, or the client
goes away (then the master is told via ``stream_closed``). A mixin of ``server_handler.Handler``: it uses
the handler's plumbing (``_send_*``, ``_json_body``, ``_authenticate``, ``_leader``, ``app``).
"""

from __future__ import annotations

import logging
import select
from typing import Any

from localmesos import proto, recordio
from localmesos.server_protocol import (
    JSON,
    PROTOBUF,
    STREAM_POLL,
    HTTPError,
    MasterLike,
    SubscriptionLike,
    accepts,
    call_error,
    chunk,
)

log = logging.getLogger("localmesos.server")


class SchedulerEndpoint:
    """``/api/v1/scheduler`` for ``server_handler.Handler`` (a mixin: see the module docstring)."""

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
            status_message = call_error(exc)
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
            status_message = call_error(exc)
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
