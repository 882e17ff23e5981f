"""Files and secrets for tasks: generated service secrets, single-use artifact tokens, the fetcher URIs.

Why this module exists: Mesos can only put a file into a sandbox through the fetcher, and everything in a
TaskInfo is public in the master's /state (docs/scheduler.md "Files and secrets for tasks"). So at launch
the pod kind renders the task's files, each is stored under a fresh random token in the store's
ACL-protected secrets namespace *in the same fenced batch as the launch intent*, and the TaskInfo only
carries ``<advertised>/v1/artifacts/<token>`` URIs. Serving deletes the token (fenced) before the content
leaves, so a URL works once. Service secrets (passwords) are generated once, at the first deploy, and
never logged; tokens are never logged either.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets as _secrets
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mesopress import scheduler_galera, scheduler_scaling
from mesopress.kinds import common
from mesopress.model.specs import PodSpec
from mesopress.state.persister import StoreError
from mesopress.state.store import Batch, StateStore

if TYPE_CHECKING:
    from mesopress.scheduler import SchedulerCore
    from mesopress.scheduler_state import Txn

log = logging.getLogger("mesopress.scheduler")
PREFIX = "artifact-"
EXPIRY_SECONDS = 900.0
TokenSource = Callable[[], str]


def new_token() -> str:
    """32 random bytes, URL-safe: the default token source (the core's is injectable)."""
    return _secrets.token_urlsafe(32)


def load_secrets(store: StateStore) -> dict[str, str]:
    """Every service secret (artifacts excluded), by name."""
    out = {}
    for name in store.secret_names():
        if (
            not name.startswith((PREFIX, scheduler_galera.REPORT))
            and (value := store.secret(name)) is not None
        ):
            out[name] = value.decode("utf-8")
    return out


def ensure_secrets(core: SchedulerCore) -> None:
    """Generate and store, in one batch, every secret a pod kind needs and the store lacks (first
    deploy); existing ones are never regenerated. Raises StoreError (the core does not load)."""
    missing: dict[str, str] = {}
    for pod in core.service.pods:
        for name, generate in _specs(core, pod).items():
            if name not in core.secrets and name not in missing:
                missing[name] = generate()
    if not missing:
        return
    batch = Batch()
    for name, value in missing.items():
        batch.put_secret(name, value.encode("utf-8"))
    core.store.commit(batch)
    core.secrets.update(missing)
    log.info("generated and stored secrets: %s", ", ".join(sorted(missing)))  # names only


def _specs(core: SchedulerCore, pod: PodSpec) -> Mapping[str, Callable[[], str]]:
    specs = getattr(core.kind(pod.name), "secret_specs", None)
    return specs(pod) if specs is not None else {}


def attach(
    core: SchedulerCore, txn: Txn, pod: PodSpec, task_info: dict[str, Any], launch: str
) -> dict[str, Any]:
    """The TaskInfo with its fetcher URIs; each file is staged in `txn` under a new token."""
    name = str(task_info["name"])
    kind = scheduler_galera.launch_kind(core, txn, pod, name, launch)
    files = task_files(core, kind, pod, name, txn)
    uris = [common.bundle_uri(core.settings.advertised)] if uses_bundle(pod) else []
    for path, item in sorted(files.items()):
        token = core.new_token()
        record = {
            "task_id": task_info["task_id"]["value"],
            "instance": name,
            "path": path,
            "expires": txn.now + EXPIRY_SECONDS,
            "content": base64.b64encode(item.content).decode("ascii"),
        }
        txn.batch.put_secret(PREFIX + token, json.dumps(record).encode("utf-8"))
        uris.append(common.artifact_uri(core.settings.advertised, token, path))
    command = dict(task_info["command"])
    override = getattr(kind, "launch_command", lambda _pod: None)(pod)
    if override:
        command["value"] = override
    if not uris and not override:
        return task_info
    command["uris"] = list(command.get("uris", [])) + uris
    log.info("%s: %d files for the task (%s)", name, len(files), ", ".join(sorted(files)) or "bundle only")
    return dict(task_info, command=command)


def task_files(
    core: SchedulerCore, kind: Any, pod: PodSpec, name: str, txn: Txn
) -> Mapping[str, common.TaskFile]:
    files = getattr(kind, "task_files", None)
    if files is None:
        return {}
    records = {**core.world.pods, **txn.pods}
    endpoints = {  # without the instances drained or being removed (a Galera peer list forgets them)
        n: r.footprint.to_dict()
        for n, r in records.items()
        if r.footprint and (n == name or not scheduler_scaling.leaving(r))
    }
    instances = {n: r.state for n, r in {**core.world.pods, **txn.pods}.items()}
    return dict(files(pod, name, instances, endpoints, dict(core.secrets)))


def uses_bundle(pod: PodSpec) -> bool:
    """A pod whose command (or readiness check) runs from the bundle gets the bundle fetched."""
    check = pod.readiness_check.command if pod.readiness_check is not None else ""
    return common.BUNDLE_DIR + "/" in f"{pod.command} {check or ''}"


def with_task(operations: list[dict[str, Any]], task_info: dict[str, Any]) -> list[dict[str, Any]]:
    """ACCEPT operations with the LAUNCH entry for `task_info`'s task id replaced by `task_info`."""
    task_id = task_info["task_id"]["value"]
    out = []
    for op in operations:
        if op.get("type") == "LAUNCH":
            infos = [task_info if t["task_id"]["value"] == task_id else t for t in op["launch"]["task_infos"]]
            op = dict(op, launch={"task_infos": infos})
        out.append(op)
    return out


def serve(core: SchedulerCore, token: str, now: float) -> dict[str, Any]:
    """Take an artifact: delete its token (fenced) and answer its content; 404-style answers otherwise."""
    if not common.is_artifact_token(token):
        return {"ok": False, "error": "no such artifact"}
    raw = core.store.secret(PREFIX + token)
    if raw is None:
        log.warning("an unknown or already used artifact was asked for")
        return {"ok": False, "error": "no such artifact"}
    try:
        core.store.commit(Batch().delete_secret(PREFIX + token))
    except StoreError as err:
        log.warning("error deleting a served artifact: %s; not serving it", err)
        return {"ok": False, "error": "artifact unavailable, try again"}
    record = json.loads(raw.decode("utf-8"))
    if float(record.get("expires", 0)) < now:
        log.warning("an expired artifact of %s was asked for (%s)", record.get("instance"), record["path"])
        return {"ok": False, "error": "no such artifact"}
    log.info("served %s of task %s", record.get("path"), record.get("task_id"))
    return {"ok": True, "content": base64.b64decode(record["content"])}


def prune(core: SchedulerCore, now: float) -> None:
    """Delete expired artifact tokens (at load): a task that never fetched leaves nothing usable."""
    stale = []
    for name in core.store.secret_names():
        raw = core.store.secret(name) if name.startswith((PREFIX, scheduler_galera.REPORT)) else None
        if raw is not None and float(json.loads(raw.decode("utf-8")).get("expires", 0)) < now:
            stale.append(name)
    if stale:
        core.store.commit(Batch(op for name in stale for op in Batch().delete_secret(name).ops))
        log.info("deleted %d expired artifact tokens", len(stale))
