"""Offers of the localmesos master: allocation rounds, offer records, RESCIND and DECLINE (facts §3.2).

Why this module exists: which framework sees which resources, and when, is what schedulers observe
most directly. The round itself is computed by the pure ``allocator`` module over the agents that may have
free resources (so a round costs in proportion to them, not to the cluster); this module keeps each
agent's free resources, turns the allocator's grants into offers in the wire format each framework
expects, and takes offers back (DECLINE, RESCIND, failover, offer timeout).
Methods run with the master lock held (they are mixed into ``Master``).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from localmesos import allocator, ids
from localmesos import resources_formats as formats
from localmesos.master_model import (
    AgentRec,
    FrameworkRec,
    OfferRec,
    sum_resources,
    value,
)
from localmesos.resources import Resources

log = logging.getLogger("localmesos.master")

_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def fast_json(resources: Resources) -> list[dict[str, Any]]:
    """``resources.to_json()`` without a deep copy: one shallow copy per resource.

    An offer round copies every resource of every agent, and a deep copy dominated 10,000-agent rounds.
    The nested values are shared with the master's ``Resources``, which never mutates its dicts; the
    event is only read (serialized) afterwards, so sharing is safe. Callers may replace top-level keys
    (``allocation_info``) of the returned dicts, never mutate nested values."""
    items: list[dict[str, Any]] = []
    resources.filter(lambda r: items.append(r) or False)  # reads each stored dict once, keeps none
    if any("shared" in r for r in items):
        return resources.to_json()  # shared resources appear once per copy in to_json()
    return [dict(r) for r in items]


def wire_resources(capabilities: frozenset[str], resources: Resources, role: str) -> list[dict[str, Any]]:
    """Unallocated ``resources`` offered to ``role`` as a framework with ``capabilities`` must see them:
    ``allocation_info`` only for MULTI_ROLE, pre-refinement format without RESERVATION_REFINEMENT
    (facts §2)."""
    out = fast_json(resources)
    if "MULTI_ROLE" in capabilities:
        for r in out:
            r["allocation_info"] = {"role": role}
    if "RESERVATION_REFINEMENT" not in capabilities:
        out = [formats.downgrade(r) for r in out]
    return out


class OffersMixin:
    """Allocation rounds, offers, DECLINE and ACCEPT."""

    # -- free resources --------------------------------------------------------------------------
    def _invalidate(self, agent: AgentRec) -> None:
        """Something changed on ``agent``: recompute its free resources before the next round."""
        self.free_cache.pop(agent.agent_id, None)
        if agent.state == "active":
            self.free_candidates[agent.agent_id] = None

    def _used(self, agent: AgentRec) -> Resources:
        parts = [t.resources for t in agent.tasks.values() if not t.released]
        parts.extend(agent.executors.values())
        return sum_resources(parts)

    def _offered(self, agent: AgentRec) -> Resources:
        return sum_resources(self.offers[o].unallocated for o in agent.offers)

    def _free(self, agent: AgentRec) -> Resources:
        free = self.free_cache.get(agent.agent_id)
        if free is None:
            free = agent.total
            for taken in (self._used(agent), self._offered(agent)):
                try:
                    free = free - taken.unallocate()
                except ValueError:
                    log.error("Agent %s: accounting mismatch, %s not in %s", agent.agent_id, taken, free)
                    free = Resources()
            self.free_cache[agent.agent_id] = free
        return free

    # -- allocation ------------------------------------------------------------------------------
    def allocate(self) -> None:
        """Run one allocation round now."""
        with self.lock:
            self._allocate_round()

    def _allocate_round(self, agent_ids: list[str] | None = None) -> None:
        """Allocate the free resources of every candidate agent (or only of ``agent_ids``)."""
        agents = self._agent_views(agent_ids)
        views = self._framework_views() if agents else []
        if not views:
            return
        now = self.clock()
        grants = allocator.allocate(agents, views, self.filters, now, self._cluster_totals())
        if grants:
            self._make_offers(grants, now)

    def _framework_views(self) -> list[allocator.FrameworkView]:
        views = []
        for fw in self.frameworks.values():
            if not fw.connected or not fw.roles:
                continue
            views.append(
                allocator.FrameworkView(
                    framework_id=fw.framework_id,
                    roles=list(fw.roles),
                    suppressed=frozenset(fw.suppressed),
                    gpu_aware="GPU_RESOURCES" in fw.capabilities,
                    refinement="RESERVATION_REFINEMENT" in fw.capabilities,
                    allocated=self._allocated(fw),
                )
            )
        return views

    def _allocated(self, fw: FrameworkRec) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        parts = [(t.role, t.resources) for t in fw.tasks.values() if not t.released]
        parts.extend((self.offers[o].role, self.offers[o].unallocated) for o in fw.offers)
        for role, resources in parts:
            amounts = out.setdefault(role, {})
            for name in allocator.SHARE_KINDS:
                amounts[name] = amounts.get(name, 0.0) + resources.scalar(name)
        return out

    def _agent_views(self, agent_ids: list[str] | None = None) -> list[allocator.AgentView]:
        views = []
        wanted = (
            list(self.free_candidates)
            if agent_ids is None
            else [a for a in agent_ids if a in self.free_candidates]
        )
        for agent_id in wanted:
            agent = self.agents.get(agent_id)
            if agent is None or agent.state != "active":
                del self.free_candidates[agent_id]
                continue
            free = self._free(agent)
            if free.empty:
                del self.free_candidates[agent_id]
                continue
            views.append(allocator.AgentView(agent_id, free, agent.total.scalar("gpus") > 0))
        return views

    def _cluster_totals(self) -> dict[str, float]:
        if self.totals_cache is None:
            totals = dict.fromkeys(allocator.SHARE_KINDS, 0.0)
            for agent in self.agents.values():
                if agent.state == "active":
                    for name in allocator.SHARE_KINDS:
                        totals[name] += agent.total.scalar(name)
            self.totals_cache = totals
        return self.totals_cache

    def _make_offers(self, grants: list[allocator.Grant], now: float) -> None:
        batches: dict[str, list[dict[str, Any]]] = {}
        for grant in grants:
            fw = self.frameworks[grant.framework_id]
            agent = self.agents[grant.agent_id]
            offer_id = ids.offer_id(self.master_id, self.offer_counter)
            self.offer_counter += 1
            offer = OfferRec(
                offer_id,
                fw.framework_id,
                agent.agent_id,
                grant.role,
                grant.resources,
                now,
            )
            self.offers[offer_id] = offer
            fw.offers.add(offer_id)
            agent.offers.add(offer_id)
            self.free_cache.pop(agent.agent_id, None)
            batches.setdefault(fw.framework_id, []).append(self._offer_json(fw, offer, agent))
        for framework_id, offers in batches.items():
            log.info("Sending %d offers to framework %s", len(offers), framework_id)
            self._send(self.frameworks[framework_id], {"type": "OFFERS", "offers": {"offers": offers}})

    def _offer_json(self, fw: FrameworkRec, offer: OfferRec, agent: AgentRec) -> dict[str, Any]:
        ip = agent.hostname if _IPV4.match(agent.hostname) else "127.0.0.1"
        out: dict[str, Any] = {
            "id": {"value": offer.offer_id},
            "framework_id": {"value": fw.framework_id},
            "agent_id": {"value": agent.agent_id},
            "hostname": agent.hostname,
            "url": {
                "scheme": "http",
                "address": {"hostname": agent.hostname, "ip": ip, "port": agent.port},
                "path": "/slave(1)",
            },
        }
        if "MULTI_ROLE" in fw.capabilities:
            out["allocation_info"] = {"role": offer.role}
        out["resources"] = wire_resources(fw.capabilities, offer.unallocated, offer.role)
        if agent.attributes:
            out["attributes"] = copy.deepcopy(agent.attributes)
        executors = sorted(e for (f, e) in agent.executors if f == fw.framework_id)
        if executors:
            out["executor_ids"] = [{"value": e} for e in executors]
        return out

    def _send(self, fw: FrameworkRec | None, event: dict[str, Any]) -> bool:
        """Push ``event`` to a connected framework; False (dropped) otherwise."""
        if fw is None or not fw.connected or fw.subscription is None:
            return False
        fw.subscription.push(event)
        return True

    # -- offer removal ---------------------------------------------------------------------------
    def _remove_offer(self, offer_id: str, rescind: bool) -> OfferRec | None:
        """Forget an offer; its resources become free again (no filter). ``rescind`` sends RESCIND."""
        offer = self.offers.pop(offer_id, None)
        if offer is None:
            return None
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None:
            fw.offers.discard(offer_id)
            if rescind:
                self._send(fw, {"type": "RESCIND", "rescind": {"offer_id": {"value": offer_id}}})
        agent = self.agents.get(offer.agent_id)
        if agent is not None:
            agent.offers.discard(offer_id)
            self._invalidate(agent)
        return offer

    def _rescind_agent_offers(self, agent: AgentRec) -> None:
        for offer_id in list(agent.offers):
            log.info("Rescinding offer %s of agent %s", offer_id, agent.agent_id)
            self._remove_offer(offer_id, rescind=True)

    def _expire_offers(self, now: float) -> None:
        timeout = self.config.offer_timeout
        if not timeout:
            return
        for offer in [o for o in self.offers.values() if now - o.created >= timeout]:
            log.info("Offer %s timed out; rescinding", offer.offer_id)
            self._remove_offer(offer.offer_id, rescind=True)

    def _install_filter(
        self, fw: FrameworkRec, agent_id: str, role: str, refused: Resources, filters: dict | None
    ) -> None:
        duration = allocator.refuse_duration(filters, self.config.allocation_interval)
        if duration is None or refused.empty:
            return
        self.filters.add(fw.framework_id, role, agent_id, refused.unallocate(), self.clock() + duration)

    # -- DECLINE ---------------------------------------------------------------------------------
    def _call_decline(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        body = call.get("decline") or {}
        for offer_id in [value(o) for o in body.get("offer_ids") or []]:
            offer = self.offers.get(offer_id or "")
            if offer is None or offer.framework_id != fw.framework_id:
                log.warning(
                    "Ignoring decline of offer %s by framework %s: no longer valid", offer_id, fw.framework_id
                )
                continue
            self._remove_offer(offer.offer_id, rescind=False)
            self._install_filter(fw, offer.agent_id, offer.role, offer.unallocated, body.get("filters"))
        return 202
