"""The operator web UI served by the scheduler's HTTP server (http/ui.py + http/static/).

The server is the real `ApiServer` on a free loopback port, over a fake view (as in
test_scheduler_runtime.py) whose snapshot has the shapes the core publishes (plans by name, pods, Galera
with a live sample and a recovery record, endpoints, config). It checks that `/` is the page, every asset
the page references is served, every API path app.js reads answers JSON on that server (extracted from
app.js, so a new fetch is checked too), the buttons' POST routes reach the core, that a standby serves the
page while redirecting the data, and that unknown or traversing paths are refused. When `node` is
installed, app.js also runs against the server in a minimal DOM: the page renders the data, and a value
that looks like HTML stays text.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from localmesos.zkserver import free_port
from mesopress.http import ui
from mesopress.http.server import ApiServer

APP_JS = (ui.STATIC / "app.js").read_text()
INDEX = (ui.STATIC / "index.html").read_text()
EVIL = "<img src=x onerror=alert(1)>"


class View:
    """A scheduler process as the routes see it; `submitted` records the commands the buttons send."""

    def __init__(self, leader: bool, refused: str | None = None) -> None:
        self.is_leader = leader
        self.refused = refused
        self.submitted: list[tuple[str, dict[str, Any]]] = []
        self.snapshot = snapshot()

    def status(self) -> dict[str, Any]:
        role = "leader" if self.is_leader else "standby"
        return {
            "identity": "127.0.0.1:1" if self.is_leader else "127.0.0.1:2",
            "role": role,
            "leader": "127.0.0.1:1",
            "framework_id": "F-1",
            "subscribed": self.is_leader,
            "refused": self.refused,
        }

    def submit(self, kind: str, args: dict[str, Any], timeout: float = 10.0) -> Any:
        self.submitted.append((kind, args))
        if args.get("node") == "nope":
            return {"ok": False, "error": "error forcing 'nope': no full-crash recovery of its cluster runs"}
        return {"ok": True, "kind": kind}

    def config(self) -> dict[str, Any]:
        return {
            "service": {
                "name": "site",
                "pods": [
                    {"name": "proxy", "kind": "proxy", "env": []},
                    {
                        "name": "wordpress",
                        "kind": "wordpress",
                        "env": [["WORDPRESS_PUBLIC_URL", "http://127.0.0.1:31080"]],
                    },
                ],
            }
        }

    def galera_samples(self) -> dict[str, Any]:
        return {
            "galera": {
                "galera-0": {
                    "reachable": True,
                    "error": None,
                    "address": "127.0.0.2:31000",
                    "sampled_at": 0.0,
                    "wsrep_local_state_comment": "Synced",
                    "wsrep_cluster_status": "Primary",
                    "wsrep_cluster_size": 2,
                    "wsrep_last_committed": 1042,
                    "wsrep_cluster_state_uuid": "8a6d-uuid",
                }
            }
        }

    def schedulers(self) -> list[str]:
        return ["http://127.0.0.1:1", "http://127.0.0.1:2"]


def snapshot() -> dict[str, Any]:
    step = {
        "name": "galera-1",
        "status": "WAITING",
        "reason": f"waiting for {EVIL}",
        "target": "galera-1",
        "kind": "launch",
        "warning": "",
    }
    return {
        "plans": {
            "deploy": {
                "name": "deploy",
                "strategy": "serial",
                "status": "WAITING",
                "phases": [{"name": "galera", "strategy": "serial", "status": "WAITING", "steps": [step]}],
            },
            "recovery": {"name": "recovery", "strategy": "parallel", "status": "COMPLETE", "phases": []},
        },
        "pods": [
            {
                "instance": "galera-0",
                "pod": "galera",
                "goal": "RUNNING",
                "status": "READY",
                "agent_id": "S0",
                "hostname": "127.0.0.2",
                "task_id": "galera-0__1",
                "ports": {"sql": 31000},
                "persistence_ids": {"mysql-data": "pid-0"},
                "reason": "",
                "waiting": [],
            },
            {
                "instance": EVIL,
                "pod": "x",
                "goal": "RUNNING",
                "status": "FAILED",
                "agent_id": None,
                "hostname": "",
                "task_id": None,
                "ports": {},
                "persistence_ids": {},
                "reason": EVIL,
                "waiting": ["an offer"],
            },
        ],
        "galera": {
            "galera": {
                "size": 2,
                "bootstrapped": {"node": "galera-0", "at": 1.0},
                "recovery": {
                    "expected": ["galera-0", "galera-1"],
                    "phase": "COLLECTING",
                    "positions": {"galera-0": {"uuid": "8a6d-uuid", "seqno": 1042}},
                    "chosen": None,
                    "reason": "",
                    "evidence": {},
                    "joining": None,
                    "joined": [],
                    "skipped": [],
                    "attempts": 0,
                    "deadline": None,
                },
                "nodes": {
                    "galera-0": {
                        "agent_id": "S0",
                        "hostname": "127.0.0.2",
                        "ports": {"sql": 31000},
                        "volume": {"mysql-data": "pid-0"},
                        "status": "READY",
                        "wsrep": "Synced",
                    },
                    "galera-1": {
                        "agent_id": "S1",
                        "hostname": "127.0.0.3",
                        "ports": {"sql": 32000},
                        "volume": {"mysql-data": "pid-1"},
                        "status": "LOST",
                        "wsrep": "not ready",
                    },
                },
            }
        },
        "endpoints": {
            "proxy": [{"instance": "proxy-0", "host": "127.0.0.1", "ports": {"http": 31080}, "ready": True}],
            "galera": [],
        },
    }


@pytest.fixture
def serve() -> Iterator[Callable[[View], int]]:
    servers: list[ApiServer] = []

    def start(view: View) -> int:
        servers.append(ApiServer(view, free_port(), host="127.0.0.1").start())
        return servers[-1].port

    yield start
    for server in servers:
        server.stop()


def fetch(port: int, path: str, method: str = "GET", body: Any = None) -> tuple[int, dict[str, str], bytes]:
    """One raw request (the path is sent as given: no client-side `..` normalisation, no redirects)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def block(name: str) -> str:
    found = re.search(r"const " + name + r" = \{(.*?)\n\};", APP_JS, re.S)
    assert found, f"app.js has no `const {name} = {{...}};` block"
    return found.group(1)


