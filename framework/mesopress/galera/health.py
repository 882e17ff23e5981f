"""What `SHOW GLOBAL STATUS LIKE 'wsrep_%'` says about a node: ready, transferring, or in trouble.

Why this module exists: a readiness check that counts a Donor or a Joiner as failed is right, but a
liveness check that does the same kills nodes in the middle of a state transfer, so the transfer starts
again from zero, forever. Both questions are answered here from the same rows, without I/O:

- `ready`: wsrep_ready=ON, wsrep_local_state=4 (Synced) and wsrep_cluster_status=Primary;
- `in_transfer`: the node is Joining, a Donor/Desynced or Joined (catching up), i.e. busy with SST/IST;
  a health check must not kill it.

Values missing from the rows (wsrep off, a half-started server) give a not-ready, not-transferring node.

The scheduler's monitor (`adapters/galera_monitor.py`, shown in /v1/galera) keeps one `sample` per node:
the raw wsrep values an operator knows by name, or `unreachable` with the error text, `scrub`bed of the
password it logged in with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

SYNCED = 4
# wsrep_local_state: 1 Joining, 2 Donor/Desynced, 3 Joined, 4 Synced.
TRANSFER_STATES = frozenset({1, 2, 3})


@dataclasses.dataclass(frozen=True)
class NodeHealth:
    """A node's Galera health, read from its wsrep status variables."""

    ready: bool
    primary: bool
    synced: bool
    in_transfer: bool
    state_comment: str
    cluster_size: int
    seqno: int

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def interpret(rows: Iterable[tuple[str, object]] | Mapping[str, object]) -> NodeHealth:
    """Read (Variable_name, Value) rows, or a mapping of them, into a `NodeHealth`."""
    pairs = rows.items() if isinstance(rows, Mapping) else rows
    status = {_text(name).lower(): _text(value) for name, value in pairs}
    local_state = _int(status.get("wsrep_local_state"), default=0)
    primary = status.get("wsrep_cluster_status", "").lower() == "primary"
    synced = local_state == SYNCED
    wsrep_ready = status.get("wsrep_ready", "").upper() == "ON"
    comment = status.get("wsrep_local_state_comment", "")
    return NodeHealth(
        ready=wsrep_ready and primary and synced,
        primary=primary,
        synced=synced,
        in_transfer=local_state in TRANSFER_STATES or comment.lower().startswith(("join", "donor")),
        state_comment=comment,
        cluster_size=_int(status.get("wsrep_cluster_size"), default=0),
        seqno=_int(status.get("wsrep_last_committed"), default=-1),
    )


# the wsrep status variables a monitor sample keeps, under their own names
SAMPLED = (
    "wsrep_local_state_comment",
    "wsrep_cluster_status",
    "wsrep_cluster_size",
    "wsrep_last_committed",
    "wsrep_cluster_state_uuid",
    "wsrep_ready",
)
_INTS = frozenset({"wsrep_cluster_size", "wsrep_last_committed"})


def sample(rows: Iterable[tuple[str, object]] | Mapping[str, object], at: float) -> dict[str, object]:
    """A reachable node's monitor sample (JSON-ready): the `SAMPLED` values (sizes and seqno as ints,
    None when the server does not report one, e.g. wsrep off), `ready` as `interpret` says, the time."""
    pairs = rows.items() if isinstance(rows, Mapping) else rows
    status = {_text(name).lower(): _text(value) for name, value in pairs}
    out: dict[str, object] = {"reachable": True, "error": None, "sampled_at": at}
    for name in SAMPLED:
        raw = status.get(name)
        out[name] = _int(raw, default=-1) if name in _INTS and raw is not None else raw
    out["ready"] = interpret(status).ready
    return out


def unreachable(error: str, at: float) -> dict[str, object]:
    """The sample of a node that could not be asked: every wsrep value unknown, the error kept."""
    return {"reachable": False, "error": error, "sampled_at": at, "ready": False} | dict.fromkeys(SAMPLED)


def scrub(text: str, *secrets: str) -> str:
    """`text` with every non-empty secret replaced by <hidden> (an error message may quote a DSN)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<hidden>")
    return text


def alive(health: NodeHealth) -> bool:
    """Liveness: a node that is ready or busy with a state transfer must not be killed."""
    return health.ready or health.in_transfer


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace").strip()
    return str(value).strip() if value is not None else ""


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
