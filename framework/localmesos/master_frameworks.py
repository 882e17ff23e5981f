"""Framework lifecycle of the localmesos master: SUBSCRIBE, failover, TEARDOWN, REVIVE/SUPPRESS,
UPDATE_FRAMEWORK and removal (facts §1.2, §1.4, §3.8).

Why this module exists: who may talk to the master, with which stream, and what happens to a framework's
offers and tasks when its connection breaks are the rules a scheduler's failover logic depends on. They are
kept together here, apart from offers and tasks, so each rule can be read next to the facts it follows.
Methods run with the master lock held (they are mixed into ``Master``).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from localmesos import ids
from localmesos.master_framework_info import validate_framework_info, validate_suppressed, validate_update
from localmesos.master_model import (
    CallError,
    FrameworkRec,
    Subscription,
    capabilities_of,
    is_terminal,
    master_status,
    roles_of,
    value,
)

log = logging.getLogger("localmesos.master")


def error_event(message: str) -> dict[str, Any]:
    return {"type": "ERROR", "error": {"message": message}}


class FrameworksMixin:
    """SUBSCRIBE, disconnection, failover timeout, TEARDOWN, REVIVE, SUPPRESS, UPDATE_FRAMEWORK."""

    # -- SUBSCRIBE -------------------------------------------------------------------------------
    def subscribe(self, call: dict[str, Any], principal: str | None) -> Subscription:
        """Open a subscription; refusals after the HTTP-level checks come as an ERROR event."""
        with self.lock:
            try:
                return self._subscribe(call, principal)
            except CallError:
                raise
            except Exception as exc:
                log.exception("Failed to process SUBSCRIBE call")
                raise CallError(500, f"Internal error while subscribing: {exc}") from None

    def _subscribe(self, call: dict[str, Any], principal: str | None) -> Subscription:
        body = call.get("subscribe") or {}
        info = copy.deepcopy(body.get("framework_info") or {})
        fid = value(info.get("id"))
        if value(call.get("framework_id")) != fid:
            raise CallError(400, "'framework_id' differs from 'subscribe.framework_info.id'")
        self._check_principal(info, principal)
        suppressed = list(body.get("suppressed_roles") or [])
        sub = Subscription(fid or "", ids.new_stream_id())
        error = (
            validate_framework_info(info)
            or self._completed_error(fid)
            or validate_suppressed(info, suppressed)
            or self._principal_change_error(fid, info)
        )
        if error:
            log.info("Refusing subscription of framework '%s' (%s): %s", info.get("name"), fid, error)
            sub.push(error_event(error))
            sub.close()
            return sub
        fw = self._new_framework(info) if fid is None else self._failover_framework(fid, info)
        self._attach(fw, sub, suppressed)
        return sub

    @staticmethod
    def _check_principal(info: dict[str, Any], principal: str | None) -> None:
        if principal is None:
            return
        declared = info.get("principal")
        if declared is None:
            log.warning("Setting FrameworkInfo.principal to the authenticated principal '%s'", principal)
            info["principal"] = principal
        elif declared != principal:
            raise CallError(
                400,
                f"Authenticated principal '{principal}' does not match principal '{declared}' "
                "set in `FrameworkInfo`",
            )

    def _completed_error(self, fid: str | None) -> str | None:
        return "Framework has been removed" if fid is not None and fid in self.completed_ids else None

    def _principal_change_error(self, fid: str | None, info: dict[str, Any]) -> str | None:
        fw = self.frameworks.get(fid) if fid is not None else None
        if fw is not None and fw.principal != info.get("principal"):
            return "Changing framework's principal is not allowed."
        return None

    def _new_framework(self, info: dict[str, Any]) -> FrameworkRec:
        fid = ids.framework_id(self.master_id, self.framework_counter)
        self.framework_counter += 1
        info["id"] = {"value": fid}
        fw = FrameworkRec(fid, info, roles_of(info), capabilities_of(info))
        fw.registered_time = self.wallclock()
        self.frameworks[fid] = fw
        log.info("Added framework %s (%s) with roles %s", fid, info.get("name"), fw.roles)
        return fw

    def _failover_framework(self, fid: str, info: dict[str, Any]) -> FrameworkRec:
        fw = self.frameworks.get(fid)
        if fw is None:
            fw = FrameworkRec(fid, info, roles_of(info), capabilities_of(info))
            fw.registered_time = self.wallclock()
            self.frameworks[fid] = fw
            log.info(
                "Framework %s (%s) re-subscribed with an id unknown to this master", fid, info.get("name")
            )
            return fw
        self._update_info(fw, info, ignore_fixed=True)
        fw.reregistered_time = self.wallclock()
        log.info("Framework %s (%s) failed over", fid, info.get("name"))
        return fw

    def _update_info(self, fw: FrameworkRec, info: dict[str, Any], ignore_fixed: bool) -> None:
        """Take a new FrameworkInfo; on SUBSCRIBE user/checkpoint changes are ignored (kept)."""
        if ignore_fixed:
            for key in ("user", "checkpoint"):
                if info.get(key) != fw.info.get(key):
                    log.warning("Ignoring change of FrameworkInfo.%s of framework %s", key, fw.framework_id)
                if key in fw.info:
                    info[key] = fw.info[key]
                else:
                    info.pop(key, None)
        info["id"] = {"value": fw.framework_id}
        old_roles = set(fw.roles)
        fw.info = info
        fw.roles = roles_of(info)
        fw.capabilities = capabilities_of(info)
        removed = old_roles - set(fw.roles)
        if removed:
            self.filters.clear(fw.framework_id, removed)
            for offer_id in [o for o in fw.offers if self.offers[o].role in removed]:
                self._remove_offer(offer_id, rescind=True)

    def _attach(self, fw: FrameworkRec, sub: Subscription, suppressed: list[str]) -> None:
        old = fw.subscription
        if old is not None and not old.closed:
            old.push(error_event("Framework failed over"))
            old.close()
        for offer_id in list(fw.offers):
            self._remove_offer(offer_id, rescind=False)
        sub.framework_id = fw.framework_id
        fw.subscription = sub
        fw.connected = True
        fw.recovered = False
        fw.failover_deadline = None
        fw.unregistered_time = None
        self._set_suppressed(fw, suppressed)
        now = self.clock()
        sub.push(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": {"value": fw.framework_id},
                    "heartbeat_interval_seconds": float(self.config.heartbeat_interval),
                    "master_info": copy.deepcopy(self.info),
                },
            }
        )
        sub.push({"type": "HEARTBEAT"})
        sub.next_heartbeat = now + self.config.heartbeat_interval
        log.info("Framework %s subscribed on stream %s", fw.framework_id, sub.stream_id)
        self._allocate_round()

    def _set_suppressed(self, fw: FrameworkRec, suppressed: list[str]) -> None:
        """Replace the suppressed set; roles leaving it are revived (their filters cleared)."""
        new = set(suppressed) & set(fw.roles)
        revived = (fw.suppressed - new) & set(fw.roles)
        if revived:
            self.filters.clear(fw.framework_id, revived)
        fw.suppressed = new

    # -- disconnection and removal ---------------------------------------------------------------
    def stream_closed(self, sub: Subscription) -> None:
        """The HTTP connection of ``sub`` went away: the framework is disconnected (facts §3.8)."""
        with self.lock:
            fw = self.frameworks.get(sub.framework_id)
            sub.close()
            if fw is None or fw.subscription is not sub or not fw.connected:
                return
            self._disconnect_framework(fw)

    def _disconnect_framework(self, fw: FrameworkRec) -> None:
        fw.connected = False
        fw.unregistered_time = self.wallclock()
        for offer_id in list(fw.offers):
            self._remove_offer(offer_id, rescind=False)
        timeout = _failover_timeout(fw.info)
        log.info("Framework %s disconnected; failover timeout %.3f s", fw.framework_id, timeout)
        if timeout <= 0:
            self._remove_framework(fw, "failover timeout expired")
        else:
            fw.failover_deadline = self.clock() + timeout

    def _check_failovers(self, now: float) -> None:
        for fw in list(self.frameworks.values()):
            if not fw.connected and fw.failover_deadline is not None and now >= fw.failover_deadline:
                self._remove_framework(fw, "failover timeout expired")

    def _remove_framework(self, fw: FrameworkRec, reason: str) -> None:
        log.info("Removing framework %s (%s): %s", fw.framework_id, fw.info.get("name"), reason)
        for offer_id in list(fw.offers):
            self._remove_offer(offer_id, rescind=False)
        self._finish_framework_tasks(fw)
        for agent in self.agents.values():
            self._shutdown_framework_on(agent, fw.framework_id)
        if fw.subscription is not None:
            fw.subscription.close()
        fw.connected = False
        fw.unregistered_time = fw.unregistered_time or self.wallclock()
        self.filters.clear(fw.framework_id)
        del self.frameworks[fw.framework_id]
        self.completed_ids.add(fw.framework_id)
        self.completed_frameworks.append(fw)

    def _finish_framework_tasks(self, fw: FrameworkRec) -> None:
        now = self.wallclock()
        for task in list(fw.tasks.values()):
            if not is_terminal(task.state):
                task.state = "TASK_KILLED"
                task.status = master_status(
                    task.task_id,
                    "TASK_KILLED",
                    "REASON_FRAMEWORK_REMOVED",
                    f"Framework {fw.framework_id} removed",
                    now,
                    task.agent_id,
                )
            self._forget_task(task)
        for task in list(fw.unreachable_tasks.values()):
            if not is_terminal(task.state):
                task.state = "TASK_KILLED"
            fw.completed_tasks.append(task)
        fw.unreachable_tasks.clear()

    def _shutdown_framework_on(self, agent: Any, framework_id: str) -> None:
        """Like Mesos, every connected agent is told to shut the framework down."""
        for key in [k for k in agent.executors if k[0] == framework_id]:
            del agent.executors[key]
        agent.frameworks.pop(framework_id, None)
        if agent.state == "active":
            self._invalidate(agent)
            agent.link.shutdown_framework(framework_id)

    # -- calls -----------------------------------------------------------------------------------
    def _call_teardown(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        self._remove_framework(fw, "TEARDOWN call")
        return 202

    def _roles_for(self, fw: FrameworkRec, call_type: str, roles: list[str]) -> list[str] | None:
        unknown = [r for r in roles if r not in fw.roles]
        if unknown:
            log.warning(
                "Dropping %s call of framework %s: roles %s are not subscribed",
                call_type,
                fw.framework_id,
                unknown,
            )
            return None
        return roles or list(fw.roles)

    def _call_revive(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        roles = self._roles_for(fw, "REVIVE", list((call.get("revive") or {}).get("roles") or []))
        if roles is not None:
            fw.suppressed -= set(roles)
            self.filters.clear(fw.framework_id, roles)
            log.info("Framework %s revived offers for roles %s", fw.framework_id, roles)
            self._allocate_round()
        return 202

    def _call_suppress(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        roles = self._roles_for(fw, "SUPPRESS", list((call.get("suppress") or {}).get("roles") or []))
        if roles is not None:
            fw.suppressed |= set(roles)
            log.info("Framework %s suppressed offers for roles %s", fw.framework_id, roles)
        return 202

    def _call_update_framework(self, fw: FrameworkRec, call: dict[str, Any]) -> int:
        body = call.get("update_framework") or {}
        info = copy.deepcopy(body.get("framework_info") or {})
        if value(info.get("id")) != fw.framework_id:
            raise CallError(400, "'framework_id' differs from 'update_framework.framework_info.id'")
        suppressed = list(body.get("suppressed_roles") or [])
        error = validate_framework_info(info)
        if error:
            raise CallError(400, f"Supplied FrameworkInfo is not valid: {error}")
        error = validate_update(fw.info, info)
        if error:
            raise CallError(400, f"FrameworkInfo update is not valid: {error}")
        error = validate_suppressed(info, suppressed)
        if error:
            raise CallError(400, f"'UpdateFramework' call is not valid: {error}")
        self._update_info(fw, info, ignore_fixed=False)
        self._set_suppressed(fw, suppressed)
        log.info("Framework %s updated: roles %s", fw.framework_id, fw.roles)
        self._allocate_round()
        return 200

    def _heartbeats(self, now: float) -> None:
        for fw in self.frameworks.values():
            sub = fw.subscription
            if fw.connected and sub is not None and now >= sub.next_heartbeat:
                sub.push({"type": "HEARTBEAT"})
                sub.next_heartbeat = now + self.config.heartbeat_interval


def _failover_timeout(info: dict[str, Any]) -> float:
    try:
        return float(info.get("failover_timeout") or 0.0)
    except (TypeError, ValueError):
        return 0.0