def api_literals(text: str) -> set[str]:
    return set(re.findall(r"\"(/v1/[A-Za-z0-9_./-]*)\"", text))


def test_root_and_ui_serve_the_page_with_its_headers(serve: Callable[[View], int]) -> None:
    port = serve(View(leader=True))
    for path in ("/", "/ui", "/ui/", "/?refresh=1", "/ui/index.html"):
        status, headers, body = fetch(port, path)
        assert status == 200, path
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert body.decode() == INDEX
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"


def test_every_asset_the_page_references_is_served_from_the_package(serve: Callable[[View], int]) -> None:
    port = serve(View(leader=True))
    refs = re.findall(r"(?:src|href)=\"([^\"]+)\"", INDEX)
    local = [r for r in refs if not r.startswith("data:")]
    assert sorted(local) == ["/ui/app.js", "/ui/style.css"], "the page references an asset this test ignores"
    assert not [r for r in refs if re.match(r"^(https?:)?//", r)], "an external asset (closed network)"
    kinds = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    for ref in local:
        status, headers, body = fetch(port, ref)
        assert status == 200, ref
        assert headers["content-type"] == kinds[Path(ref).suffix]
        assert body == (ui.STATIC / Path(ref).name).read_bytes()


def test_every_api_path_app_js_reads_answers_json_on_the_leader(serve: Callable[[View], int]) -> None:
    port = serve(View(leader=True))
    reads, actions = api_literals(block("SOURCES")), api_literals(block("ACTIONS"))
    assert api_literals(APP_JS) == reads | actions, "app.js names an API path outside SOURCES and ACTIONS"
    assert {"/v1/state", "/v1/plans", "/v1/pods", "/v1/galera", "/v1/endpoints"} <= reads
    for path in sorted(reads):
        status, headers, body = fetch(port, path)
        assert status == 200, (path, body)
        assert headers["content-type"] == "application/json"
        assert json.loads(body) is not None, path
    _, _, galera = fetch(port, "/v1/galera")
    assert json.loads(galera)["galera"]["nodes"]["galera-0"]["live"]["wsrep_cluster_status"] == "Primary"


def test_the_buttons_post_routes_reach_the_core_and_errors_come_back(serve: Callable[[View], int]) -> None:
    view = View(leader=True)
    port = serve(view)
    actions = api_literals(block("ACTIONS"))
    assert actions == {"/v1/pods/", "/v1/galera/force", "/v1/uninstall"}, "a new action: test it here"
    assert 'encodeURIComponent(instance) + "/replace"' in block("ACTIONS")
    assert fetch(port, "/v1/pods/galera-1/replace", "POST")[0] == 202
    assert fetch(port, "/v1/galera/force", "POST", {"node": "galera-1"})[0] == 202
    assert fetch(port, "/v1/uninstall", "POST")[0] == 202
    status, _, body = fetch(port, "/v1/galera/force", "POST", {"node": "nope"})
    assert (status, json.loads(body)) == (
        409,
        {"error": "error forcing 'nope': no full-crash recovery of its cluster runs"},
    )
    assert view.submitted[:3] == [
        ("replace", {"instance": "galera-1"}),
        ("galera_force", {"node": "galera-1"}),
        ("uninstall", {}),
    ]


