"""The scheduler's durable state: what survives a crash or a failover, and where it lives.

Why it exists: the scheduler records what it intends (a task, its reservation labels, its persistence ids)
*before* it sends an ACCEPT, and a new leader must find everything its predecessor knew. This module names
every piece of that state and its path; values are plain JSON from the model layer, a trade of typed
records for a store that other modules evolve without migrations here. Writes go through one fenced,
atomic `commit()`; changes that must land together (record-before-send) share one `Batch`.

The tree under the service root (ZooKeeper: /mesopress/<service>, see docs/zookeeper-layout.md):

    <root>
    |-- schema                      "1": layout version, refused if newer than this code
    |-- framework-id                "<masterId>-0000", written on the first SUBSCRIBED, before any use
    |-- identity                    {role, principal} the reservations are made with (first load)
    |-- config
    |   |-- target                  version id the plans deploy towards
    |   |-- deployed                version id last deployed completely
    |   `-- versions/<version-id>   JSON service config
    |-- pods/<pod-instance>         JSON pod instance record
    |   `-- tasks/<task-name>       JSON task record (intended TaskInfo, goal, last status)
    |-- reservations/<reservation-id>  JSON intent: agent, role, labels, resources, persistence ids
    |-- plans/<plan-name>           JSON plan status (phases, steps, errors)
    |-- recovery/<namespace>/<key>  JSON, resumable flows (e.g. recovery/galera/<cluster>)
    |-- secrets/<name>              raw bytes; ZooKeeper ACL: the scheduler's digest credentials only
    `-- leader                      owned by the persister, never deleted by erase()
        |-- epoch                   JSON leader info; its version is the fencing epoch
        `-- election/<uuid>__lock__<seq>  ephemeral sequential contender nodes, data = "host:port"
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from mesopress.state.persister import Delete, Fence, Fenced, NotFound, Op, Persister, Put, StoreError, join

SCHEMA_VERSION = 1
SECRETS = "secrets"
LEADER = "leader"
UNINSTALLED = "uninstalled"
JsonDict = dict[str, Any]


def encode(value: Any) -> bytes:
    """Encode plain data as compact, key-sorted UTF-8 JSON (stable bytes for equal values)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")


def decode(path: str, data: bytes) -> Any:
    """Decode JSON stored at `path`; empty data means no record (None)."""
    if not data:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError as err:
        raise StoreError(f"error decoding {path!r}: {err}") from err


class Batch:
    """Changes that must be written together, atomically; every method returns the batch."""

    def __init__(self, ops: Iterable[Op] = ()) -> None:
        self.ops: list[Op] = list(ops)

    def put(self, path: str, value: Any) -> Batch:
        self.ops.append(Put(path, encode(value)))
        return self

    def delete(self, path: str) -> Batch:
        self.ops.append(Delete(path))
        return self

    def put_framework_id(self, framework_id: str) -> Batch:
        return self.put("framework-id", framework_id)

    def put_config(self, version: str, config: JsonDict) -> Batch:
        return self.put(join("config", "versions", version), config)

    def put_target_config(self, version: str) -> Batch:
        return self.put(join("config", "target"), version)

    def put_deployed_config(self, version: str) -> Batch:
        return self.put(join("config", "deployed"), version)

    def put_pod(self, pod: str, record: JsonDict) -> Batch:
        return self.put(join("pods", pod), record)

    def delete_pod(self, pod: str) -> Batch:
        return self.delete(join("pods", pod))

    def put_task(self, pod: str, task: str, record: JsonDict) -> Batch:
        return self.put(join("pods", pod, "tasks", task), record)

    def delete_task(self, pod: str, task: str) -> Batch:
        return self.delete(join("pods", pod, "tasks", task))

    def put_reservation(self, reservation_id: str, record: JsonDict) -> Batch:
        return self.put(join("reservations", reservation_id), record)

    def delete_reservation(self, reservation_id: str) -> Batch:
        return self.delete(join("reservations", reservation_id))

    def put_plan_status(self, plan: str, status: JsonDict) -> Batch:
        return self.put(join("plans", plan), status)

    def put_recovery(self, namespace: str, key: str, value: Any) -> Batch:
        return self.put(join("recovery", namespace, key), value)

    def delete_recovery(self, namespace: str, key: str | None = None) -> Batch:
        return self.delete(join("recovery", namespace, key) if key else join("recovery", namespace))

    def put_secret(self, name: str, value: bytes) -> Batch:
        self.ops.append(Put(join(SECRETS, name), value))
        return self

    def delete_secret(self, name: str) -> Batch:
        return self.delete(join(SECRETS, name))


