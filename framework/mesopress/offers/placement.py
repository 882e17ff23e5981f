"""Placement rules: may this instance of a pod go to this agent, given where its siblings are?

Kept small on purpose. ``unique_agent`` allows at most one instance of a pod per agent (compared by
agent id *and* hostname, because an agent that reboots comes back under a new id). Constraints are
``attribute:OPERATOR[:value]`` over agent attributes, plus the pseudo-attribute ``hostname``:

* ``UNIQUE``: no two instances share a value (``zone:UNIQUE``);
* ``CLUSTER[:v]``: the value equals ``v``, or without ``v`` the value all siblings have;
* ``LIKE:re`` / ``UNLIKE:re``: the value does / does not fully match the regular expression;
* ``MAX_PER:n``: at most ``n`` instances per value (``rack:MAX_PER:2``).

An agent without the attribute fails every operator except ``UNLIKE``. ``check`` returns every
reason the agent is refused; an empty list means it fits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mesopress.model.specs import ConstraintSpec, PlacementSpec


@dataclass(frozen=True)
class Site:
    """An agent as placement sees it."""

    agent_id: str
    hostname: str = ""
    attributes: Mapping[str, str] = field(default_factory=dict)

    def value(self, attribute: str) -> str | None:
        return self.hostname if attribute == "hostname" else self.attributes.get(attribute)


def read_attributes(offer: Mapping[str, Any]) -> dict[str, str]:
    """Offer attributes (TEXT, SCALAR, RANGES, SET) as strings."""
    return {a["name"]: _attribute_text(a) for a in offer.get("attributes") or ()}


def _attribute_text(attribute: Mapping[str, Any]) -> str:
    kind = attribute.get("type")
    if kind == "SCALAR":
        return f"{attribute['scalar']['value']:g}"
    if kind == "RANGES":
        return ",".join(f"[{r['begin']}-{r['end']}]" for r in attribute["ranges"].get("range", ()))
    if kind == "SET":
        return ",".join(attribute["set"].get("item", ()))
    return str(attribute.get("text", {}).get("value", ""))


def site_of(offer: Mapping[str, Any]) -> Site:
    return Site(offer["agent_id"]["value"], offer.get("hostname", ""), read_attributes(offer))


def check(placement: PlacementSpec, site: Site, siblings: Sequence[Site]) -> list[str]:
    """Every reason ``site`` cannot take one more instance beside ``siblings`` (same pod, others)."""
    reasons = []
    if placement.unique_agent and any(_same_agent(site, s) for s in siblings):
        reasons.append(f"agent {site.agent_id} ({site.hostname}) already runs an instance of this pod")
    for constraint in placement.constraints:
        reason = _check_constraint(constraint, site, siblings)
        if reason:
            reasons.append(f"constraint {constraint}: {reason}")
    return reasons


def _same_agent(a: Site, b: Site) -> bool:
    return a.agent_id == b.agent_id or bool(a.hostname and a.hostname == b.hostname)


def _check_constraint(constraint: ConstraintSpec, site: Site, siblings: Sequence[Site]) -> str:
    value = site.value(constraint.attribute)
    operator = constraint.operator
    if value is None:
        return (
            "" if operator == "UNLIKE" else f"agent {site.agent_id} has no attribute {constraint.attribute}"
        )
    others = [v for v in (s.value(constraint.attribute) for s in siblings) if v is not None]
    if operator == "UNIQUE" and value in others:
        return f"another instance already runs where {constraint.attribute}={value}"
    if operator == "CLUSTER":
        wanted = constraint.value or (others[0] if others else value)
        return "" if value == wanted else f"{constraint.attribute}={value}, must be {wanted}"
    if operator == "LIKE" and not re.fullmatch(constraint.value, value):
        return f"{constraint.attribute}={value} does not match {constraint.value}"
    if operator == "UNLIKE" and re.fullmatch(constraint.value, value):
        return f"{constraint.attribute}={value} matches {constraint.value}"
    if operator == "MAX_PER" and others.count(value) >= int(constraint.value):
        return f"already {others.count(value)} instance(s) where {constraint.attribute}={value}"
    return ""


def check_existing(placement: PlacementSpec, sites: Mapping[str, Site]) -> list[str]:
    """Reasons the instances at ``sites`` (instance -> site) break ``placement`` among themselves.

    Used to decide whether a stricter placement can be accepted (``model.changes``): each instance is
    checked against the ones before it, so every conflict is reported once.
    """
    problems = []
    names = sorted(sites)
    for i, name in enumerate(names):
        earlier = [sites[n] for n in names[:i]]
        problems += [f"{name}: {reason}" for reason in check(placement, sites[name], earlier)]
    return problems
