"""The task bundle: a tar.gz of the `mesopress` package and pymysql that tasks fetch and run with python3.

Why it exists: tasks run as unprivileged users (mysql, www-data) on agents where the scheduler's
virtualenv is absent or unreadable; the system python3 plus this bundle is all a task program needs
(`mesopress.tasks.*` use only the standard library and pymysql, which is pure Python). The archive is
built once per process from the installed packages (no byte-compiled files) and cached; it unpacks into
``mesopress-bundle/`` with a ``run.py`` launcher: ``python3 mesopress-bundle/run.py galera_node run ...``.
"""

from __future__ import annotations

import importlib
import io
import tarfile
import threading
import time
from pathlib import Path

from mesopress.kinds.common import BUNDLE_DIR

PACKAGES = ("mesopress", "pymysql")
RUN_PY = b'''"""Run mesopress.tasks.<program> from this bundle with the system python3."""
import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if len(sys.argv) < 2:
    sys.exit("usage: run.py PROGRAM [ARGS...]")
program = sys.argv.pop(1)
sys.argv[0] = program
runpy.run_module("mesopress.tasks." + program, run_name="__main__", alter_sys=True)
'''
_lock = threading.Lock()
_cached: bytes | None = None


def bundle() -> bytes:
    """The bundle's bytes, built on first use."""
    global _cached
    with _lock:
        if _cached is None:
            _cached = build()
        return _cached


def build() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        _add_bytes(tar, f"{BUNDLE_DIR}/run.py", RUN_PY)
        for name in PACKAGES:
            root = Path(importlib.import_module(name).__file__ or "").parent
            for path in sorted(root.rglob("*.py")):
                if "__pycache__" not in path.parts:
                    arcname = f"{BUNDLE_DIR}/{name}/{path.relative_to(root).as_posix()}"
                    _add_bytes(tar, arcname, path.read_bytes())
    return buffer.getvalue()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(data))
