"""One allocation round of localmesos, as a pure function (facts §3.2).

Why this module exists: which framework gets which agent's resources, and when a decline keeps them
away, is the behaviour frameworks observe most directly. Keeping the round pure (values in, offers out,
``now`` passed in) lets tests check it exactly and lets the master stay a thin state holder.

What it reproduces of Mesos' hierarchical allocator:
- at most one offer per (framework, role, agent) per round, holding everything free on the agent that the
  role may use (unreserved + reserved for the role, idle volumes included);
- roles, then frameworks within a role, are served least-allocated first (dominant share, as DRF);
- a candidate is dropped when it is below the minimum allocatable (cpus 0.01 or mem 32), when the role is
  suppressed for the framework, or when a live decline filter refused a superset of it;
- agents with GPUs are only offered to frameworks with GPU_RESOURCES.

Trade-off: agents are visited in the order given (Mesos shuffles them); fairness comes from the
least-allocated ordering instead, and tests stay deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from localmesos.resources import Resources

MIN_CPUS = 0.01
MIN_MEM = 32.0
DEFAULT_REFUSE_SECONDS = 5.0
MAX_REFUSE_SECONDS = 365 * 24 * 3600.0
SHARE_KINDS = ("cpus", "mem", "disk", "gpus")


@dataclass
class FrameworkView:
    """What the allocator needs to know about one active (connected) framework."""

    framework_id: str
    roles: Sequence[str]
    suppressed: frozenset[str] = frozenset()
    gpu_aware: bool = False
    refinement: bool = True  # RESERVATION_REFINEMENT: may be offered refined (nested) reservations
    # role -> scalar name -> quantity currently allocated (offered + used) to this framework in that role
    allocated: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class AgentView:
    """One agent with free resources (unallocated: no allocation_info)."""

    agent_id: str
    free: Resources
    has_gpus: bool = False


@dataclass(frozen=True)
class Grant:
    """An offer to make: ``resources`` (no allocation_info) of ``agent_id`` to ``framework_id``/``role``."""

    framework_id: str
    role: str
    agent_id: str
    resources: Resources


@dataclass
class _Filter:
    refused: Resources
    expires: float


class Filters:
    """Decline filters keyed by (framework, role, agent); each refuses a set of resources until a time."""

    def __init__(self) -> None:
        self._filters: dict[tuple[str, str, str], list[_Filter]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self._filters.values())

    def add(self, framework_id: str, role: str, agent_id: str, refused: Resources, expires: float) -> None:
        """Install a filter (ignored when nothing was refused)."""
        if refused.empty:
            return
        self._filters.setdefault((framework_id, role, agent_id), []).append(_Filter(refused, expires))

    def filtered(self, framework_id: str, role: str, agent_id: str, candidate: Resources, now: float) -> bool:
        """True iff a live filter for the key refused a superset of ``candidate``."""
        entries = self._filters.get((framework_id, role, agent_id))
        if not entries:
            return False
        live = [f for f in entries if f.expires > now]
        if len(live) != len(entries):
            self._store((framework_id, role, agent_id), live)
        return any(f.refused.contains(candidate) for f in live)

    def clear(self, framework_id: str, roles: Iterable[str] | None = None) -> None:
        """Drop the filters of a framework (all roles, or only ``roles``): REVIVE, removal."""
        wanted = None if roles is None else set(roles)
        for key in [k for k in self._filters if k[0] == framework_id]:
            if wanted is None or key[1] in wanted:
                del self._filters[key]

    def expire(self, now: float) -> None:
        """Forget every expired filter."""
        for key in list(self._filters):
            self._store(key, [f for f in self._filters[key] if f.expires > now])

    def _store(self, key: tuple[str, str, str], entries: list[_Filter]) -> None:
        if entries:
            self._filters[key] = entries
        else:
            self._filters.pop(key, None)


def refuse_duration(filters: dict | None, allocation_interval: float) -> float | None:
    """Lifetime of a decline filter from ``Filters`` JSON, or None for "no filter" (facts §3.2)."""
    seconds = DEFAULT_REFUSE_SECONDS
    if filters and filters.get("refuse_seconds") is not None:
        try:
            seconds = float(filters["refuse_seconds"])
        except (TypeError, ValueError):
            seconds = DEFAULT_REFUSE_SECONDS
    if seconds != seconds:  # NaN
        seconds = DEFAULT_REFUSE_SECONDS
    if seconds == 0:
        return None
    if seconds < 0:
        seconds = DEFAULT_REFUSE_SECONDS
    seconds = min(seconds, MAX_REFUSE_SECONDS)
    return max(seconds, allocation_interval)


def allocatable(resources: Resources) -> bool:
    """Mesos' default ``--min_allocatable_resources``: cpus >= 0.01 or mem >= 32."""
    return resources.scalar("cpus") >= MIN_CPUS - 1e-9 or resources.scalar("mem") >= MIN_MEM - 1e-9


