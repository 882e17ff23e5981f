"""Where a Galera node stands in its cluster's history: parsing grastate.dat and `--wsrep-recover` output.

Why this module exists: every recovery decision (restart in place by IST, which node may bootstrap after
a full crash) starts from a node's position, `<cluster uuid>:<seqno>`. The text comes from a file on the
node's volume or from a log line, and both can be damaged, truncated or missing. Parsing is therefore
strict and total: the result is a `Position` or an `Unknown` with the reason, never an exception and
never a guess. An unknown position can never be taken for the most advanced one (mariadb-operator's
issue 1701 bootstrapped an empty node and lost the data).

A `Position` may still be unusable for a bootstrap choice: the all-zero uuid means the node never joined
a cluster (or its state transfer failed), and seqno -1 means the node crashed and its real position must
be recovered with `--wsrep-recover`. `usable()` says which.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

ZERO_UUID = "00000000-0000-0000-0000-000000000000"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_POSITION = re.compile(rf"^({_UUID}):(-?\d+)$")
_RECOVERED = re.compile(r"WSREP: Recovered position:?\s*(\S*)")
_GRASTATE_LINE = re.compile(r"^\s*([a-z_]+)\s*:\s*(.*?)\s*$")


@dataclasses.dataclass(frozen=True)
class Position:
    """A node's place in the history of the cluster identified by `uuid`."""

    uuid: str
    seqno: int
    safe_to_bootstrap: bool = False

    def __str__(self) -> str:
        return f"{self.uuid}:{self.seqno}"

    def to_dict(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "seqno": self.seqno, "safe_to_bootstrap": self.safe_to_bootstrap}


@dataclasses.dataclass(frozen=True)
class Unknown:
    """A position that could not be read; `reason` says why (for logs and the API)."""

    reason: str

    def __str__(self) -> str:
        return f"unknown ({self.reason})"

    def to_dict(self) -> dict[str, Any]:
        return {"unknown": self.reason}


Reading = Position | Unknown


def usable(position: Reading | None) -> bool:
    """True when `position` names a real point in a real cluster's history (a bootstrap candidate)."""
    return isinstance(position, Position) and position.uuid != ZERO_UUID and position.seqno >= 0


def parse(text: str) -> Reading:
    """Parse `<uuid>:<seqno>` (the form of `--wsrep-start-position` and of the recovery log line)."""
    match = _POSITION.match(text.strip())
    if not match:
        return Unknown(f"not a <uuid>:<seqno> position: {text.strip()[:80]!r}")
    return Position(match.group(1).lower(), int(match.group(2)))


def parse_grastate(text: str) -> Reading:
    """Parse the contents of grastate.dat; a missing or malformed uuid or seqno gives `Unknown`."""
    fields = _grastate_fields(text)
    uuid, seqno = fields.get("uuid"), fields.get("seqno")
    if uuid is None or seqno is None:
        return Unknown("grastate.dat has no uuid or no seqno")
    parsed = parse(f"{uuid}:{seqno}")
    if isinstance(parsed, Unknown):
        return Unknown(f"grastate.dat: {parsed.reason}")
    safe = fields.get("safe_to_bootstrap", "0") == "1"
    return dataclasses.replace(parsed, safe_to_bootstrap=safe)


def parse_recover_log(text: str) -> Reading:
    """Parse the error log of `mariadbd --wsrep-recover`: the last "Recovered position" line wins."""
    found = _RECOVERED.findall(text)
    if not found:
        return Unknown("no 'WSREP: Recovered position' line in the recovery log")
    value = found[-1].split(",")[0]
    parsed = parse(value)
    if isinstance(parsed, Unknown):
        return Unknown(f"recovery log: {parsed.reason}")
    return parsed


def from_dict(data: Any) -> Reading:
    """The inverse of `to_dict()`; anything malformed becomes `Unknown` rather than an error."""
    if not isinstance(data, dict):
        return Unknown(f"not a position record: {str(data)[:80]!r}")
    if "unknown" in data:
        return Unknown(str(data["unknown"]))
    uuid, seqno = data.get("uuid"), data.get("seqno")
    if not isinstance(uuid, str) or not isinstance(seqno, int) or isinstance(seqno, bool):
        return Unknown(f"position record without a uuid string and an integer seqno: {str(data)[:80]!r}")
    parsed = parse(f"{uuid}:{seqno}")
    if isinstance(parsed, Position):
        return dataclasses.replace(parsed, safe_to_bootstrap=bool(data.get("safe_to_bootstrap", False)))
    return parsed


def with_safe_to_bootstrap(text: str, safe: bool) -> str:
    """grastate.dat text with `safe_to_bootstrap` set (added if missing); other lines are kept as they are."""
    value = "1" if safe else "0"
    lines = text.splitlines()
    out, done = [], False
    for line in lines:
        match = _GRASTATE_LINE.match(line)
        if match and match.group(1) == "safe_to_bootstrap":
            out.append(f"safe_to_bootstrap: {value}")
            done = True
        else:
            out.append(line)
    if not done:
        out.append(f"safe_to_bootstrap: {value}")
    return "\n".join(out) + "\n"


def _grastate_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _GRASTATE_LINE.match(line)
        if match:
            fields[match.group(1)] = match.group(2)
    return fields