def test_a_standby_serves_the_page_and_its_state_and_redirects_the_data(serve: Callable[[View], int]) -> None:
    port = serve(View(leader=False))
    assert fetch(port, "/")[0] == 200 and fetch(port, "/ui/app.js")[0] == 200
    status, _, body = fetch(port, "/v1/state")
    assert status == 200 and json.loads(body)["role"] == "standby"
    status, headers, _ = fetch(port, "/v1/plans")
    assert (status, headers["location"]) == (307, "http://127.0.0.1:1/v1/plans")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/ui/nope.js", 404),
        ("/ui/.hidden", 400),
        ("/ui/../server.py", 400),
        ("/ui/..%2fserver.py", 400),
        ("/ui/%2e%2e/server.py", 400),
        ("/ui//etc/passwd", 400),
        ("/ui/static/app.js", 400),
        ("/ui/..", 400),
    ],
)
def test_unknown_and_traversing_paths_are_refused(
    serve: Callable[[View], int], path: str, status: int
) -> None:
    port = serve(View(leader=True))
    got, headers, body = fetch(port, path)
    assert got == status
    assert headers["content-type"] == "application/json" and "error" in json.loads(body)
    assert b"import" not in body


def test_api_routes_and_their_errors_are_untouched(serve: Callable[[View], int]) -> None:
    port = serve(View(leader=True))
    status, _, body = fetch(port, "/nope")
    assert status == 404 and "no route /nope" in json.loads(body)["error"]
    assert fetch(port, "/v1/health")[0] == 200


def test_app_js_never_puts_data_into_html() -> None:
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in APP_JS, sink


NODE_DOM = r"""
// A minimal DOM (just what app.js uses) and fetch against the test server; prints what was rendered.
const base = process.argv[2];
const created = [];
const check = (c) => { if (!(c instanceof Node_)) throw new TypeError("not a Node: " + JSON.stringify(c)); };
class Node_ {
  constructor(tag) { this.tagName = tag; this.children = []; this.attrs = {}; this.listeners = {};
                     this.hidden = false; this.className = ""; this._text = null; this.checked = true; }
  appendChild(c) { check(c); this.children.push(c); this._text = null; return c; }
  replaceChildren(...cs) {  // like the DOM: strings become text nodes, anything else must be a node
    cs = cs.map((c) => (typeof c === "string" ? document.createTextNode(c) : c));
    cs.forEach(check); this.children = cs; this._text = null;
  }
  setAttribute(k, v) { this.attrs[k] = v; }
  addEventListener(n, f) { this.listeners[n] = f; }
  set textContent(v) { this.children = []; this._text = String(v); }
  get textContent() {
    return this._text !== null ? this._text : this.children.map((c) => c.textContent).join("");
  }
}
const ids = {};
for (const id of JSON.parse(process.argv[3])) ids[id] = new Node_("DIV");
globalThis.document = {
  readyState: "complete", title: "",
  getElementById: (id) => ids[id],
  createElement: (tag) => { const n = new Node_(tag.toUpperCase()); created.push(n.tagName); return n; },
  createTextNode: (t) => { const n = new Node_("#text"); n._text = String(t); return n; },
  addEventListener: () => {},
};
globalThis.window = {confirm: () => true};
const realFetch = globalThis.fetch;
globalThis.fetch = (path, init) => realFetch(base + path, init);
globalThis.setInterval = () => 1; globalThis.clearInterval = () => {};
const anchors = [];
const walk = (n) => { if (n.tagName === "A") anchors.push(n.attrs.href); (n.children || []).forEach(walk); };
(async () => {
  const code = require("fs").readFileSync(process.argv[4], "utf8");
  new Function(code)();  // app.js starts itself; its first refresh is awaited through __pending
  await globalThis.__pending;
  const out = {};
  for (const [id, n] of Object.entries(ids)) { out[id] = n.textContent; walk(n); }
  out.__created = [...new Set(created)];
  out.__anchors = anchors;
  out.__bannerHidden = ids.banner.hidden;
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def render(port: int, tmp_path: Path) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the page's script is only checked statically")
    runner = tmp_path / "dom.js"
    runner.write_text(NODE_DOM)
    app = tmp_path / "app.js"
    app.write_text(
        APP_JS.replace(
            "\nif (typeof document", "\nglobalThis.__pending = null;\nif (typeof document"
        ).replace(
            'document.readyState !== "loading") start();',
            'document.readyState !== "loading") globalThis.__pending = start();',
        )
    )
    page_ids = re.findall(r"id=\"([^\"]+)\"", INDEX)
    result = subprocess.run(
        [node, str(runner), f"http://127.0.0.1:{port}", json.dumps(page_ids), str(app)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_page_renders_the_leader_data_and_keeps_html_as_text(
    serve: Callable[[View], int], tmp_path: Path
) -> None:
    out = render(serve(View(leader=True)), tmp_path)
    assert "IMG" not in out["__created"], "a value from the API became an element"
    assert EVIL in out["pods"] and f"waiting for {EVIL}" in out["plans"]
    assert "deploy" in out["plans"] and "recovery" in out["plans"]
    assert "galera-0" in out["galera"] and "Primary" in out["galera"] and "1042" in out["galera"]
    assert "COLLECTING" in out["galera"] and "Force bootstrap" in out["galera"]
    assert "http://127.0.0.1:31080" in out["endpoints"] and "proxy-0" in out["endpoints"]
    assert "leader" in out["whoami"] and out["__bannerHidden"] is True
    assert "http://127.0.0.1:31080" in out["__anchors"]
    assert "site" in out["service"]


def test_the_page_on_a_standby_says_so_and_links_the_leader(
    serve: Callable[[View], int], tmp_path: Path
) -> None:
    out = render(serve(View(leader=False)), tmp_path)
    assert out["__bannerHidden"] is False and "standby" in out["banner"] and "127.0.0.1:1" in out["banner"]
    assert "http://127.0.0.1:1/" in out["__anchors"]
    assert "the leader (127.0.0.1:1) serves the plans" in out["plans"]
    assert "the leader (127.0.0.1:1) serves the pod instances" in out["pods"]


def test_the_page_of_a_scheduler_that_refuses_to_act_says_why(
    serve: Callable[[View], int], tmp_path: Path
) -> None:
    reason = f"role: cannot change from 'mesopress' to {EVIL!r}"
    out = render(serve(View(leader=False, refused=reason)), tmp_path)
    assert out["__bannerHidden"] is False and "refuses to act" in out["banner"] and reason in out["banner"]
    assert "IMG" not in out["__created"] and reason in out["leadership"]


# --- in a real browser ------------------------------------------------------------------------------------
# The minimal DOM above checks the page's logic; headless Chromium (Debian's `chromium`, installed by
# scripts/setup.sh --tests) checks what a browser does with it: the CSP, fetch with `redirect: "manual"` (an
# opaque redirect on a standby), the parsed HTML after the script ran.

VOID = {"meta", "link", "input", "br", "img", "hr"}  # elements without an end tag


class Sections(HTMLParser):
    """The text inside each element with an id, from the DOM Chromium dumps."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, str | None]] = []
        self.text: dict[str, str] = {}
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag not in VOID:
            self.open.append((tag, dict(attrs).get("id")))

    def handle_endtag(self, tag: str) -> None:
        while self.open and self.open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        for _, ident in self.open:
            if ident:
                self.text[ident] = self.text.get(ident, "") + data