class StateStore:
    """Reads anywhere, writes only with a bound fence (i.e. while leading)."""

    def __init__(self, persister: Persister) -> None:
        self.persister = persister
        self.fence: Fence | None = None

    def bind(self, fence: Fence | None) -> None:
        """Use `fence` for every write (on_elected); None refuses writes locally (on_deposed)."""
        self.fence = fence

    def unbind(self) -> None:
        self.fence = None

    def commit(self, batch: Batch) -> None:
        """Write the batch atomically. Fenced: nothing written; StoreUnavailable: unknown, send nothing."""
        if self.fence is None:
            raise Fenced("error writing state: this scheduler is not the leader")
        if batch.ops:
            self.persister.apply(batch.ops, self.fence)

    def initialize(self) -> None:
        """Record the layout version, refusing a store written by a newer scheduler."""
        stored = self._read("schema")
        if stored is not None and (not isinstance(stored, int) or stored > SCHEMA_VERSION):
            raise StoreError(f"error opening state: schema {stored} is newer than {SCHEMA_VERSION}")
        if stored != SCHEMA_VERSION:
            self.commit(Batch().put("schema", SCHEMA_VERSION))

    def framework_id(self) -> str | None:
        return self._read_str("framework-id")

    def identity(self) -> JsonDict | None:
        """The role and principal the service's reservations were made with (written at first load)."""
        return self._read_dict("identity")

    def set_identity(self, role: str, principal: str) -> None:
        self.commit(Batch().put("identity", {"role": role, "principal": principal}))

    def set_framework_id(self, framework_id: str) -> None:
        self.commit(Batch().put_framework_id(framework_id))

    def clear_framework_id(self) -> None:
        self.commit(Batch().delete("framework-id"))

    def config(self, version: str) -> JsonDict | None:
        return self._read_dict(join("config", "versions", version))

    def config_versions(self) -> list[str]:
        return self._children(join("config", "versions"))

    def target_config(self) -> str | None:
        return self._read_str(join("config", "target"))

    def deployed_config(self) -> str | None:
        return self._read_str(join("config", "deployed"))

    def prune_configs(self, keep: Iterable[str]) -> None:
        """Delete stored config versions not in `keep` (target and deployed are always kept)."""
        kept = set(keep) | {self.target_config(), self.deployed_config()}
        stale = [v for v in self.config_versions() if v not in kept]
        self.commit(Batch(Delete(join("config", "versions", v)) for v in stale))

    def pods(self) -> dict[str, JsonDict]:
        return {pod: self.pod(pod) or {} for pod in self._children("pods")}

    def pod(self, pod: str) -> JsonDict | None:
        return self._read_dict(join("pods", pod))

    def tasks(self, pod: str) -> dict[str, JsonDict]:
        return self._records(join("pods", pod, "tasks"))

    def task(self, pod: str, task: str) -> JsonDict | None:
        return self._read_dict(join("pods", pod, "tasks", task))

    def reservations(self) -> dict[str, JsonDict]:
        return self._records("reservations")

    def reservation(self, reservation_id: str) -> JsonDict | None:
        return self._read_dict(join("reservations", reservation_id))

    def persistence_ids(self) -> set[str]:
        """Every persistence id some stored reservation owns (for garbage collection)."""
        return {pid for record in self.reservations().values() for pid in record.get("persistence_ids", [])}

    def plan_statuses(self) -> dict[str, JsonDict]:
        return self._records("plans")

    def plan_status(self, plan: str) -> JsonDict | None:
        return self._read_dict(join("plans", plan))

    def recovery_entries(self, namespace: str) -> dict[str, Any]:
        return self._records(join("recovery", namespace))

    def recovery(self, namespace: str, key: str) -> Any:
        return self._read(join("recovery", namespace, key))

    def secret_names(self) -> list[str]:
        return self._children(SECRETS)

    def secret(self, name: str) -> bytes | None:
        try:
            return self.persister.get(join(SECRETS, name))
        except NotFound:
            return None

    def leader_info(self) -> JsonDict | None:
        """What the current (or last) leader recorded when it claimed: identity, time, epoch holder."""
        data = self.persister.leader_info()
        value = decode(LEADER, data) if data else None
        return value if isinstance(value, dict) else None

    def erase(self) -> None:
        """Delete all state except the leader subtree (uninstall); fenced like every write.

        Leaves an `uninstalled` marker in the same batch, so that a standby scheduler that becomes leader
        afterwards stays idle instead of deploying the service again from an empty store.
        """
        batch = Batch(Delete(name) for name in self._children("") if name not in (LEADER, UNINSTALLED))
        self.commit(batch.put(UNINSTALLED, True))

    def uninstalled(self) -> bool:
        """True once an uninstall finished (see erase); delete the service's root to install it again."""
        return self._read(UNINSTALLED) is True

    def _read(self, path: str) -> Any:
        try:
            return decode(path, self.persister.get(path))
        except NotFound:
            return None

    def _read_str(self, path: str) -> str | None:
        return None if (value := self._read(path)) is None else str(value)

    def _read_dict(self, path: str) -> JsonDict | None:
        if (value := self._read(path)) is not None and not isinstance(value, dict):
            raise StoreError(f"error decoding {path!r}: expected a JSON object")
        return value

    def _children(self, path: str) -> list[str]:
        try:
            return self.persister.children(path)
        except NotFound:
            return []

    def _records(self, path: str) -> dict[str, Any]:
        records = {name: self._read(f"{path}/{join(name)}") for name in self._children(path)}
        return {name: record for name, record in records.items() if record is not None}
