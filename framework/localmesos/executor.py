"""What a Mesos agent and its command executor do to start one command task on this host.

Why this module exists: localmesos runs command tasks as real processes so that mesopress meets the same
files, users and signals it will meet under Mesos 1.11. This module holds the host-side mechanics, kept
apart from the agent's bookkeeping: the sandbox layout with its ``latest`` symlinks (facts §3.7), the task
user, the ``MESOS_*`` environment, spawning in a fresh session (so a whole task can be signalled as a
process group) and the command executor's wording of exit statuses (persistent volume directories are
``volumes.py``). There is no isolation: no cgroups, no mount namespaces.
"""

from __future__ import annotations

import errno
import logging
import os
import pwd
import shutil
import signal
import subprocess
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Json = dict[str, Any]


class LaunchError(Exception):
    """The agent could not prepare the task's container; the message is the one Mesos reports."""


@dataclass(frozen=True)
class User:
    """A resolved host user; ``switch`` is False when it is the agent's own user."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    switch: bool



@dataclass
class Launch:
    """Everything needed to start the task process (and its command health checks)."""

    argv: list[str]
    executable: str | None
    cwd: Path
    env: dict[str, str]
    user: User | None
    extra: dict[str, Any] = field(default_factory=dict)


# --- users ---------------------------------------------------------------------------------------


def task_user(task: Json, framework_info: Json) -> str | None:
    """The user Mesos runs the task as: ``command.user``, else ``framework_info.user`` (None = agent's)."""
    name = (task.get("command") or {}).get("user") or framework_info.get("user")
    return name or None


def resolve_user(name: str | None) -> User | None:
    """Look ``name`` up in the host's user database; raises KeyError for an unknown user."""
    if name is None:
        return None
    entry = pwd.getpwnam(name)
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    switch = entry.pw_uid != os.getuid()
    return User(entry.pw_name, entry.pw_uid, entry.pw_gid, groups, switch)


# --- sandbox -------------------------------------------------------------------------------------


def agent_dir(work_dir: Path, agent_id: str) -> Path:
    """``<work_dir>/slaves/<agentId>``, creating it and pointing ``slaves/latest`` at it."""
    path = work_dir / "slaves" / agent_id
    path.mkdir(parents=True, exist_ok=True)
    _relink(work_dir / "slaves" / "latest", path)
    return path


def sandbox_path(
    work_dir: Path, agent_id: str, framework_id: str, executor_id: str, container_id: str
) -> Path:
    """``<work_dir>/slaves/<a>/frameworks/<f>/executors/<e>/runs/<c>`` (facts §3.7)."""
    return _runs_dir(work_dir, agent_id, framework_id, executor_id) / container_id


def create_sandbox(
    work_dir: Path,
    agent_id: str,
    framework_id: str,
    executor_id: str,
    container_id: str,
    user_name: str | None,
) -> tuple[Path, User | None]:
    """Create the run directory owned by the task user and point ``runs/latest`` at it.

    Raises LaunchError with Mesos' message when the user does not exist or the directory cannot be
    created or given to the user (the directory is then removed)."""
    path = sandbox_path(work_dir, agent_id, framework_id, executor_id, container_id)
    try:
        path.mkdir(parents=True, exist_ok=True)
        user = _chown_sandbox(path, user_name)
        path.chmod(0o750)
        _relink(path.parent / "latest", path)
        agent_dir(work_dir, agent_id)
    except (LaunchError, OSError) as exc:
        shutil.rmtree(path, ignore_errors=True)
        raise LaunchError(f"Failed to create executor directory '{path}': {exc}") from None
    return path, user


def _chown_sandbox(path: Path, user_name: str | None) -> User | None:
    try:
        user = resolve_user(user_name)
    except KeyError:
        raise LaunchError(f"Failed to chown directory to '{user_name}': No such user '{user_name}'") from None
    if user is not None and user.switch:
        try:
            os.chown(path, user.uid, user.gid)
        except OSError as exc:
            raise LaunchError(f"Failed to chown directory to '{user_name}': {exc.strerror}") from None
    return user


def _runs_dir(work_dir: Path, agent_id: str, framework_id: str, executor_id: str) -> Path:
    return work_dir / "slaves" / agent_id / "frameworks" / framework_id / "executors" / executor_id / "runs"


def _relink(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp")
    with suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


# --- command and environment ---------------------------------------------------------------------


def command_argv(command: Json) -> tuple[list[str], str | None]:
    """(argv, executable) for a CommandInfo: ``/bin/sh -c value`` when shell (the default), else
    ``value`` executed with ``arguments`` as argv (argv[0] included, as Mesos' execvp does)."""
    value = command.get("value", "")
    if command.get("shell", True):
        return ["/bin/sh", "-c", value], None
    arguments = [str(a) for a in command.get("arguments") or []]
    return arguments or [value], value


def command_env(command: Json) -> dict[str, str]:
    """The VALUE variables of ``command.environment`` (secrets are not supported)."""
    env: dict[str, str] = {}
    for variable in (command.get("environment") or {}).get("variables") or []:
        if variable.get("type", "VALUE") == "VALUE" and "name" in variable:
            env[str(variable["name"])] = str(variable.get("value", ""))
    return env


def task_env(
    sandbox: Path,
    agent_id: str,
    framework_id: str,
    executor_id: str,
    task_id: str,
    endpoint: str,
    command: Json,
) -> dict[str, str]:
    """The agent's environment plus the ``MESOS_*`` variables plus the command's own variables."""
    env = dict(os.environ)
    env.update(
        {
            "MESOS_SANDBOX": str(sandbox),
            "MESOS_DIRECTORY": str(sandbox),
            "MESOS_FRAMEWORK_ID": framework_id,
            "MESOS_EXECUTOR_ID": executor_id,
            "MESOS_TASK_ID": task_id,
            "MESOS_SLAVE_ID": agent_id,
            "MESOS_AGENT_ENDPOINT": endpoint,
        }
    )
    env.update(command_env(command))
    return env


# --- processes -----------------------------------------------------------------------------------


def spawn(launch: Launch, stdout: Path | None = None, stderr: Path | None = None) -> subprocess.Popen[bytes]:
    """Start ``launch`` in a new session (its pid is its process group id) as the task user.

    Output goes to the given files (created and owned by the task user), else to /dev/null. Raises
    OSError or subprocess.SubprocessError when the process cannot be started."""
    out = _open_output(stdout, launch.user)
    err = _open_output(stderr, launch.user)
    try:
        return subprocess.Popen(  # noqa: S603 - running the framework's command is the point
            launch.argv,
            executable=launch.executable,
            cwd=launch.cwd,
            env=launch.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            close_fds=True,
            **_user_kwargs(launch.user),
        )
    finally:
        for handle in (out, err):
            if handle is not subprocess.DEVNULL:
                os.close(handle)


def _open_output(path: Path | None, user: User | None) -> int:
    if path is None:
        return subprocess.DEVNULL
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    if user is not None:
        os.fchown(fd, user.uid, user.gid)
    return fd


def _user_kwargs(user: User | None) -> dict[str, Any]:
    if user is None or not user.switch:
        return {}
    return {"user": user.uid, "group": user.gid, "extra_groups": list(user.groups)}


def signal_group(pgid: int | None, sig: int) -> None:
    """Send ``sig`` to the process group ``pgid``; a group that is already gone is fine."""
    if not pgid or pgid <= 1:
        return
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as exc:  # pragma: no cover - we run as root or as the task's own user
        if exc.errno != errno.EPERM:
            raise
        log.warning("cannot signal process group %d: %s", pgid, exc)


def signal_session(sid: int | None, sig: int) -> None:
    """Send ``sig`` to every process of the task's session ``sid`` (the task pid): its process group and
    any process that moved to another group, like the command executor's ``killtree`` over groups and
    sessions. Zombies are skipped."""
    if not sid or sid <= 1:
        return
    signal_group(sid, sig)
    for pid in _session_members(sid):
        with suppress(ProcessLookupError):
            os.kill(pid, sig)


def _session_members(sid: int) -> list[int]:
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) > 3 and fields[3] == str(sid) and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def start_ticks(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks (from /proc), or None if there is no such live process.

    Used to tell a surviving task process from an unrelated process that reuses its pid; zombies count as
    gone (PID 1 here reaps late, see components.md)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def kill_leftover(pid: int | None, ticks: int | None) -> None:
    """SIGKILL the process group of a task process that survived its agent (not our child any more)."""
    if pid is None or ticks is None or start_ticks(pid) != ticks:
        return
    log.warning("killing leftover task session %d", pid)
    signal_session(pid, signal.SIGKILL)


def exit_message(returncode: int) -> str:
    """The command executor's wording: "Command exited with status N" / "terminated with signal X"."""
    if returncode >= 0:
        return f"Command exited with status {returncode}"
    sig = -returncode
    try:
        name = signal.strsignal(sig) or f"Unknown signal {sig}"
    except ValueError:
        name = f"Unknown signal {sig}"
    return f"Command terminated with signal {name}"