def in_chromium(port: int, tmp_path: Path) -> Sections:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (scripts/setup.sh installs it)")
    flags = [
        "--headless",
        "--no-sandbox",  # the tests may run as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=3000",
        "--dump-dom",
    ]
    result = subprocess.run(
        [browser, *flags, f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, result.stderr[-2000:]
    sections = Sections()
    sections.feed(result.stdout)
    done = "updated" in sections.text.get("updated", "")
    assert done, f"the script did not finish a refresh: {result.stdout[:2000]}"
    return sections


def test_chromium_renders_the_leader_page_and_keeps_html_as_text(
    serve: Callable[[View], int], tmp_path: Path
) -> None:
    page = in_chromium(serve(View(leader=True)), tmp_path)
    assert "img" not in page.tags, "a value from the API became an element"
    assert EVIL in page.text["pods"] and "Replace" in page.text["pods"]
    assert "deploy" in page.text["plans"] and f"waiting for {EVIL}" in page.text["plans"]
    assert "galera-0" in page.text["galera"] and "Primary" in page.text["galera"]
    assert "http://127.0.0.1:31080" in page.text["endpoints"]
    assert "leader" in page.text["whoami"] and "Error reading" not in "".join(page.text.values())


def test_chromium_on_a_standby_shows_the_leader_and_no_error(
    serve: Callable[[View], int], tmp_path: Path
) -> None:
    page = in_chromium(serve(View(leader=False)), tmp_path)
    assert "standby" in page.text["banner"] and "http://127.0.0.1:1/" in page.text["banner"]
    sections = {"plans": "the plans", "pods": "the pod instances", "galera": "the Galera view"}
    for section, what in sections.items():
        said = page.text[section].strip()
        assert said == f"This scheduler is a standby; the leader (127.0.0.1:1) serves {what}."
