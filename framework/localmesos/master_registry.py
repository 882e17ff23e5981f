"""The master's registry: the agent id counter and the admitted / unreachable / gone agent ids, on disk.

Why this module exists: Mesos remembers unreachable and gone agents in its replicated registry, so a
restarted master still refuses gone agents and waits for the others to re-register (facts §3.9).
localmesos keeps the same memory in ``<work_dir>/registry.json``, written atomically (``checkpoint``).
"""

from __future__ import annotations

from pathlib import Path

from localmesos import checkpoint


class Registry:
    """The durable part of the master: agent counter, admitted / unreachable / gone agent ids."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.agent_counter = 0
        self.admitted: set[str] = set()
        self.unreachable: dict[str, float] = {}  # agent id -> wall-clock time it became unreachable
        self.gone: set[str] = set()
        self.dirty = False

    def flush(self) -> None:
        """Write pending admissions (registrations are batched like Mesos' registrar does)."""
        if self.dirty:
            self.save()

    def load(self) -> None:
        data = checkpoint.read_json(self.path, default=None) or {}
        self.agent_counter = int(data.get("agent_counter", 0))
        self.admitted = set(data.get("admitted", []))
        self.unreachable = {k: float(v) for k, v in (data.get("unreachable") or {}).items()}
        self.gone = set(data.get("gone", []))

    def save(self) -> None:
        self.dirty = False
        checkpoint.write_json(
            self.path,
            {
                "agent_counter": self.agent_counter,
                "admitted": sorted(self.admitted),
                "unreachable": dict(sorted(self.unreachable.items())),
                "gone": sorted(self.gone),
            },
        )

    def admit(self, agent_id: str) -> None:
        self.admitted.add(agent_id)
        self.unreachable.pop(agent_id, None)

    def mark_unreachable(self, agent_id: str, when: float) -> None:
        self.admitted.discard(agent_id)
        self.unreachable[agent_id] = when

    def mark_gone(self, agent_id: str) -> None:
        self.admitted.discard(agent_id)
        self.unreachable.pop(agent_id, None)
        self.gone.add(agent_id)
