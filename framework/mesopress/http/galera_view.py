"""/v1/galera as served and as printed: the core's Galera view merged with the monitor's live samples.

Why this module exists: the core's view (`scheduler_galera.view`: agent, volume, Mesos status, the
bootstrapped and recovery records) and the monitor's samples (`adapters/galera_monitor.py`: wsrep state,
cluster status and size, seqno, state uuid) come from two threads; the route joins them per node at
request time, adding each sample's age, and `mesopress galera` prints the result as a table. Both are
pure functions over plain data, so they are tested without a server or a database.

Shape of a node in /v1/galera (docs/galera.md "What /v1/galera shows"):
``{"agent_id", "hostname", "ports", "volume", "status", "wsrep", "live": null | {"reachable",
"wsrep_local_state_comment", "wsrep_cluster_status", "wsrep_cluster_size", "wsrep_last_committed",
"wsrep_cluster_state_uuid", "wsrep_ready", "ready", "sampled_at", "age", "error", "address", "user"}}``
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

COLUMNS = ("POD", "NODE", "STATUS", "AGENT", "ADDRESS", "VOLUME", "STATE", "CLUSTER", "SIZE", "SEQNO")
COLUMNS += ("STATE UUID", "AGE")


def merge(view: Mapping[str, Any], samples: Mapping[str, Any], now: float) -> dict[str, Any]:
    """A copy of `view` where every node of every pod gets `live`: its sample with `age` (seconds since
    it was taken), or None. Entries of another shape are left as they are."""
    out = copy.deepcopy(dict(view))
    for pod, entry in out.items():
        nodes = entry.get("nodes") if isinstance(entry, dict) else None
        if not isinstance(nodes, dict):
            continue
        pod_samples = samples.get(pod) if isinstance(samples.get(pod), Mapping) else {}
        for name, node in nodes.items():
            sample = pod_samples.get(name) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node["live"] = _aged(sample, now) if isinstance(sample, Mapping) else None
    return out


def _aged(sample: Mapping[str, Any], now: float) -> dict[str, Any]:
    at = sample.get("sampled_at")
    age = round(max(0.0, now - at), 1) if isinstance(at, int | float) else None
    return dict(sample) | {"age": age}


def table(body: Any) -> str:
    """/v1/galera as a text table, one row per node, then each node's error and each pod's records."""
    if not isinstance(body, dict) or not all(isinstance(e, dict) for e in body.values()):
        return json.dumps(body, indent=2, sort_keys=True)
    rows, notes = [], []
    for pod, entry in sorted(body.items()):
        for name, node in sorted((entry.get("nodes") or {}).items()):
            rows.append(_row(pod, name, node))
            live = node.get("live") or {}
            if live.get("error"):
                notes.append(f"{name}: unreachable: {live['error']}")
        notes += _records(pod, entry)
    if not rows:
        return "\n".join(notes or ["no Galera nodes"])
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines + notes)


def _row(pod: str, name: str, node: Mapping[str, Any]) -> list[str]:
    live = node.get("live") or {}
    volume = ",".join(str(v) for v in (node.get("volume") or {}).values())
    if not live:
        state = "-"
    elif not live.get("reachable"):
        state = "unreachable"
    else:
        state = str(live.get("wsrep_local_state_comment") or "?")
    age = live.get("age")
    return [
        pod,
        name,
        str(node.get("status", "")),
        str(node.get("agent_id") or ""),
        str(live.get("address") or _address(node)),
        volume,
        state,
        _text(live.get("wsrep_cluster_status")),
        _text(live.get("wsrep_cluster_size")),
        _text(live.get("wsrep_last_committed")),
        _text(live.get("wsrep_cluster_state_uuid")),
        f"{age:g}s" if isinstance(age, int | float) else "-",
    ]


def _address(node: Mapping[str, Any]) -> str:
    port = (node.get("ports") or {}).get("sql")
    return f"{node.get('hostname')}:{port}" if node.get("hostname") and port else ""


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def _records(pod: str, entry: Mapping[str, Any]) -> list[str]:
    notes = []
    done = entry.get("bootstrapped")
    if isinstance(done, dict):
        notes.append(f"{pod}: bootstrapped by {done.get('node')}")
    state = entry.get("recovery")
    if isinstance(state, dict):
        chosen = state.get("chosen") or "-"
        reason = f": {state['reason']}" if state.get("reason") else ""
        notes.append(f"{pod}: full-crash recovery {state.get('phase')}, chosen {chosen}{reason}")
        for node, reported in sorted((state.get("positions") or {}).items()):
            notes.append(f"{pod}: {node} reported {_position(reported)}")
    return notes


def _position(reported: Any) -> str:
    if isinstance(reported, Mapping) and "seqno" in reported:
        return f"{reported.get('uuid')}:{reported.get('seqno')}"
    if isinstance(reported, Mapping) and "unknown" in reported:
        return f"unknown ({reported['unknown']})"
    return str(reported)
