"""The TaskInfo of a LAUNCH: a command task on reserved resources and volumes (facts §2 d).

The environment tells the task who it is (service, pod, instance, index) and its ports
(``PORT_<NAME>``); the pod's own variables come first and the request's (computed by the caller, e.g.
the Galera peer list) last, so they win. The health check becomes Mesos' ``health_check`` and the
readiness check a general ``check`` whose result arrives in status updates (``check_status``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mesopress.model import ids
from mesopress.model.specs import CheckSpec
from mesopress.offers import labels
from mesopress.offers.requests import Context, Request


def render(
    request: Request,
    ctx: Context,
    agent_id: str,
    resources: Sequence[dict[str, Any]],
    ports: Mapping[str, int],
) -> dict[str, Any]:
    """The TaskInfo JSON for ``request`` on ``agent_id``."""
    pod = request.pod
    task: dict[str, Any] = {
        "name": request.instance,
        "task_id": {"value": request.task_id},
        "agent_id": {"value": agent_id},
        "resources": [dict(r) for r in resources],
        "command": _command(request, ctx, ports),
        "labels": labels.to_labels({ids.LABEL_SERVICE: ctx.service, ids.LABEL_INSTANCE: request.instance}),
    }
    if pod.kill_grace_period is not None:
        task["kill_policy"] = kill_policy(pod.kill_grace_period)
    if pod.health_check is not None:
        task["health_check"] = render_health_check(pod.health_check, ports)
    if pod.readiness_check is not None:
        task["check"] = render_check(pod.readiness_check, ports)
    return task


def kill_policy(grace_seconds: float) -> dict[str, Any]:
    """A Mesos ``KillPolicy``: SIGTERM, then ``grace_seconds`` for a clean exit before SIGKILL."""
    return {"grace_period": {"nanoseconds": int(round(grace_seconds * 1e9))}}


def _command(request: Request, ctx: Context, ports: Mapping[str, int]) -> dict[str, Any]:
    command: dict[str, Any] = {
        "shell": True,
        "value": request.pod.command,
        "environment": _environment(request, ctx, ports),
    }
    if request.pod.user:
        command["user"] = request.pod.user
    return command


def _environment(request: Request, ctx: Context, ports: Mapping[str, int]) -> dict[str, Any]:
    values = dict(request.pod.env)
    values.update(
        MESOPRESS_SERVICE=ctx.service,
        MESOPRESS_POD=request.pod.name,
        MESOPRESS_INSTANCE=request.instance,
        MESOPRESS_INDEX=str(request.index),
    )
    values.update({spec.env_key: str(ports[spec.name]) for spec in request.pod.ports if spec.name in ports})
    values.update(request.env)
    return {"variables": [{"name": k, "value": v} for k, v in values.items()]}


def render_health_check(check: CheckSpec, ports: Mapping[str, int]) -> dict[str, Any]:
    """A Mesos ``HealthCheck``: failing ``max_failures`` times in a row kills the task."""
    body = _probe(check, ports, {"shell": True, "value": check.command})
    body.update(
        delay_seconds=check.delay,
        interval_seconds=check.interval,
        timeout_seconds=check.timeout,
        grace_period_seconds=check.grace_period,
        consecutive_failures=check.max_failures,
    )
    return body


def render_check(check: CheckSpec, ports: Mapping[str, int]) -> dict[str, Any]:
    """A Mesos ``CheckInfo`` (readiness): reported in status updates, never kills the task."""
    body = _probe(check, ports, {"command": {"shell": True, "value": check.command}})
    body.update(delay_seconds=check.delay, interval_seconds=check.interval, timeout_seconds=check.timeout)
    return body


def _probe(check: CheckSpec, ports: Mapping[str, int], command: dict[str, Any]) -> dict[str, Any]:
    if check.kind == "http":
        return {"type": "HTTP", "http": {"port": ports.get(check.port, 0), "path": check.path}}
    if check.kind == "tcp":
        return {"type": "TCP", "tcp": {"port": ports.get(check.port, 0)}}
    return {"type": "COMMAND", "command": command}
