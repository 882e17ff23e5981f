"""The operator web UI: the static page (http/static/) served at `/` and `/ui/<file>` by every scheduler.

Why it exists: operators want one page with the plans, pod instances, the Galera cluster, the endpoints,
who leads, and buttons for the API's operator actions. The page is three static files (no template, no
external asset: the network is closed) that read the JSON API from the browser, so this module only maps
a request path to one of those files; it never puts API data into HTML. Standbys serve it too (the page
then says it is a standby and links to the leader's UI).

Path rules (`resolve`): `/`, `/ui` and `/ui/` are `index.html`; `/ui/<name>` is the file `<name>` of
static/ only when `<name>` is one plain segment (letters, digits, `.`, `_`, `-`, no leading dot) naming
a file that is there; `..`, `/`, `\\`, `%` or a NUL in the name is refused (400) and never touches the
file system; any other name is 404. Paths outside `/` and `/ui...` belong to the API (`answer` -> None).

Hooked into `server._Handler.do_GET` by one call: `if ui.serve(self): return`.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
INDEX = "index.html"
PREFIX = "/ui"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
REFUSED_PARTS = ("..", "/", "\\", "%", "\x00")
# Defence in depth: the page builds its DOM with textContent only; this policy also forbids inline
# scripts and every origin but this scheduler's.
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}


class Refused(ValueError):
    """A UI path that must not be looked up at all (traversal, encoded or nested names)."""


@dataclass(frozen=True)
class Page:
    status: int
    body: bytes
    content_type: str


def is_ui_path(path: str) -> bool:
    """True for `/`, `/ui` and anything under `/ui/` (query and fragment ignored)."""
    path = _bare(path)
    return path == "/" or path == PREFIX or path.startswith(PREFIX + "/")


def resolve(path: str) -> str | None:
    """The static file name a UI path asks for; None when the path is not the UI's. Raises `Refused`
    for names that could leave static/ or that are not one plain segment."""
    if not is_ui_path(path):
        return None
    path = _bare(path)
    if path in ("/", PREFIX, PREFIX + "/"):
        return INDEX
    name = path[len(PREFIX) + 1 :]
    if any(part in name for part in REFUSED_PARTS) or not PLAIN_NAME.match(name):
        raise Refused(
            f"path: {path!r} is not a UI file name; use /ui/<file> with one plain name, e.g. /ui/app.js"
        )
    return name


def files() -> list[str]:
    """The names static/ serves (regular files only), sorted."""
    if not STATIC.is_dir():
        return []
    return sorted(p.name for p in STATIC.iterdir() if p.is_file() and PLAIN_NAME.match(p.name))


def answer(path: str) -> Page | None:
    """The UI's answer to GET `path`, or None when the API should answer it."""
    try:
        name = resolve(path)
    except Refused as err:
        log.warning("refused UI path: %s", err)
        return _error(400, str(err))
    if name is None:
        return None
    if name not in files():
        return _error(
            404, f"no UI file {name!r}; the UI serves {', '.join(files()) or 'nothing (not installed)'}"
        )
    file = STATIC / name
    return Page(200, file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream"))


def serve(handler: BaseHTTPRequestHandler) -> bool:
    """Write the UI's answer to `handler`'s GET and return True, or return False (the API answers)."""
    page = answer(handler.path)
    if page is None:
        return False
    handler.send_response(page.status)
    handler.send_header("Content-Type", page.content_type)
    handler.send_header("Content-Length", str(len(page.body)))
    for key, value in HEADERS.items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(page.body)
    return True


def _bare(path: str) -> str:
    return path.split("?", 1)[0].split("#", 1)[0]


def _error(status: int, message: str) -> Page:
    return Page(status, json.dumps({"error": message}).encode(), "application/json")
