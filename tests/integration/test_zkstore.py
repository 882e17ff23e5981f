"""The ZooKeeper persister against a real ZooKeeper: fencing, atomicity, idempotence, secrets ACL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss

from mesopress.adapters import zkstore
from mesopress.adapters.zkstore import ZkPersister
from mesopress.state.persister import AccessDenied, Delete, Fence, Fenced, Put, StoreError, StoreUnavailable
from mesopress.state.store import Batch, StateStore

ROOT = "/mesopress/test"
CREDENTIALS = ("mesopress", "s3cret")


@pytest.fixture
def clients(zk_hosts_chroot: str) -> Iterator[Callable[..., KazooClient]]:
    """A factory of started kazoo clients on the test's chroot, all stopped afterwards."""
    made: list[KazooClient] = []

    def make(credentials: tuple[str, str] | None = CREDENTIALS) -> KazooClient:
        made.append(zkstore.connect(zk_hosts_chroot, timeout=5.0, credentials=credentials))
        return made[-1]

    yield make
    ZkPersister(make(), ROOT, credentials=CREDENTIALS).destroy()  # secrets need our credentials to go
    for client in made:
        client.stop()
        client.close()


@pytest.fixture
def persister_for(clients: Callable[..., KazooClient]) -> Callable[[], ZkPersister]:
    def make() -> ZkPersister:
        zk = ZkPersister(clients(), ROOT, credentials=CREDENTIALS, timeout=5.0)
        zk.ensure_root()
        return zk

    return make


def contend(zk: ZkPersister) -> str:
    """Create an election node on `zk`'s session, as the election recipe does, and return its path."""
    return str(zk.client.create(f"{zk.election_path}/c__lock__", b"x", ephemeral=True, sequence=True))


def lead(zk: ZkPersister, name: str = "a") -> StateStore:
    store = StateStore(zk)
    store.bind(zk.claim(contend(zk), f'{{"leader":"{name}"}}'.encode()))
    return store


def test_framework_id_is_persisted_and_read_back_by_another_process(
    persister_for: Callable[[], ZkPersister],
) -> None:
    first = persister_for()
    lead(first).set_framework_id("M-0000")
    first.client.stop()
    assert StateStore(persister_for()).framework_id() == "M-0000"


def test_a_deposed_leader_cannot_overwrite_its_successor(persister_for: Callable[[], ZkPersister]) -> None:
    old, new = lead(persister_for(), "old"), lead(persister_for(), "new")
    new.set_framework_id("M-new")
    with pytest.raises(Fenced):
        old.set_framework_id("M-old")
    assert old.framework_id() == "M-new"
    assert old.leader_info() == {"leader": "new"}


def test_a_leader_whose_session_ended_is_fenced_without_successor(
    persister_for: Callable[[], ZkPersister], clients: Callable[..., KazooClient]
) -> None:
    zk = persister_for()
    session = ZkPersister(clients(), ROOT, credentials=CREDENTIALS)
    store = StateStore(zk)
    store.bind(zk.claim(contend(session), b"{}"))
    store.set_framework_id("M-0000")
    session.client.stop()  # the election node is ephemeral: it goes with the session
    with pytest.raises(Fenced):
        store.set_framework_id("M-0001")
    with pytest.raises(Fenced):
        zk.claim(store.fence.holder if store.fence else "", b"{}")


def test_a_fenced_batch_writes_nothing(persister_for: Callable[[], ZkPersister]) -> None:
    old = lead(persister_for(), "old")
    lead(persister_for(), "new")
    with pytest.raises(Fenced):
        old.commit(Batch().put_pod("db-0", {"i": 0}).put_task("db-0", "node", {}).put_framework_id("M"))
    assert old.pods() == {} and old.framework_id() is None


