"""The routes table of docs/scheduler.md: each route reads the published snapshot or submits a command.

Why it exists apart from the server: the table is plain functions from a request to (status, JSON body),
testable without sockets, and the server stays a transport. Nothing here decides: a command goes to the
core on the runner's loop thread and its answer comes back as the body.

A standby answers `/v1/health` and `/v1/state` itself; every other route is redirected (307) to the
leader's identity `host:port`, or answered 503 while no leader is known, while this scheduler is
elected but still loading, or while it refuses to act (`refused` in its status: another role).

`POST /v1/config` takes a whole service file as the body (YAML or JSON, at most `MAX_BODY` bytes): it is
parsed and checked here, on the HTTP thread, exactly as at start-up (`model.config.load_service_text`,
400 with every error), then the core's `update_config` decides whether the running service can take it
(409 with every reason) or stores it as the new target (200 with its version).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

SECRET_WORDS = ("secret", "password", "passwd", "token", "credential")
HIDDEN = "<hidden>"
MAX_BODY = 1024 * 1024  # bytes of a request body (a service file is a few KiB); larger: 413
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RAW_BODY = "_raw_body"  # the parameter carrying the request body's text (for POST /v1/config)


class View(Protocol):
    """What the routes need from a scheduler process (the Runner provides it)."""

    snapshot: dict[str, Any]

    @property
    def is_leader(self) -> bool: ...
    def status(self) -> dict[str, Any]: ...
    def config(self) -> dict[str, Any]: ...
    def submit(self, kind: str, args: dict[str, Any], timeout: float = 10.0) -> Any: ...
    def galera_samples(self) -> dict[str, Any]: ...  # optional: pod -> node -> live wsrep sample


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    location: str = ""


Handler = Callable[[View, dict[str, str]], Answer]


def _health(view: View, _: dict[str, str]) -> Answer:
    status = view.status()
    return Answer(200, {"leader": status["leader"], "role": status["role"]})


def _state(view: View, _: dict[str, str]) -> Answer:
    return Answer(200, view.status())


def _plans(view: View, _: dict[str, str]) -> Answer:
    return Answer(200, view.snapshot.get("plans", []))


def _plan(view: View, params: dict[str, str]) -> Answer:
    plans = view.snapshot.get("plans", [])
    items = plans.values() if isinstance(plans, dict) else plans
    for plan in items:
        if isinstance(plan, dict) and plan.get("name") == params["name"]:
            return Answer(200, plan)
    if isinstance(plans, dict) and params["name"] in plans:
        return Answer(200, plans[params["name"]])
    return _error(404, f"no plan named {params['name']!r}")


def _pods(view: View, _: dict[str, str]) -> Answer:
    return Answer(200, view.snapshot.get("pods", []))


def _config(view: View, _: dict[str, str]) -> Answer:
    return Answer(200, _without_secrets(view.config()))


def _update_config(view: View, params: dict[str, str]) -> Answer:
    """A new service file for the running service: 400 if it is not a valid file, 409 if the running
    service cannot take it, 200 {"ok", "version"} once stored as the target. Nothing changes otherwise."""
    from mesopress.model import config

    text = params.get(RAW_BODY, "")
    if len(text.encode()) > MAX_BODY:
        return _refused(413, f"body: larger than {MAX_BODY} bytes; send only the service file")
    if not text.strip():
        reason = "body: empty; send the service file (YAML or JSON), e.g. curl --data-binary @service.yaml"
        return Answer(400, {"ok": False, "reasons": [reason]})
    running = (view.snapshot.get("config") or {}).get("target")
    if not isinstance(running, dict):
        return _refused(503, "the scheduler has not loaded its state yet; try again shortly")
    try:
        service, doc = config.load_service_text(text, running["role"], running["principal"], "body")
    except config.ConfigError as err:
        return Answer(400, {"ok": False, "reasons": list(err.errors)})
    result = view.submit("update_config", {"service": service, "doc": doc})
    if isinstance(result, dict) and result.get("ok") is True:
        return Answer(200, {k: v for k, v in result.items() if k in ("ok", "version", "unchanged")})
    if isinstance(result, dict) and isinstance(result.get("reasons"), list) and not result.get("retry"):
        return Answer(409, {"ok": False, "reasons": [str(r) for r in result["reasons"]]})
    why = ""
    if isinstance(result, dict):
        why = str(result.get("error") or "; ".join(map(str, result.get("reasons") or [])))
    return _refused(503, f"{why or 'no answer from the scheduler'}; nothing changed, try again")


def _refused(status: int, reason: str) -> Answer:
    return Answer(status, {"ok": False, "reasons": [reason], "error": reason})


def _endpoints(view: View, _: dict[str, str]) -> Answer:
    """Per pod, and `schedulers`: the live schedulers' URLs, leader first (the proxy's list)."""
    endpoints = dict(view.snapshot.get("endpoints", {}))
    schedulers = getattr(view, "schedulers", list)()  # a view without the list: none added
    return Answer(200, endpoints | ({"schedulers": schedulers} if schedulers else {}))


def _galera(view: View, _: dict[str, str]) -> Answer:
    """The core's Galera view with each node's live wsrep sample (`live`, null when none yet)."""
    from mesopress.http import galera_view

    samples = getattr(view, "galera_samples", dict)()  # a view without a monitor: no samples
    return Answer(200, galera_view.merge(view.snapshot.get("galera", {}), samples, time.time()))


def _bundle(view: View, _: dict[str, str]) -> Answer:
    from mesopress.http import bundle

    return Answer(200, bundle.bundle())


def _artifact(view: View, params: dict[str, str]) -> Answer:
    """Served once (the core deletes the token before answering); the token is never logged."""
    result = view.submit("artifact", {"token": params["token"]})
    if isinstance(result, dict) and result.get("ok") and isinstance(result.get("content"), bytes):
        return Answer(200, result["content"])
    return _error(404, "no such artifact")


def _secret_value(view: View, params: dict[str, str]) -> Answer:
    result = view.submit("secret", {"name": params["name"]})
    if isinstance(result, dict) and result.get("ok"):
        return Answer(200, {"name": result["name"], "value": result["value"]})
    return _error(404, f"no such secret {params['name']!r}")


def _report(view: View, params: dict[str, str]) -> Answer:
    """A one-shot recovery task's position; the token is single use and never logged."""
    result = view.submit("galera_report", {"token": params["token"], "position": params.get("position", "")})
    if isinstance(result, dict) and result.get("ok"):
        return Answer(200, {"ok": True})
    return _error(404, "no such report")


