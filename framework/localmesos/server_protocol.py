"""The HTTP vocabulary of localmesos' master endpoints: paths, media types, errors, pure header helpers.

Why this module exists: status codes, content negotiation, HTTP Basic authentication and chunk framing
must be exactly what a Mesos 1.11 master does (facts §1.2, §1.3, §5.9). These decisions are pure and
testable alone; the server (``server.py``) and its request handler (``server_handler.py``,
``server_scheduler.py``) use them, and ``MasterLike`` says what they need from the master.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, Protocol

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



def call_error(exc: Exception) -> tuple[int, str] | None:
    """(status, message) of a master CallError-like exception, else None."""
    status = getattr(exc, "status", None)
    message = getattr(exc, "message", None)
    if isinstance(status, int) and 400 <= status < 600:
        return status, str(message if message is not None else exc)
    return None
