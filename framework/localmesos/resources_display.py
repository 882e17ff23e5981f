"""Mesos-like text of resources (operator<< on Resource) for messages and logs.

Why this module exists: error messages of validation, operations and launches quote resources the way Mesos
prints them (``cpus(allocated: r)(reservations: [(DYNAMIC,r,p)]):1``), so that a message from localmesos
reads like one from Mesos; the printing rules are kept in one place.
"""

from __future__ import annotations

import json
from typing import Any

from localmesos.resources_entries import Entry, make_entry
from localmesos.resources_formats import upgrade
from localmesos.resources_identity import Resource, has
from localmesos.resources_values import value_text


def describe(resource: Resource) -> str:
    """Mesos-like text of one resource for messages, e.g. ``cpus(allocated: r):1`` (JSON if broken)."""
    try:
        return entry_text(make_entry(upgrade(resource)))
    except Exception:  # the text is only for a message; the resource is broken anyway
        return json.dumps(resource, sort_keys=True, default=str)


def _reservation_text(info: dict[str, Any]) -> str:
    parts = [info.get("type", "UNKNOWN"), info.get("role", "")]
    if info.get("principal") is not None:
        parts.append(info["principal"])
    if info.get("labels") is not None:
        labels = info["labels"].get("labels") or ()
        parts.append("{" + ", ".join(f"{x.get('key', '')}: {x.get('value', '')}" for x in labels) + "}")
    return "(" + ",".join(parts) + ")"


def _disk_text(disk: dict[str, Any]) -> str:
    parts = []
    source = disk.get("source")
    if source is not None:
        root = (source.get("mount") or source.get("path") or {}).get("root")
        parts.append(source.get("type", "UNKNOWN") + (f":{root}" if root else ""))
    persistence = disk.get("persistence")
    if persistence is not None:
        volume = disk.get("volume") or {}
        text = persistence.get("id", "")
        if volume.get("container_path"):
            text += ":" + volume["container_path"]
        if volume.get("mode"):
            text += ":" + volume["mode"]
        parts.append(text)
    return "[" + ",".join(parts) + "]"


def entry_text(entry: Entry) -> str:
    res = entry.res
    out = res.get("name", "")
    alloc = res.get("allocation_info")
    if alloc is not None:
        out += f"(allocated: {alloc.get('role', '')})"
    stack = res.get("reservations")
    if stack:
        out += "(reservations: [" + ", ".join(_reservation_text(r) for r in stack) + "])"
    if res.get("disk") is not None:
        out += _disk_text(res["disk"])
    if has(res, "revocable"):
        out += "{REV}"
    if has(res, "shared"):
        out += "<SHARED>"
    return out + ":" + value_text(entry.kind, entry.value)
