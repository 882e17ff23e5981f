"""The value every state machine returns.

Why this module exists: each stateful thing (a pod instance, a reservation) has its own machine, and the
scheduler core must treat their answers the same way. A transition never acts; it returns a `Result`:

- ``SUCCESS``: store ``state`` first (record before you send), then run ``effects`` in the given order.
- ``NOOP``: nothing to store or do (a duplicate or stale message); ``reason`` says why, for the log.
- ``ILLEGAL``: the event does not fit the state. Mesos messages never produce it (Mesos may repeat itself
  or report late); it flags a decision of our own made on stale information, which the caller drops.

Trade-off: effects are plain frozen dataclasses rather than callables, so tests compare them with ``==``
and the caller stays the only place that talks to Mesos or ZooKeeper.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Generic, TypeVar

S = TypeVar("S")


class Kind(enum.Enum):
    """How the caller should treat a transition."""

    SUCCESS = "SUCCESS"
    NOOP = "NOOP"
    ILLEGAL = "ILLEGAL"


def shallow_dict(obj: Any) -> dict[str, Any]:
    """The fields of a flat dataclass as a dict (no deep copy: the values are immutable)."""
    return {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)}


@dataclasses.dataclass(frozen=True)
class Effect:
    """Base class of every effect: something the caller does after storing the new state."""

    def to_dict(self) -> dict[str, Any]:
        """A plain dict for logs and the API: the effect's type name plus its fields."""
        return {"effect": type(self).__name__, **shallow_dict(self)}


@dataclasses.dataclass(frozen=True)
class Result(Generic[S]):
    """The outcome of one transition: its kind, the state to store, the effects to run, and why."""

    kind: Kind
    state: S
    effects: tuple[Effect, ...] = ()
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when the caller has something to store (SUCCESS)."""
        return self.kind is Kind.SUCCESS


def success(state: S, *effects: Effect, reason: str = "") -> Result[S]:
    """A transition that happened: store `state`, then run `effects` in order."""
    return Result(Kind.SUCCESS, state, tuple(effects), reason)


def noop(state: S, reason: str) -> Result[S]:
    """Nothing to do; `state` is returned unchanged."""
    return Result(Kind.NOOP, state, (), reason)


def illegal(state: S, reason: str) -> Result[S]:
    """The event does not fit the state; `state` is returned unchanged."""
    return Result(Kind.ILLEGAL, state, (), reason)