def test_put_delete_and_listing_follow_the_layout(persister_for: Callable[[], ZkPersister]) -> None:
    store = lead(persister_for())
    store.commit(Batch().put_pod("db-0", {"i": 0}).put_task("db-0", "node", {"s": "RUNNING"}))
    store.commit(Batch().put_task("db-1", "node", {}).delete_pod("db-0").put_task("db-0", "init", {}))
    assert store.tasks("db-0") == {"init": {}} and store.pod("db-0") is None
    assert store.persister.children("pods") == ["db-0", "db-1"]
    store.erase()
    assert store.persister.children("") == ["leader", "uninstalled"]
    store.set_framework_id("M-after-erase")  # the fence survives an erase


def test_a_write_whose_reply_was_lost_is_retried_idempotently(
    persister_for: Callable[[], ZkPersister], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = lead(persister_for())
    zk = store.persister
    assert isinstance(zk, ZkPersister)
    real_check = zk._check_results
    commits: list[list[Any]] = []

    def lose_first_reply(results: list[Any], fence: Fence) -> None:
        commits.append(results)
        if len(commits) % 2 == 1:
            raise ConnectionLoss("reply lost after the commit")
        real_check(results, fence)

    monkeypatch.setattr(zk, "_check_results", lose_first_reply)
    store.commit(Batch().put_pod("db-0", {"i": 0}).put_reservation("r-1", {"persistence_ids": ["p"]}))
    assert len(commits) == 2
    assert store.pod("db-0") == {"i": 0} and store.persistence_ids() == {"p"}
    store.commit(Batch().delete_pod("db-0"))
    assert len(commits) == 4 and store.pods() == {}


def test_a_concurrent_create_is_replanned_not_failed(
    persister_for: Callable[[], ZkPersister], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = lead(persister_for())
    zk = store.persister
    assert isinstance(zk, ZkPersister)
    other = persister_for().client
    real_plan = zkstore._Planner.plan

    def plan_then_race(planner: Any, ops: list[Put | Delete]) -> list[tuple[Any, ...]]:
        steps = real_plan(planner, ops)
        if not other.exists(f"{ROOT}/plans/deploy"):
            other.create(f"{ROOT}/plans/deploy", b"{}", makepath=True)  # lands between plan and commit
        return steps

    monkeypatch.setattr(zkstore._Planner, "plan", plan_then_race)
    store.commit(Batch().put_plan_status("deploy", {"phase": 1}))
    assert store.plan_status("deploy") == {"phase": 1}


def test_secrets_are_readable_only_with_the_scheduler_credentials(
    persister_for: Callable[[], ZkPersister], clients: Callable[..., KazooClient]
) -> None:
    store = lead(persister_for())
    store.commit(Batch().put_secret("db-root", b"pw"))
    assert store.secret("db-root") == b"pw"
    stranger = StateStore(ZkPersister(clients(credentials=None), ROOT))
    with pytest.raises(AccessDenied):
        stranger.secret("db-root")
    with pytest.raises(AccessDenied):
        stranger.secret_names()
    acls, _stat = persister_for().client.get_acls(f"{ROOT}/secrets")
    assert [(acl.id.scheme, acl.id.id.split(":")[0]) for acl in acls] == [("digest", "mesopress")]
    store.erase()
    assert store.secret_names() == []


def test_an_oversized_value_is_refused_before_sending(persister_for: Callable[[], ZkPersister]) -> None:
    store = lead(persister_for())
    with pytest.raises(StoreError, match="exceed"):
        store.commit(Batch().put_secret("big", b"x" * (zkstore.MAX_NODE_BYTES + 1)))


def test_an_unreachable_server_is_store_unavailable(tmp_path: Any) -> None:
    from localmesos.zkserver import ZooKeeperServer

    with ZooKeeperServer(tmp_path) as server:
        client = zkstore.connect(server.hosts, timeout=2.0)
        zk = ZkPersister(client, ROOT, timeout=1.0)
        zk.ensure_root()
        server.stop()
        try:
            with pytest.raises(StoreUnavailable):
                zk.get("framework-id")
        finally:
            client.stop()
            client.close()
