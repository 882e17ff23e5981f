"""Persistent volume directories on the agent's host: where each volume lives, create, delete, link.

Why this module exists: mesopress keeps its data in persistent volumes, so where a volume's data lives
(Mesos ``getPersistentVolumePath``), when it is created or deleted (CREATE/DESTROY, facts §3.3, §3.7) and
how it appears in a task's sandbox (a symlink, as the ``filesystem/posix`` isolator does) must match Mesos.
The agent calls these when it checkpoints resources and when it launches a task.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localmesos.executor import User

log = logging.getLogger(__name__)

Json = dict[str, Any]


@dataclass(frozen=True)
class Volume:
    """A persistent volume: where its data lives on the host, and whether it is a whole MOUNT disk."""

    path: Path
    mount: bool
    container_path: str | None = None



def volume_of(work_dir: Path, resource: Json) -> Volume | None:
    """Where the data of a persistent volume resource lives (Mesos ``getPersistentVolumePath``), or None.

    ROOT disk: ``<work_dir>/volumes/roles/<role with '/' as ' '>/<persistence id>``; PATH disk: the same
    layout under ``source.path.root`` (relative roots are relative to work_dir); MOUNT disk: the mount root.
    """
    disk = resource.get("disk") or {}
    persistence = disk.get("persistence")
    if not persistence:
        return None
    container_path = (disk.get("volume") or {}).get("container_path")
    source = disk.get("source") or {}
    if source.get("type") == "MOUNT":
        root = work_dir / (source.get("mount") or {}).get("root", "")
        return Volume(root, True, container_path)
    base = work_dir
    if source.get("type") == "PATH":
        base = work_dir / (source.get("path") or {}).get("root", "")
    role = _volume_role(resource).replace("/", " ")
    return Volume(base / "volumes" / "roles" / role / persistence["id"], False, container_path)


def volumes_of(work_dir: Path, resources: list[Json]) -> list[Volume]:
    """The persistent volumes among ``resources``."""
    found = (volume_of(work_dir, r) for r in resources)
    return [v for v in found if v is not None]


def _volume_role(resource: Json) -> str:
    reservations = resource.get("reservations") or []
    if reservations:
        return str(reservations[-1].get("role", "*"))
    return str(resource.get("role", "*"))


def ensure_volume(volume: Volume) -> bool:
    """Create the volume directory if missing; True when it was created."""
    if volume.path.is_dir():
        return False
    volume.path.mkdir(parents=True, exist_ok=True)
    return True


def delete_volume(volume: Volume) -> None:
    """DESTROY: remove the data (a MOUNT disk keeps its mount point, only its contents go)."""
    if not volume.path.exists():
        return
    if not volume.mount:
        shutil.rmtree(volume.path)
        return
    for child in volume.path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def link_volumes(sandbox: Path, work_dir: Path, resources: list[Json], user: User | None) -> None:
    """Symlink each volume of the task at ``<sandbox>/<container_path>`` (filesystem/posix isolator).

    The volume is created if missing and chowned (not recursively) to the task user when it is new or
    empty. A container_path with '/' (absolute or nested) is skipped with a warning, as Mesos does."""
    for volume in volumes_of(work_dir, resources):
        target = volume.container_path or ""
        if not target or "/" in target:
            log.warning(
                "skipping volume %s: container_path %r is not a single relative name", volume.path, target
            )
            continue
        created = ensure_volume(volume)
        if user is not None and user.switch and (created or not any(volume.path.iterdir())):
            os.chown(volume.path, user.uid, user.gid)
        link = sandbox / target
        if link.is_symlink() or link.exists():
            log.warning("replacing %s in sandbox %s with volume %s", target, sandbox, volume.path)
            _remove_path(link)
        link.symlink_to(volume.path)


def _remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
