"""How each agent of a localmesos cluster is described: resources, hostname and ``--attributes`` text.

Why this module exists: agents on one machine must not hand out the same TCP ports, so each agent's port
ranges are the spec's shifted by its index (and must stay <= 65535); with distinct hosts each agent gets
its own loopback address; attributes come as Mesos ``--attributes`` text. The CLI checks a spec with these
functions before it starts anything, and ``cluster.py`` uses them to build its agents.
"""

from __future__ import annotations

from typing import Any

from localmesos import resources_text as rtext


def agent_resources(spec: str, index: int) -> list[dict[str, Any]]:
    """The resources of agent ``index``: ``spec`` parsed, its ports ranges shifted by index * range size."""
    parsed = rtext.parse(spec).to_json()
    ports = [r for r in parsed if r.get("name") == "ports" and r.get("type") == "RANGES"]
    size = sum(rng["end"] - rng["begin"] + 1 for r in ports for rng in r.get("ranges", {}).get("range", []))
    offset = index * size
    for resource in ports:
        resource["ranges"]["range"] = [
            {"begin": rng["begin"] + offset, "end": rng["end"] + offset}
            for rng in resource["ranges"]["range"]
        ]
    return parsed


def agent_hostname(index: int, distinct: bool) -> str:
    """Every agent is 127.0.0.1 by default; with ``distinct`` agent i is 127.0.0.(i+1), a host of its own
    on the loopback network (Linux routes all of 127.0.0.0/8 locally), so that placement rules that keep
    instances on different hosts can be exercised on one machine."""
    return f"127.0.0.{index + 1}" if distinct else "127.0.0.1"


def parse_attributes(spec: str | None) -> list[dict[str, Any]]:
    """Mesos ``--attributes`` text ("rack:r1;zone:a;level:2;range:[1-5]") -> Attribute JSON list."""
    if not spec:
        return []
    attributes = []
    for item in spec.split(";"):
        item = item.strip()
        if not item:
            continue
        name, colon, text = item.partition(":")
        if not colon or not name.strip() or not text.strip():
            raise ValueError(f"attribute {item!r}: expected NAME:VALUE, e.g. rack:r1")
        attributes.append(_attribute(name.strip(), text.strip()))
    return attributes


def _attribute(name: str, text: str) -> dict[str, Any]:
    if text.startswith("[") and text.endswith("]"):
        ranges = []
        for part in text[1:-1].split(","):
            begin, dash, end = part.strip().partition("-")
            if not dash or not begin.isdigit() or not end.isdigit():
                raise ValueError(f"attribute {name}: bad range {part!r}, expected [BEGIN-END]")
            ranges.append({"begin": int(begin), "end": int(end)})
        return {"name": name, "type": "RANGES", "ranges": {"range": ranges}}
    try:
        return {"name": name, "type": "SCALAR", "scalar": {"value": float(text)}}
    except ValueError:
        return {"name": name, "type": "TEXT", "text": {"value": text}}


def agent_resources_of(spec: str, index: int) -> list[dict[str, Any]]:
    """``agent_resources`` with a readable error for a bad spec."""
    try:
        return agent_resources(spec, index)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"bad agent resources {spec!r}: {exc}") from exc


def check_port_ceiling(last_agent: list[dict[str, Any]], agents: int) -> None:
    """Real agents hand out real TCP ports: the last agent's shifted range must stay <= 65535."""
    ends = [rng["end"] for r in last_agent if r.get("name") == "ports" for rng in r["ranges"]["range"]]
    if ends and max(ends) > 65535:
        raise ValueError(
            f"{agents} agents with disjoint port ranges reach port {max(ends)} (> 65535): "
            "use a smaller ports range in the agent resources, fewer agents, or simulated agents (--simulate)"
        )
