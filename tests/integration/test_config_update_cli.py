"""`mesopress update` and `mesopress config` against a real ApiServer whose view runs a real core.

The view stands in for the runner: its `submit` hands the command to a `SchedulerCore` over an
in-memory store (one lock: one event at a time) and publishes the core's snapshot, as the runner does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localmesos.zkserver import free_port
from mesopress import effects as fx
from mesopress import events as ev
from mesopress.http.server import ApiServer
from mesopress.model import config
from mesopress.scheduler import SchedulerCore
from mesopress.settings import Settings
from mesopress.state.memory import MemoryPersister
from mesopress.state.store import StateStore

REPO = Path(__file__).resolve().parents[2]
FILE = """
name: site
pods:
  - name: db
    count: {count}
    cpus: 0.1
    mem: 32
    command: run-db
    env: {{DB_PASSWORD: hunter2}}
    volumes: [{{container_path: data, size: {size}}}]
"""


class CoreView:
    def __init__(self, leader: bool = True) -> None:
        persister = MemoryPersister()
        self.store = StateStore(persister)
        self.store.bind(persister.claim("h1", b"{}"))
        self.store.initialize()
        loaded = config.load(FILE.format(count=2, size=100), {}, {})
        self.core = SchedulerCore(Settings(), loaded.service, self.store, doc=loaded.doc)
        self.core.load()
        self.lock = threading.Lock()
        self.is_leader = leader
        self.snapshot = self.core.snapshot()

    def status(self) -> dict[str, Any]:
        return {"role": "leader" if self.is_leader else "standby", "leader": "127.0.0.1:1"}

    def submit(self, kind: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
        answers: list[Any] = []
        with self.lock:
            for effect in self.core.handle(ev.Command(kind, args, answers.append)):
                if isinstance(effect, fx.Reply):
                    effect.reply(effect.value)
            self.snapshot = self.core.snapshot()
        return answers[0]

    def config(self) -> dict[str, Any]:
        return dict(self.snapshot["config"])


@pytest.fixture
def server() -> Iterator[tuple[CoreView, str]]:
    view = CoreView()
    api = ApiServer(view, free_port(), host="127.0.0.1").start()
    yield view, f"http://127.0.0.1:{api.port}"
    api.stop()


def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mesopress", *args],
        capture_output=True, text=True, timeout=60, cwd=REPO, input=stdin, env=dict(os.environ),
    )  # fmt: skip


def deploy_steps(view: CoreView) -> list[str]:
    plan = view.snapshot["plans"]["deploy"]
    return [s["target"] for ph in plan["phases"] for s in ph["steps"]]


def test_update_raises_a_count_and_a_volume_change_is_refused_with_nothing_changed(
    server: tuple[CoreView, str], tmp_path: Path
) -> None:
    view, url = server
    assert deploy_steps(view) == ["db-0", "db-1"]
    grown = tmp_path / "grown.yaml"
    grown.write_text(FILE.format(count=3, size=100))
    done = cli("update", str(grown), "--url", url)
    assert done.returncode == 0, done.stderr
    version = view.store.target_config()
    assert done.stdout.strip() == f"configuration {version}"
    assert deploy_steps(view) == ["db-0", "db-1", "db-2"]

    before = (view.store.target_config(), view.core.service, deploy_steps(view))
    refused = cli("update", "-", "--url", url, stdin=FILE.format(count=3, size=200))
    assert refused.returncode == 2
    assert "pods[db].volumes[data].size: growing a volume (100 to 200 MiB) is not supported" in refused.stderr
    assert (view.store.target_config(), view.core.service, deploy_steps(view)) == before

    invalid = cli("update", "-", "--url", url, stdin=FILE.format(count=0, size=100))
    assert invalid.returncode == 2 and "pods[0].count: must be an integer from 1 to 100" in invalid.stderr
    missing = cli("update", str(tmp_path / "absent.yaml"), "--url", url)
    assert missing.returncode == 2 and "error reading" in missing.stderr

    shown = cli("config", "--url", url)
    assert shown.returncode == 0, shown.stderr
    current = json.loads(shown.stdout)
    assert current["version"] == version and current["target"]["pods"][0]["count"] == 3
    assert "hunter2" not in shown.stdout  # the env pair's value is hidden


def test_a_standby_redirects_the_update_to_the_leader_and_a_huge_body_is_413(
    server: tuple[CoreView, str], tmp_path: Path
) -> None:
    view, url = server
    standby = CoreView(leader=False)
    standby.status = lambda: {"role": "standby", "leader": url.removeprefix("http://")}  # type: ignore[method-assign]
    api = ApiServer(standby, free_port(), host="127.0.0.1").start()
    try:
        grown = FILE.format(count=3, size=100)
        done = cli("update", "-", "--url", f"http://127.0.0.1:{api.port}", stdin=grown)
    finally:
        api.stop()
    assert done.returncode == 0, done.stderr
    assert view.core.service.pods[0].count == 3 and standby.core.service.pods[0].count == 2
    big = tmp_path / "big.yaml"
    big.write_text(FILE.format(count=2, size=100) + "#" * (2 * 1024 * 1024))
    too_big = cli("update", str(big), "--url", url)
    assert too_big.returncode in (1, 2)  # 413 (exit 2), or the connection closed while sending (1)
    assert "413" in too_big.stderr or "error reaching" in too_big.stderr
    assert view.core.service.pods[0].count == 3
