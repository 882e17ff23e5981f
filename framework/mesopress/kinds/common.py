"""What every pod kind shares: files handed to tasks, the task bundle, commands and fetcher URIs.

Why this module exists: tasks run as unprivileged users (mysql, www-data) on any agent, where our
virtualenv (under /root) is neither present nor readable. So a task fetches two kinds of things with the
Mesos fetcher: the *bundle* (a tar.gz of the `mesopress` package and pymysql, extracted into
``mesopress-bundle/``) and its own *artifacts* (rendered configuration and secret files, each behind a
single-use token, docs/scheduler.md "Files and secrets for tasks"). Its command then needs only the
system ``python3``. Everything here is pure: values in, values out.
"""

from __future__ import annotations

import secrets as _secrets
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BUNDLE_DIR = "mesopress-bundle"
BUNDLE_NAME = "mesopress.tar.gz"
BUNDLE_PATH = f"/v1/artifacts/bundle/{BUNDLE_NAME}"
ARTIFACTS_PATH = "/v1/artifacts/"
SECRETS_DIR = "secrets"


@dataclass(frozen=True)
class TaskFile:
    """A file put into the task's sandbox; ``secret`` files get mode 0600 from the task's program."""

    content: bytes
    secret: bool = False

    def __repr__(self) -> str:  # never show a secret's content in a log or a test failure
        shown = "<secret>" if self.secret else f"{len(self.content)} bytes"
        return f"TaskFile({shown})"


SecretSpecs = Mapping[str, Callable[[], str]]


def new_password() -> str:
    """A generated password: 32 random bytes, URL-safe (no quoting problems in my.cnf or PHP)."""
    return _secrets.token_urlsafe(32)


def bundle_uri(advertised: str) -> dict[str, Any]:
    """The fetcher URI of the bundle, extracted into ``mesopress-bundle/`` in the sandbox."""
    return {"value": advertised.rstrip("/") + BUNDLE_PATH, "extract": True, "cache": False}


def artifact_uri(advertised: str, token: str, path: str) -> dict[str, Any]:
    """The fetcher URI of one artifact: served once, written to ``path`` (relative to the sandbox)."""
    return {
        "value": f"{advertised.rstrip('/')}{ARTIFACTS_PATH}{token}",
        "output_file": path,
        "extract": False,
    }


def bundle_command(program: str, args: Sequence[str] = ()) -> str:
    """The shell command running ``mesopress.tasks.<program>`` from the bundle with the system python3."""
    words = ["python3", f"{BUNDLE_DIR}/run.py", program, *args]
    return "exec " + " ".join(shlex.quote(w) for w in words)


def secret_path(name: str) -> str:
    """Where a secret file lands in the sandbox."""
    return f"{SECRETS_DIR}/{name}"


def is_artifact_token(token: str) -> bool:
    """Tokens are URL-safe base64 (``secrets.token_urlsafe``); anything else is refused unread."""
    return 20 <= len(token) <= 100 and all(c.isalnum() or c in "-_" for c in token)
