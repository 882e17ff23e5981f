"""Atomic JSON checkpoints for localmesos agents.

Why this module exists: a Mesos agent checkpoints its id, its resources (reservations and volumes) and
its tasks with their unacknowledged status updates so that they survive an agent restart. A checkpoint
that is half written after a crash is worse than none, so every write goes to a temporary file in the same
directory, is fsynced, renamed over the target and the directory is fsynced: a reader sees either the old
or the new content, never a mix. The trade-off is two fsyncs per write, acceptable for the few writes an
agent makes per task.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as JSON to ``path`` atomically (parent directories are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(value, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def read_json(path: Path, default: Any = None) -> Any:
    """The JSON value stored at ``path``, or ``default`` when the file does not exist.

    A file that exists but does not parse raises ValueError naming the file (atomic writes make that a
    sign of outside tampering, not of a crash)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return default
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValueError(f"error reading checkpoint {path}: {exc}") from exc


def remove(path: Path) -> None:
    """Delete the checkpoint at ``path`` (missing is fine) and make the deletion durable."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
