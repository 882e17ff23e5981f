"""Identifiers of localmesos: how the master names things, and which names it accepts.

Mesos formats its ids in a fixed way (facts §0): the master id is a random UUID, frameworks are
``<masterId>-0000`` (four digits, counting up), offers ``<masterId>-O<n>`` and agents ``<masterId>-S<n>``.
Frameworks and tools parse nothing out of these, but tests and humans read them, so we keep the shape.
User-chosen ids (task, executor, framework, agent, persistence ids) are checked like Mesos'
``common::validation::validateID``: non-empty, at most NAME_MAX bytes, not ``.``/``..``, no path separators
and no control characters.
"""

from __future__ import annotations

import uuid

NAME_MAX = 255


def new_master_id() -> str:
    """A fresh master id: a random UUID string, as Mesos does."""
    return str(uuid.uuid4())


def framework_id(master_id: str, n: int) -> str:
    """The ``n``-th framework id of this master: ``<masterId>-0000``, ``<masterId>-0001``, ..."""
    return f"{master_id}-{n:04d}"


def offer_id(master_id: str, n: int) -> str:
    """The ``n``-th offer id of this master: ``<masterId>-O<n>``."""
    return f"{master_id}-O{n}"


def agent_id(master_id: str, n: int) -> str:
    """The ``n``-th agent id of this master: ``<masterId>-S<n>``."""
    return f"{master_id}-S{n}"


def new_stream_id() -> str:
    """A fresh ``Mesos-Stream-Id`` value (a random UUID string)."""
    return str(uuid.uuid4())


def validate_id(value: object) -> str | None:
    """Why ``value`` is not a valid Mesos id, or None if it is one (facts §0; Mesos
    common::validation::validateID, messages included)."""
    if not isinstance(value, str):
        return "ID must be a string"
    if not value:
        return "ID must not be empty"
    if len(value.encode("utf-8")) > NAME_MAX:
        return f"ID must not be greater than {NAME_MAX} characters"
    if value in (".", ".."):
        return f"'{value}' is disallowed"
    if "/" in value or "\\" in value or any(_is_control(ch) for ch in value):
        return f"'{value}' contains invalid characters"
    return None


def _is_control(ch: str) -> bool:
    """Like C ``iscntrl`` in the C locale: 0x00-0x1f and 0x7f."""
    code = ord(ch)
    return code < 0x20 or code == 0x7F
