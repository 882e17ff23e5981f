"""The kinds' rendered files run the real programs, the way a Mesos task would, without Mesos.

Each pod instance of docs/examples/local-site.yaml (proxy, media, two WordPress instances) gets a
sandbox holding the task bundle (`mesopress.http.bundle`, extracted as the fetcher does) and the files
its kind renders, written with the fetcher's default mode (0644); then the pod's own `command` from
the example runs under `sh -c` with the kind's environment. The proxy polls a stand-in for the
scheduler's `/v1/endpoints` (same JSON shape). The database is one MariaDB (a single-node Galera)
with the user the Galera kind creates. Checks: the site is installed by the media pod with the
generated admin password, secrets end up 0600, a post written on one instance is read on the other
and through the proxy, an upload through the proxy lands on the media volume and is served everywhere.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import subprocess
import tarfile
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_wordpress_instance import MariaDB, free_port, get, status, stop, tiny_png

from mesopress.http import bundle
from mesopress.kinds import proxy, wordpress
from mesopress.model import config
from mesopress.model.specs import ServiceSpec
from support.waiting import eventually
from support.wordpress_login import Login

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "local-site.yaml"


class Scheduler:
    """Serves GET /v1/endpoints like the scheduler: {pod: [{instance, host, ports, ready}]}."""

    def __init__(self) -> None:
        self.view: dict[str, list[dict[str, Any]]] = {}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = json.dumps(owner.view).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/endpoints"

    def publish(self, pod: str, instance: str, ports: dict[str, int], ready: bool = True) -> None:
        entries = [e for e in self.view.get(pod, []) if e["instance"] != instance]
        entries.append({"instance": instance, "host": "127.0.0.1", "ports": ports, "ready": ready})
        self.view = self.view | {pod: sorted(entries, key=lambda e: e["instance"])}


class Site:
    def __init__(self, root: Path, db: MariaDB) -> None:
        self.root, self.db = root, db
        self.http_port, self.mysql_port = free_port(), free_port()
        self.public = f"http://127.0.0.1:{self.http_port}"
        text = (
            EXAMPLE.read_text().replace("31080", str(self.http_port)).replace("31306", str(self.mysql_port))
        )
        self.service: ServiceSpec = config.load(text, {}, {}).service
        self.scheduler = Scheduler()
        self.kinds = proxy.site_kinds(self.service, self.scheduler.url)
        self.secrets = {n: make() for k in self.kinds.values() for n, make in k.secret_specs(None).items()}
        self.endpoints: dict[str, Any] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.bundle = bundle.build()

    def sandbox(self, instance: str) -> Path:
        return self.root / instance

    def launch(self, pod_name: str, index: int, ports: dict[str, int]) -> None:
        """What the agent does: fetch (bundle + artifacts at 0644), then `sh -c <command>`."""
        pod = self.service.pod(pod_name)
        assert pod is not None
        instance, kind = f"{pod_name}-{index}", self.kinds[pod_name]
        self.endpoints[instance] = {"instance": instance, "hostname": "127.0.0.1", "ports": ports}
        box = self.sandbox(instance)
        box.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(self.bundle), mode="r:gz") as tar:
            tar.extractall(box, filter="data")
        for path, task_file in kind.task_files(pod, instance, {}, self.endpoints, self.secrets).items():
            (box / path).parent.mkdir(parents=True, exist_ok=True)
            (box / path).write_bytes(task_file.content)
            (box / path).chmod(0o644)
        for volume in pod.volumes:
            (box / volume.container_path).mkdir(exist_ok=True)
        env = dict(pod.env) | dict(kind.task_environment(pod, instance, {}, self.endpoints))
        env |= {"MESOS_SANDBOX": str(box), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        with (box / "stdout").open("wb") as log:
            cmd = ["sh", "-c", pod.command]
            self.procs[instance] = subprocess.Popen(
                cmd, cwd=box, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def url(self, instance: str) -> str:
        return f"http://127.0.0.1:{self.endpoints[instance]['ports']['http']}"

    def ready(self, instance: str) -> None:
        def check() -> bool:
            proc = self.procs[instance]
            assert proc.poll() is None, (self.sandbox(instance) / "stdout").read_text()
            return status(f"{self.url(instance)}/mesopress-ready") == 200

        eventually(check, timeout=90, interval=0.2, message=f"{instance} ready")
        pod = instance.rsplit("-", 1)[0]
        self.scheduler.publish(pod, instance, dict(self.endpoints[instance]["ports"]))

    def proxy_ready(self) -> bool:
        """The proxy pod's own readiness check (its command, as Mesos would run it)."""
        pod = self.service.pod("proxy")
        assert pod is not None and pod.readiness_check is not None
        env = {"PATH": "/usr/bin:/bin", "PORT_MYSQL": str(self.mysql_port)}
        done = subprocess.run(
            ["sh", "-c", pod.readiness_check.command],
            cwd=self.sandbox("proxy-0"),
            env=env,
            capture_output=True,
        )
        return done.returncode == 0

    def shutdown(self) -> None:
        for proc in self.procs.values():
            stop(proc)
        self.scheduler.server.shutdown()
        self.scheduler.server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("kinds")
    db = MariaDB(root / "db")
    db.start()
    site = Site(root, db)
    password = site.secrets[wordpress.DB_SECRET].replace("'", "''")
    try:
        db.sql(
            "CREATE DATABASE wordpress",
            f"CREATE USER 'wordpress'@'127.0.0.1' IDENTIFIED BY '{password}'",
            "GRANT ALL ON wordpress.* TO 'wordpress'@'127.0.0.1'",
        )
        site.scheduler.publish("galera", "galera-0", {"sql": db.port})
        site.launch("proxy", 0, {"http": site.http_port, "mysql": site.mysql_port})
        eventually(site.proxy_ready, timeout=60, interval=0.5, message="the proxy's readiness check")
        site.launch("media", 0, {"http": free_port()})
        site.ready("media-0")  # installs first: ready only once the install is done
        for index in (0, 1):
            site.launch("wordpress", index, {"http": free_port()})
        for index in (0, 1):
            site.ready(f"wordpress-{index}")
        eventually(lambda: status(f"{site.public}/") == 200, timeout=30, message="the site via the proxy")
        yield site
    finally:
        site.shutdown()
        db.stop()