def _force(view: View, params: dict[str, str]) -> Answer:
    return _command("galera_force", lambda p: {"node": p.get("node", "")})(view, params)


def _command(kind: str, args: Callable[[dict[str, str]], dict[str, Any]]) -> Handler:
    def handle(view: View, params: dict[str, str]) -> Answer:
        result = view.submit(kind, args(params))
        if isinstance(result, dict) and (result.get("ok") is False or "error" in result):
            message = str(result.get("error") or "; ".join(map(str, result.get("reasons", []))))
            return Answer(404 if "no such" in message else 409, {"error": message or f"{kind} refused"})
        return Answer(202, result if result is not None else {"ok": True})

    return handle


ROUTES: list[tuple[str, re.Pattern[str], Handler, bool]] = [
    # method, path, handler, answered by a standby too
    ("GET", re.compile(r"^/v1/health$"), _health, True),
    ("GET", re.compile(r"^/v1/state$"), _state, True),
    ("GET", re.compile(r"^/v1/plans$"), _plans, False),
    ("GET", re.compile(r"^/v1/plans/(?P<name>[^/]+)$"), _plan, False),
    ("GET", re.compile(r"^/v1/pods$"), _pods, False),
    ("POST", re.compile(r"^/v1/pods/(?P<instance>[^/]+)/replace$"), _command("replace", dict), False),
    ("POST", re.compile(r"^/v1/uninstall$"), _command("uninstall", lambda _: {}), False),
    ("GET", re.compile(r"^/v1/config$"), _config, False),
    ("POST", re.compile(r"^/v1/config$"), _update_config, False),
    ("GET", re.compile(r"^/v1/endpoints$"), _endpoints, False),
    ("GET", re.compile(r"^/v1/artifacts/bundle/mesopress\.tar\.gz$"), _bundle, True),
    ("GET", re.compile(r"^/v1/artifacts/(?P<token>[A-Za-z0-9_\-]+)$"), _artifact, False),
    ("GET", re.compile(r"^/v1/secrets/(?P<name>[A-Za-z0-9_.\-]+)$"), _secret_value, False),
    ("GET", re.compile(r"^/v1/galera$"), _galera, False),
    ("POST", re.compile(r"^/v1/galera/force$"), _force, False),
    ("POST", re.compile(r"^/v1/galera/report/(?P<token>[A-Za-z0-9_\-]+)$"), _report, False),
]


def route(
    view: View, method: str, path: str, body: dict[str, Any] | None = None, raw: bytes = b""
) -> Answer:
    """Answer one request: run its route, redirect a standby, or say what is wrong. A JSON object
    body's plain values are parameters too (the path's win); `raw`, the body's bytes, is `RAW_BODY`."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    allowed = []
    for verb, pattern, handler, standby_ok in ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        if verb != method:
            allowed.append(verb)
            continue
        if not standby_ok and not view.is_leader:
            return _redirect(view, path)
        params = {str(k): str(v) for k, v in (body or {}).items() if isinstance(v, str | int)}
        if raw:
            try:
                params[RAW_BODY] = raw.decode("utf-8")
            except UnicodeDecodeError:
                return Answer(400, {"ok": False, "reasons": ["body: must be UTF-8 text"]})
        return handler(view, params | match.groupdict())
    if allowed:
        return _error(405, f"{method} not allowed on {path}; use {', '.join(allowed)}")
    return _error(404, f"no route {path}; see GET /v1/health, /v1/state, /v1/plans, /v1/pods, /v1/config")


def _redirect(view: View, path: str) -> Answer:
    status = view.status()
    leader = status.get("leader")
    if status.get("refused"):
        return _error(503, f"this scheduler is elected but refuses to act: {status['refused']}")
    if not leader:
        return _error(503, "no leader elected yet; try again shortly")
    if leader == status.get("identity"):  # elected, still loading its state: never redirect to itself
        return _error(503, "this scheduler was just elected and is loading its state; try again shortly")
    return Answer(307, {"leader": leader}, location=f"http://{leader}{path}")


def _error(status: int, message: str) -> Answer:
    return Answer(status, {"error": message})


def _without_secrets(value: Any) -> Any:
    """Values of secret-looking keys hidden, also in [name, value] pairs (a pod's `env` in a spec is a
    list of pairs) and inside tuples (`dataclasses.asdict` keeps them)."""
    if isinstance(value, dict):
        return {k: HIDDEN if _secret(k) else _without_secrets(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) == 2 and isinstance(value[0], str) and _ENV_NAME.match(value[0]) and _secret(value[0]):
            return [value[0], HIDDEN]
        return [_without_secrets(v) for v in value]
    return value


def _secret(key: Any) -> bool:
    return any(word in str(key).lower() for word in SECRET_WORDS)
