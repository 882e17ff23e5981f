"""Names and ids, in one place so that every layer agrees on their shape.

* pod instance: ``<pod>-<index>`` (``galera-0``);
* task id: ``<pod>-<index>__<uuid>``, so the instance can be read back from any status update;
* resource id: ``<instance>.<kind>.<uuid>``, the label that ties a reservation to one incarnation of
  an instance (after a replacement the old agent's reservations carry ids nobody owns any more);
* persistence id: ``<service>.<instance>.<volume>.<uuid>``, globally unique as facts §3.4 advises,
  because agent ids change and uniqueness per agent is not enough.

Randomness is a parameter (``new_uuid``) so tests and the store can fix it. Ids stay within Mesos' rules
(facts §0): no ``/``, ``\\``, control characters, at most 255 characters.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

TASK_SEPARATOR = "__"
MAX_ID_LENGTH = 255

LABEL_SERVICE = "mesopress_service"
LABEL_INSTANCE = "mesopress_instance"
LABEL_RESOURCE_ID = "mesopress_resource_id"
LABEL_PERSISTENCE = "mesopress_persistence_id"

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_INSTANCE_PATTERN = re.compile(r"^(?P<pod>[a-z][a-z0-9-]*)-(?P<index>0|[1-9][0-9]*)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

UuidSource = Callable[[], str]


def random_uuid() -> str:
    """The default ``new_uuid``: 32 hex characters."""
    return uuid.uuid4().hex


def name_instance(pod: str, index: int) -> str:
    """``galera``, 0 -> ``galera-0``."""
    return f"{pod}-{index}"


def parse_instance(instance: str) -> tuple[str, int] | None:
    """``galera-0`` -> (``galera``, 0); None if it is not an instance name."""
    match = _INSTANCE_PATTERN.match(instance)
    if match is None:
        return None
    return match.group("pod"), int(match.group("index"))


def make_task_id(instance: str, new_uuid: UuidSource = random_uuid) -> str:
    """``galera-0`` -> ``galera-0__<uuid>``: a new id for every launch of the instance."""
    return f"{instance}{TASK_SEPARATOR}{new_uuid()}"


def instance_of_task(task_id: str) -> str | None:
    """``galera-0__ab12`` -> ``galera-0``; None for ids that are not ours."""
    instance, sep, rest = task_id.partition(TASK_SEPARATOR)
    if not sep or not rest or parse_instance(instance) is None:
        return None
    return instance


def make_resource_id(instance: str, kind: str, new_uuid: UuidSource = random_uuid) -> str:
    """A reservation label value: ``galera-0.cpus.<uuid>``."""
    return _bounded(f"{instance}.{_safe(kind)}.{new_uuid()}")


def make_persistence_id(
    service: str, instance: str, container_path: str, new_uuid: UuidSource = random_uuid
) -> str:
    """A globally unique persistence id: ``<service>.<instance>.<volume>.<uuid>``."""
    return _bounded(f"{_safe(service)}.{instance}.{_safe(container_path)}.{new_uuid()}")


def volume_kind(container_path: str) -> str:
    """The key of a volume's disk reservation in a footprint: ``disk:<container_path>``."""
    return f"disk:{container_path}"


def _safe(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-") or "x"


def _bounded(value: str) -> str:
    """Keep the (unique) uuid tail when an id would exceed Mesos' limit."""
    return value if len(value) <= MAX_ID_LENGTH else value[-MAX_ID_LENGTH:].lstrip(".-")
