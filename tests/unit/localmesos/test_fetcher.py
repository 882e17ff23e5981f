"""The Mesos fetcher: command.uris land in the sandbox (downloaded, copied, extracted, made executable)
before the command runs, and a failed fetch fails the launch without TASK_STARTING.

Real agents (the fake master and fixtures of test_agent) run real processes; URIs are served by a real
HTTP server on 127.0.0.1. Waiting is on conditions with timeouts.
"""

from __future__ import annotations

import copy
import gzip
import http.server
import io
import logging
import os
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from test_agent import (
    FW,
    FW_INFO,
    FakeMaster,
    agent,
    make_agent,
    make_task,
    master,
    open_work_dir,
)
from test_proto import ACCEPT

from localmesos import executor, fetcher, proto
from localmesos.agent import Agent
from support.waiting import eventually

FIXTURES = (agent, make_agent, master, open_work_dir)  # test_agent's fixtures, used here by name
SECRET = "s3cr3t-token"
SCRIPT = b"#!/bin/sh\necho tool-ran > tool.out\n"


class FileServer:
    """A threaded HTTP server on 127.0.0.1 serving ``root``; ``/slow/...`` waits for ``release``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.release = threading.Event()
        self.slow_started = threading.Event()
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(server.root), **kwargs)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                if self.path.startswith("/slow/"):
                    server.slow_started.set()
                    server.release.wait(30)
                    self.path = self.path[len("/slow") :]
                super().do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path}"

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def make_tar(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> None:
    with tarfile.open(path, mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))


def make_zip(path: Path, files: dict[str, tuple[bytes, int]]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, data)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[FileServer]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "tool.sh").write_bytes(SCRIPT)
    (root / "notes.txt").write_text("notes\n")
    make_tar(root / "bundle.tar.gz", {"conf/app.conf": b"port=1\n"})
    make_zip(root / "bin.zip", {"bin/run": (SCRIPT, 0o755), "README": (b"hi\n", 0o644)})
    with FileServer(root) as server:
        yield server


def sandbox_of(agent: Agent, task_id: str) -> Path:
    return next(agent.work_dir.glob(f"slaves/*/frameworks/{FW}/executors/{task_id}/runs/latest")).resolve()


def uri(value: str, **fields: Any) -> dict[str, Any]:
    return {"value": value, **fields}


# --- through the agent -----------------------------------------------------------------------------


def test_uris_are_fetched_into_the_sandbox_before_the_command_runs(
    agent: Agent, master: FakeMaster, served: FileServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    local = tmp_path / "local.cfg"
    local.write_text("local\n")
    make_tar(tmp_path / "keep.tar", {"inner.txt": b"x"}, mode="w")
    task = make_task("t1", "./tool.sh && ./bin/run && test -f conf/app.conf && test -f README")
    task["command"]["uris"] = [
        uri(served.url("tool.sh"), executable=True),
        uri(served.url("bundle.tar.gz")),
        uri(served.url("bin.zip"), extract=True, cache=False),
        uri(f"file://{local}", output_file="etc/app/local.cfg"),
        uri(str(tmp_path / "keep.tar"), extract=False),
        uri(served.url(f"notes.txt?token={SECRET}"), output_file="notes.txt"),
    ]
    agent.run_task(FW, FW_INFO, task)
    master.wait_state("t1", "TASK_FINISHED")
    assert master.states("t1") == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    sandbox = sandbox_of(agent, "t1")
    assert (sandbox / "tool.out").read_text() == "tool-ran\n"
    assert os.access(sandbox / "tool.sh", os.X_OK)
    assert (sandbox / "bundle.tar.gz").is_file()  # the archive stays next to what it held
    assert (sandbox / "etc/app/local.cfg").read_text() == "local\n"
    assert (sandbox / "keep.tar").is_file() and not (sandbox / "inner.txt").exists()
    assert (sandbox / "notes.txt").read_text() == "notes\n"
    assert "Fetching URI" in (sandbox / "stderr").read_text()
    assert SECRET not in (sandbox / "stderr").read_text()
    assert SECRET not in caplog.text
    assert "notes.txt" in caplog.text


def test_failed_fetch_fails_the_launch_and_the_command_never_runs(
    agent: Agent, master: FakeMaster, served: FileServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    task = make_task("t1", "touch ran")
    task["command"]["uris"] = [uri(served.url("notes.txt")), uri(served.url(f"missing.bin?token={SECRET}"))]
    agent.run_task(FW, FW_INFO, task)
    final = master.wait_state("t1", "TASK_FAILED")
    assert master.states("t1") == ["TASK_FAILED"]
    assert final["source"] == "SOURCE_AGENT"
    assert final["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"
    assert final["message"].startswith("Failed to launch container: Failed to fetch all URIs for container")
    assert served.url("missing.bin") in final["message"]
    assert "received HTTP return code 404" in final["message"]
    assert SECRET not in final["message"] and SECRET not in caplog.text
    sandbox = sandbox_of(agent, "t1")
    assert (sandbox / "notes.txt").is_file()
    assert not (sandbox / "ran").exists()
    eventually(lambda: agent.task_states() == {}, timeout=10)  # terminal and acknowledged: forgotten


@pytest.mark.parametrize(
    ("entry", "cause"),
    [
        (uri("file:///no/such/file"), "no such file"),
        (uri("relative/path.txt"), "relative path"),
        (uri("ftp://127.0.0.1/x.txt"), "unsupported URI scheme 'ftp'"),
        (uri("http://127.0.0.1:1/x.txt"), "Error downloading resource"),
        (uri("file:///etc/hostname", output_file="../escape"), "must be a relative path"),
    ],
)
def test_fetch_failures_name_the_uri_and_cause(
    agent: Agent, master: FakeMaster, entry: dict[str, Any], cause: str
) -> None:
    task = make_task("t1", "true")
    task["command"]["uris"] = [entry]
    agent.run_task(FW, FW_INFO, task)
    final = master.wait_state("t1", "TASK_FAILED")
    assert entry["value"] in final["message"] and cause in final["message"]
    assert master.states("t1") == ["TASK_FAILED"]
    assert not (sandbox_of(agent, "t1").parent / "escape").exists()


def test_kill_during_fetch_reports_killed_without_starting(
    agent: Agent, master: FakeMaster, served: FileServer
) -> None:
    task = make_task("t1", "touch ran")
    task["command"]["uris"] = [uri(served.url("slow/notes.txt"))]
    agent.run_task(FW, FW_INFO, task)
    assert served.slow_started.wait(10)
    agent.kill_task(FW, "t1", None)
    final = master.wait_state("t1", "TASK_KILLED")
    assert final["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH"
    assert final["source"] == "SOURCE_AGENT"
    served.release.set()
    # the fetch result is posted to the agent's queue before the next task's messages: once t2 runs,
    # the late fetch has been handled (and ignored)
    eventually(lambda: not [t for t in threading.enumerate() if t.name.endswith("fetch-t1")], timeout=10)
    agent.run_task(FW, FW_INFO, make_task("t2", "true"))
    master.wait_state("t2", "TASK_FINISHED")
    assert master.states("t1") == ["TASK_KILLED"]
    assert not (sandbox_of(agent, "t1") / "ran").exists()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to switch users")
def test_fetched_files_belong_to_the_task_user(
    master: FakeMaster, make_agent: Callable[..., Agent], open_work_dir: Path, served: FileServer
) -> None:
    agent = make_agent(master, work_dir=open_work_dir / "agent")
    agent.start()
    task = make_task("t1", "test -O notes.txt && test -O conf/app.conf && test -O conf")
    task["command"]["uris"] = [uri(served.url("notes.txt")), uri(served.url("bundle.tar.gz"))]
    agent.run_task(FW, dict(FW_INFO, user="nobody"), task)
    master.wait_state("t1", "TASK_FINISHED")
    nobody = executor.resolve_user("nobody")
    assert nobody is not None
    assert (sandbox_of(agent, "t1") / "bundle.tar.gz").stat().st_uid == nobody.uid


def test_the_master_keeps_uris_and_checks_in_launched_tasks() -> None:
    call = copy.deepcopy(ACCEPT)
    task = call["accept"]["operations"][2]["launch"]["task_infos"][0]
    task["command"]["uris"] = [
        {"value": "http://h/a.tgz", "executable": False, "extract": True, "cache": False, "output_file": "a"}
    ]
    task["check"] = {"type": "HTTP", "http": {"port": 8080, "path": "/ok"}, "delay_seconds": 1.0}
    parsed = proto.parse_call(call)
    got = parsed["accept"]["operations"][2]["launch"]["task_infos"][0]
    assert got["command"]["uris"] == task["command"]["uris"]
    assert got["check"] == task["check"]


# --- fetcher functions -----------------------------------------------------------------------------


def test_redact_drops_query_fragment_and_user_info() -> None:
    assert fetcher.redact(f"https://u:p@h:8/a/b.tgz?sig={SECRET}#x") == "https://h:8/a/b.tgz"
    assert fetcher.redact("/opt/x.tar") == "/opt/x.tar"


def test_basename_is_mesos_basename_query_included() -> None:
    assert fetcher.basename("http://h/dir/file.tgz?x=1") == "file.tgz?x=1"
    assert fetcher.basename("/a/b/c.zip") == "c.zip"
    with pytest.raises(fetcher.FetchError, match="missing path"):
        fetcher.basename("http://host")
    with pytest.raises(fetcher.FetchError, match="Illegal characters"):
        fetcher.basename("http://h/it's")


def test_local_paths() -> None:
    assert fetcher.local_path("file:///a/b") == Path("/a/b")
    assert fetcher.local_path("file://localhost/a/b") == Path("/a/b")
    assert fetcher.local_path("/a/b") == Path("/a/b")
    assert fetcher.local_path("https://h/a") is None
    with pytest.raises(fetcher.FetchError, match="absolute"):
        fetcher.local_path("file://a/b")


def test_zip_keeps_modes_and_bare_gz_is_gunzipped(tmp_path: Path) -> None:
    make_zip(tmp_path / "x.zip", {"bin/run": (SCRIPT, 0o755)})
    (tmp_path / "y.txt.gz").write_bytes(gzip.compress(b"plain\n"))
    out = tmp_path / "out"
    out.mkdir()
    assert fetcher.extract(tmp_path / "x.zip", out)
    assert os.access(out / "bin/run", os.X_OK)
    assert fetcher.extract(tmp_path / "y.txt.gz", out)
    assert (out / "y.txt").read_text() == "plain\n"
    assert not fetcher.extract(tmp_path / "plain.txt", out)


def test_archive_members_cannot_escape(tmp_path: Path) -> None:
    make_tar(tmp_path / "evil.tar", {"../evil.txt": b"x"}, mode="w")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(fetcher.FetchError, match="Failed to extract archive"):
        fetcher.extract(tmp_path / "evil.tar", out)
    assert not (tmp_path / "evil.txt").exists()
