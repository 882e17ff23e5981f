"""The agent ``--resources`` text: ``cpus:4;mem:4096;ports:[31000-31999]`` or a JSON array.

Why this module exists: Mesos' Resources::parse and the agent's command-line checks decide what an agent
may start with; the CLI, the cluster wiring and the tests all describe agents this way. Parsing text is
separate from the resource rules it feeds (``Resources`` validates every parsed resource).
"""

from __future__ import annotations

import json
import math

from localmesos.resources import Resources
from localmesos.resources_identity import (
    RANGES,
    SCALAR,
    SET,
    Resource,
    ResourceError,
    is_dynamic,
    is_revocable,
    is_volume,
)


def parse(spec: str, default_role: str = "*") -> Resources:
    """Parse agent ``--resources`` text (Mesos Resources::parse): either a JSON array of Resource
    objects, or ``name(role):value;...`` with scalar (``4``), ranges (``[31000-31999, 32001-32002]``)
    and set (``{a,b}``) values; ``cpus(galera):2`` is a static reservation. Each resource is validated;
    volumes, revocable resources, dynamic reservations and one name with two types are refused, like
    Mesos' command-line checks. Raises ResourceError."""
    try:
        parsed = json.loads(spec)
    except ValueError:
        parsed = None
    if isinstance(parsed, list):
        raw = [_from_json(item, default_role) for item in parsed]
    else:
        raw = [_from_token(token, default_role) for token in spec.split(";") if token.strip()]
    resources = Resources(raw)
    _check_command_line(resources)
    return resources


def _from_json(item: object, default_role: str) -> Resource:
    if not isinstance(item, dict):
        raise ResourceError("Some JSON resources were not formatted properly: expected an object")
    out = dict(item)
    if out.get("role") is None and not out.get("reservations"):
        out["role"] = default_role
    return out


def _from_token(token: str, default_role: str) -> Resource:
    head, sep, value = token.partition(":")
    if not sep or ":" in value:
        raise ResourceError(f"Bad value for resources, missing or extra ':' in {token}")
    name, role = _name_and_role(head, token, default_role)
    resource: Resource = {"name": name, "role": role}
    resource.update(_parse_text_value(name, value.strip()))
    return resource


def _name_and_role(head: str, token: str, default_role: str) -> tuple[str, str]:
    open_paren = head.find("(")
    if open_paren < 0:
        return head.strip(), default_role
    close_paren = head.find(")")
    if close_paren < 0 or close_paren < open_paren:
        raise ResourceError(f"Bad value for resources, mismatched parentheses in {token}")
    return head[:open_paren].strip(), head[open_paren + 1 : close_paren].strip()


def _parse_text_value(name: str, text: str) -> Resource:
    if text.startswith("["):
        return {"type": RANGES, "ranges": {"range": _parse_ranges(name, text)}}
    if text.startswith("{"):
        if not text.endswith("}"):
            raise ResourceError(f"Failed to parse resource {name} value {text}: missing '}}'")
        items = [item.strip() for item in text[1:-1].split(",") if item.strip()]
        return {"type": SET, "set": {"item": items}}
    try:
        number = float(text)
    except ValueError:
        raise ResourceError(f"Bad type for resource {name} value {text} type TEXT") from None
    if not math.isfinite(number):
        raise ResourceError(f"Failed to parse resource {name} value {text}: not a finite number")
    return {"type": SCALAR, "scalar": {"value": number}}


def _parse_ranges(name: str, text: str) -> list[dict[str, int]]:
    if not text.endswith("]"):
        raise ResourceError(f"Failed to parse resource {name} value {text}: missing ']'")
    out = []
    for part in (p.strip() for p in text[1:-1].split(",")):
        if not part:
            continue
        begin, sep, end = part.partition("-")
        try:
            pair = (int(begin.strip()), int(end.strip()) if sep else int(begin.strip()))
        except ValueError:
            raise ResourceError(f"Failed to parse resource {name} value {text}: bad range {part}") from None
        out.append({"begin": pair[0], "end": pair[1]})
    return out


def _check_command_line(resources: Resources) -> None:
    types: dict[str, str] = {}
    for res in resources:
        if is_volume(res):
            raise ResourceError("Persistent volumes cannot be specified at the command line")
        if is_revocable(res):
            raise ResourceError(
                "Revocable resources cannot be specified at the command line; do not include a"
                " 'revocable' key in the resources JSON"
            )
        if is_dynamic(res):
            raise ResourceError(
                "Dynamic reservations cannot be specified at the command line; do not include a"
                " reservation with DYNAMIC type in the resources JSON"
            )
        if types.setdefault(res["name"], res["type"]) != res["type"]:
            raise ResourceError(
                f"Resources with the same name ('{res['name']}') but different types are not allowed"
            )