class _Shares:
    """Dominant shares of roles and (framework, role) pairs, updated as the round grants offers."""

    def __init__(self, frameworks: Sequence[FrameworkView], totals: dict[str, float]) -> None:
        self.totals = {k: v for k, v in totals.items() if k in SHARE_KINDS and v > 0}
        self.pair_amounts: dict[tuple[str, str], dict[str, float]] = {}
        self.role_amounts: dict[str, dict[str, float]] = {}
        for fw in frameworks:
            for role in fw.roles:
                amounts = dict(fw.allocated.get(role, {}))
                self.pair_amounts[(fw.framework_id, role)] = amounts
                _accumulate(self.role_amounts.setdefault(role, {}), amounts)
        self.pair = {key: self.share(a) for key, a in self.pair_amounts.items()}
        self.role = {key: self.share(a) for key, a in self.role_amounts.items()}

    def share(self, amounts: dict[str, float]) -> float:
        return max((amounts.get(k, 0.0) / t for k, t in self.totals.items()), default=0.0)

    def grant(self, framework_id: str, role: str, resources: Resources) -> None:
        if not self.totals:
            return
        amounts = {k: resources.scalar(k) for k in self.totals}
        pair = self.pair_amounts.setdefault((framework_id, role), {})
        _accumulate(pair, amounts)
        self.pair[(framework_id, role)] = self.share(pair)
        whole = self.role_amounts.setdefault(role, {})
        _accumulate(whole, amounts)
        self.role[role] = self.share(whole)


def _role_members(frameworks: Sequence[FrameworkView]) -> dict[str, list[FrameworkView]]:
    """Role -> frameworks that want offers for it (subscribed to it and not suppressed)."""
    members: dict[str, list[FrameworkView]] = {}
    for fw in frameworks:
        for role in fw.roles:
            if role not in fw.suppressed:
                members.setdefault(role, []).append(fw)
    return members


def allocate(
    agents: Iterable[AgentView],
    frameworks: Sequence[FrameworkView],
    filters: Filters,
    now: float,
    totals: dict[str, float] | None = None,
) -> list[Grant]:
    """One round: the offers to make, in order. ``totals`` (cluster totals per scalar) weigh shares."""
    members = _role_members(frameworks)
    if not members:
        return []
    # shares only order candidates: skip their bookkeeping when there is nothing to order
    contested = len(members) > 1 or any(len(fws) > 1 for fws in members.values())
    shares = _Shares(frameworks, (totals or {}) if contested else {})
    grants: list[Grant] = []
    for agent in agents:
        grants.extend(_allocate_agent(agent, members, shares, filters, now))
    return grants


def _allocate_agent(
    agent: AgentView,
    members: dict[str, list[FrameworkView]],
    shares: _Shares,
    filters: Filters,
    now: float,
) -> list[Grant]:
    free = agent.free
    grants: list[Grant] = []
    roles = sorted(members, key=lambda r: (shares.role.get(r, 0.0), r)) if len(members) > 1 else list(members)
    for role in roles:
        if free.empty:
            break
        candidate = free.allocatable_to(role)
        if candidate.empty or not allocatable(candidate):
            continue
        grant = _grant_in_role(agent, role, candidate, members[role], shares, filters, now)
        if grant is not None:
            grants.append(grant)
            # offers are filters of ``free``: equal length means the whole of it was offered
            free = Resources() if len(grant.resources) == len(free) else free - grant.resources
    return grants


def _grant_in_role(
    agent: AgentView,
    role: str,
    candidate: Resources,
    frameworks: list[FrameworkView],
    shares: _Shares,
    filters: Filters,
    now: float,
) -> Grant | None:
    """The offer of ``candidate`` to the least-allocated framework of ``role`` that may take it."""
    if len(frameworks) > 1:
        frameworks = sorted(
            frameworks, key=lambda f: (shares.pair.get((f.framework_id, role), 0.0), f.framework_id)
        )
    for fw in frameworks:
        if agent.has_gpus and not fw.gpu_aware:
            continue
        offer = candidate if fw.refinement else _without_refined(candidate)
        if offer is not candidate and (offer.empty or not allocatable(offer)):
            continue
        if filters.filtered(fw.framework_id, role, agent.agent_id, offer, now):
            continue
        shares.grant(fw.framework_id, role, offer)
        return Grant(fw.framework_id, role, agent.agent_id, offer)
    return None


def _without_refined(resources: Resources) -> Resources:
    """Frameworks without RESERVATION_REFINEMENT are never offered refined (nested) reservations."""
    return resources.filter(lambda r: len(r.get("reservations") or ()) <= 1)


def _accumulate(target: dict[str, float], amounts: dict[str, float]) -> None:
    for key, value in amounts.items():
        target[key] = target.get(key, 0.0) + value
