"""A small Mustache renderer: enough of the spec to render the DC/OS package's marathon.json.mustache.

Why it exists: DC/OS (Cosmos) renders `dcos/marathon.json.mustache` with the package options merged over
the `config.json` defaults plus `resource.json` under `resource`; the test of the package must render it
the same way without a DC/OS cluster and without a new dependency. Supported: `{{name}}` (HTML-escaped,
as Mustache requires), `{{{name}}}` and `{{&name}}` (raw), `{{#name}}...{{/name}}` (lists are iterated,
mappings pushed on the context stack, other truthy values render the block once), `{{^name}}...{{/name}}`
(inverted), `{{! comments}}`, dotted names (`service.name`; names may hold dashes, as resource keys do)
and `{{.}}`. Falsy: absent, None, False, "", empty lists and mappings (Cosmos drops a block whose option
is ""). Not supported (refused, not ignored): partials, set-delimiter tags, lambdas. Standalone tag
lines are not stripped, which does not matter for JSON. `{{name}}}` is the tag `{{name}}` then the text `}`.

`strict=True` raises `MustacheError` for a name that resolves to nothing instead of rendering "".
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_TAG = re.compile(r"\{\{\{\s*(.*?)\s*\}\}\}|\{\{\s*([#^/!&>=]?)\s*(.*?)\s*\}\}", re.DOTALL)
_NAME = re.compile(r"^(\.|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)$")
_MISSING = object()


class MustacheError(ValueError):
    """A template this renderer cannot render: unbalanced sections, unsupported tags, missing names."""


@dataclass(frozen=True)
class Node:
    kind: str  # "text", "var", "raw", "section", "inverted"
    value: str  # the text, or the tag's name
    children: tuple[Node, ...] = ()


def parse(template: str) -> tuple[Node, ...]:
    """The template as a tree of nodes; raises MustacheError naming the offending tag."""
    stack: list[tuple[str, str, list[Node]]] = [("root", "", [])]
    position = 0
    for match in _TAG.finditer(template):
        if match.start() > position:
            stack[-1][2].append(Node("text", template[position : match.start()]))
        position = match.end()
        triple = match.group(1) is not None
        sigil, name = ("&", match.group(1)) if triple else (match.group(2), match.group(3))
        if name.startswith("{") or name.endswith("}"):
            raise MustacheError(f"unbalanced braces in tag {match.group(0)!r}")
        if sigil == "!":
            continue
        if sigil in (">", "="):
            raise MustacheError(f"unsupported tag {match.group(0)!r} (no partials or delimiter changes)")
        if not _NAME.match(name):
            raise MustacheError(f"bad name in tag {match.group(0)!r}")
        if sigil in ("#", "^"):
            stack.append(("section" if sigil == "#" else "inverted", name, []))
        elif sigil == "/":
            kind, opened, children = stack.pop() if len(stack) > 1 else ("root", "", [])
            if opened != name:
                raise MustacheError(f"{{{{/{name}}}}} closes {opened or 'nothing'}; close sections in order")
            stack[-1][2].append(Node(kind, name, tuple(children)))
        else:
            stack[-1][2].append(Node("raw" if sigil == "&" else "var", name))
    if len(stack) > 1:
        raise MustacheError(f"section {stack[-1][1]!r} is never closed; add {{{{/{stack[-1][1]}}}}}")
    if position < len(template):
        stack[0][2].append(Node("text", template[position:]))
    return tuple(stack[0][2])


def render(template: str, context: Mapping[str, Any], strict: bool = False) -> str:
    """The template rendered with `context` (see the module docstring for what is supported)."""
    return _render(parse(template), [context], strict)


def names(template: str) -> set[str]:
    """Every name the template uses (variables and sections; `.` excluded), e.g. {"service.name"}."""
    found: set[str] = set()

    def walk(nodes: Sequence[Node]) -> None:
        for node in nodes:
            if node.kind != "text" and node.value != ".":
                found.add(node.value)
            walk(node.children)

    walk(parse(template))
    return found


def _render(nodes: Sequence[Node], stack: list[Any], strict: bool) -> str:
    out: list[str] = []
    for node in nodes:
        if node.kind == "text":
            out.append(node.value)
            continue
        value = _lookup(node.value, stack)
        if value is _MISSING and strict:
            raise MustacheError(f"{node.value}: no such name in the context")
        if node.kind in ("var", "raw"):
            text = "" if value is _MISSING or value is None else _text(value)
            out.append(text if node.kind == "raw" else html.escape(text, quote=True))
        elif node.kind == "inverted":
            if not _truthy(value):
                out.append(_render(node.children, stack, strict))
        elif _truthy(value):
            items = value if isinstance(value, list | tuple) else [value]
            out.extend(_render(node.children, [*stack, item], strict) for item in items)
    return "".join(out)


def _lookup(name: str, stack: Sequence[Any]) -> Any:
    if name == ".":
        return stack[-1]
    first, *rest = name.split(".")
    for frame in reversed(stack):
        if isinstance(frame, Mapping) and first in frame:
            value = frame[first]
            break
    else:
        return _MISSING
    for part in rest:
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _truthy(value: Any) -> bool:
    return value is not _MISSING and value is not None and value is not False and value not in ("", [], {})


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