def test_the_media_pod_installed_the_site_and_secrets_are_private(site: Site) -> None:
    assert "media-0: installed" in (site.sandbox("media-0") / "stdout").read_text()
    assert "installed" not in (site.sandbox("wordpress-0") / "stdout").read_text()
    status_code, body = get(f"{site.public}/")
    assert status_code == 200 and b"mesopress local site" in body
    for instance, path in [
        ("wordpress-0", wordpress.DB_PASSWORD_FILE),
        ("media-0", wordpress.ADMIN_PASSWORD_FILE),
    ]:
        assert os.stat(site.sandbox(instance) / path).st_mode & 0o777 == 0o600
    assert os.stat(site.sandbox("proxy-0") / proxy.CHECK_FILE).st_mode & 0o777 == 0o600
    for instance in ("media-0", "wordpress-1"):
        log = (site.sandbox(instance) / "stdout").read_text()
        assert (
            site.secrets[wordpress.ADMIN_SECRET] not in log and site.secrets[wordpress.DB_SECRET] not in log
        )


def login_as_admin(base: str, password: str) -> Login:
    return Login(base, "admin", password)


def test_a_post_from_one_instance_is_read_on_the_other_and_through_the_proxy(site: Site) -> None:
    login = login_as_admin(site.url("wordpress-0"), site.secrets[wordpress.ADMIN_SECRET])
    post = json.dumps({"title": "Hello kinds", "content": "one database", "status": "publish"}).encode()
    code, created = login.rest(f"{site.url('wordpress-0')}/wp-json/wp/v2/posts", post, "application/json")
    assert code == 201, created
    for base in (site.url("wordpress-1"), site.public):
        code, body = get(f"{base}/wp-json/wp/v2/posts/{created['id']}")
        assert code == 200 and json.loads(body)["title"]["rendered"] == "Hello kinds", base


def test_an_upload_through_the_proxy_lands_on_the_media_volume(site: Site) -> None:
    login = login_as_admin(site.public, site.secrets[wordpress.ADMIN_SECRET])
    png = tiny_png()
    headers = {"Content-Disposition": 'attachment; filename="kinds.png"'}
    code, media = login.rest(f"{site.public}/wp-json/wp/v2/media", png, "image/png", **headers)
    assert code == 201, media
    path = urllib.parse.urlsplit(media["source_url"]).path
    stored = site.sandbox("media-0") / "uploads" / path.removeprefix("/wp-content/uploads/")
    assert stored.read_bytes() == png
    for base in (site.public, site.url("wordpress-0"), site.url("wordpress-1")):
        assert get(f"{base}{path}") == (200, png), base
