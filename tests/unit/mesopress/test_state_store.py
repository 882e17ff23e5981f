"""The state store on the in-memory persister: layout, round trips, fencing, atomicity, idempotence."""

from __future__ import annotations

import pytest

from mesopress.state import persister
from mesopress.state.memory import MemoryPersister
from mesopress.state.persister import Delete, Fenced, NotFound, Put, StoreError, StoreUnavailable
from mesopress.state.store import Batch, StateStore


@pytest.fixture
def memory() -> MemoryPersister:
    return MemoryPersister()


@pytest.fixture
def store(memory: MemoryPersister) -> StateStore:
    state = StateStore(memory)
    state.bind(memory.claim("node-a", b'{"leader":"a:1"}'))
    return state


def test_framework_id_round_trip_and_survives_a_new_store(store: StateStore, memory: MemoryPersister) -> None:
    assert store.framework_id() is None
    store.set_framework_id("M-0000")
    assert StateStore(memory).framework_id() == "M-0000"
    store.clear_framework_id()
    assert store.framework_id() is None


def test_config_versions_target_and_deployed(store: StateStore) -> None:
    store.commit(Batch().put_config("v1", {"pods": 3}).put_config("v2", {"pods": 5}).put_target_config("v2"))
    store.commit(Batch().put_deployed_config("v1").put_config("v0", {"pods": 1}))
    assert store.config_versions() == ["v0", "v1", "v2"]
    assert (store.target_config(), store.deployed_config()) == ("v2", "v1")
    assert store.config("v2") == {"pods": 5}
    store.prune_configs(keep=[])
    assert store.config_versions() == ["v1", "v2"]


def test_pods_and_tasks_are_plain_json(store: StateStore) -> None:
    store.commit(Batch().put_pod("db-0", {"index": 0}).put_task("db-0", "node", {"state": "STAGING"}))
    store.commit(Batch().put_task("db-0", "init", {"state": "FINISHED"}))
    assert store.pods() == {"db-0": {"index": 0}}
    assert store.tasks("db-0") == {"init": {"state": "FINISHED"}, "node": {"state": "STAGING"}}
    store.commit(Batch().delete_task("db-0", "init"))
    assert store.task("db-0", "init") is None
    store.commit(Batch().delete_pod("db-0"))
    assert store.pods() == {} and store.tasks("db-0") == {}


def test_record_before_send_writes_task_and_reservation_together(store: StateStore) -> None:
    intent = (
        Batch()
        .put_task("db-0", "node", {"task_id": "db-0-node__1", "goal": "RUNNING"})
        .put_reservation("r-1", {"agent_id": "S1", "labels": {"pod": "db-0"}, "persistence_ids": ["p-1"]})
    )
    store.commit(intent)
    assert store.reservation("r-1")["agent_id"] == "S1"
    assert store.persistence_ids() == {"p-1"}


def test_a_fenced_batch_writes_nothing(store: StateStore, memory: MemoryPersister) -> None:
    before = memory.dump()
    memory.claim("node-b", b"{}")
    with pytest.raises(Fenced):
        store.commit(Batch().put_pod("db-0", {}).put_framework_id("M-0000"))
    assert memory.dump() == before


def test_a_revoked_holder_is_fenced_even_without_successor(
    store: StateStore, memory: MemoryPersister
) -> None:
    memory.revoke("node-a")
    with pytest.raises(Fenced):
        store.set_framework_id("M-0000")
    with pytest.raises(Fenced):
        memory.claim("node-a", b"{}")  # a holder whose session ended never comes back


def test_writes_without_a_bound_fence_are_refused(store: StateStore) -> None:
    store.unbind()
    with pytest.raises(Fenced, match="not the leader"):
        store.set_framework_id("M-0000")


def test_writes_are_idempotent_under_retry(store: StateStore, memory: MemoryPersister) -> None:
    batch = Batch().put_pod("db-0", {"index": 0}).delete_pod("gone").put_plan_status("deploy", {"s": "OK"})
    store.commit(batch)
    once = memory.dump()
    store.commit(batch)
    assert memory.dump() == once


def test_an_outage_raises_store_unavailable_and_a_retry_succeeds(
    store: StateStore, memory: MemoryPersister
) -> None:
    memory.fail_next()
    with pytest.raises(StoreUnavailable):
        store.set_framework_id("M-0000")
    store.set_framework_id("M-0000")
    assert store.framework_id() == "M-0000"


def test_recovery_namespace_and_plans(store: StateStore) -> None:
    store.commit(
        Batch().put_recovery("galera", "db", {"stage": "collect"}).put_plan_status("deploy", {"s": 1})
    )
    assert store.recovery("galera", "db") == {"stage": "collect"}
    assert store.recovery_entries("galera") == {"db": {"stage": "collect"}}
    assert store.plan_statuses() == {"deploy": {"s": 1}}
    store.commit(Batch().delete_recovery("galera"))
    assert store.recovery_entries("galera") == {}


def test_secrets_are_raw_bytes_in_their_own_subtree(store: StateStore, memory: MemoryPersister) -> None:
    store.commit(Batch().put_secret("db-root", b"\x00s3cret"))
    assert store.secret("db-root") == b"\x00s3cret"
    assert store.secret_names() == ["db-root"]
    assert "secrets/db-root" in memory.dump()


def test_erase_deletes_everything_but_the_leader_subtree_and_marks_uninstalled(
    store: StateStore, memory: MemoryPersister
) -> None:
    store.initialize()
    store.commit(Batch().put_pod("db-0", {}).put_secret("x", b"1").put("leader/note", "kept"))
    store.erase()
    assert memory.children("") == ["leader", "uninstalled"]
    assert store.leader_info() == {"leader": "a:1"}


def test_initialize_refuses_a_newer_schema(store: StateStore) -> None:
    store.commit(Batch().put("schema", 99))
    with pytest.raises(StoreError, match="newer"):
        store.initialize()


@pytest.mark.parametrize("path", ["", "a//b", "a/../b", "./a", "a/\n"], ids=repr)
def test_bad_paths_are_refused(memory: MemoryPersister, path: str) -> None:
    fence = memory.claim("h", b"")
    with pytest.raises(ValueError):
        memory.apply([Put(path, b"x")], fence)


def test_memory_persister_lists_and_deletes_subtrees(memory: MemoryPersister) -> None:
    fence = memory.claim("h", b"")
    memory.apply([Put("a/b/c", b"1"), Put("a/d", b"2")], fence)
    assert memory.children("a") == ["b", "d"] and memory.get("a/b") == b""
    memory.apply([Delete("a/b")], fence)
    assert memory.children("a") == ["d"]
    with pytest.raises(NotFound):
        memory.get("a/b/c")


def test_join_refuses_separators_in_names() -> None:
    with pytest.raises(ValueError):
        persister.join("pods", "a/b")


def test_erase_leaves_an_uninstalled_marker_and_nothing_else() -> None:
    persister = MemoryPersister()
    store = StateStore(persister)
    store.bind(persister.claim("h1", b"{}"))
    store.initialize()
    store.set_framework_id("fw-1")
    assert not store.uninstalled()
    store.erase()
    assert store.uninstalled()
    assert store.framework_id() is None
    store.erase()  # idempotent: erasing twice keeps the marker
    assert store.uninstalled()
