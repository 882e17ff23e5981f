"""haproxy.cfg from endpoints: balanced HTTP, media routing, one Synced writer, parse errors named."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mesopress.wordpress import proxy

CONFIG = proxy.ProxyConfig(80, 3306, "/sb/run/haproxy.sock", "/sb/run/servers.state", "/sb/conf/check.sh")
WP = (proxy.Server("wordpress-0", "10.0.0.1", 31000), proxy.Server("wordpress-1", "10.0.0.2", 31001))
MEDIA = (proxy.Server("media-0", "10.0.0.3", 31002),)


def galera(*synced: bool) -> tuple[proxy.Server, ...]:
    return tuple(proxy.Server(f"galera-{i}", f"10.0.1.{i}", 3306, s) for i, s in enumerate(synced))


def render(**endpoints: Any) -> str:
    return proxy.render_haproxy(CONFIG, proxy.Endpoints(**endpoints))


@pytest.mark.parametrize(
    "line",
    [
        "    external-check",
        "    insecure-fork-wanted",
        "    stats socket /sb/run/haproxy.sock mode 600 level admin expose-fd listeners",
        "    server-state-file /sb/run/servers.state",
        "    load-server-state-from-file global",
        "    bind 127.0.0.1:80",
        "    bind 127.0.0.1:3306",
        "    balance roundrobin",
        "    http-check send meth GET uri /mesopress-ready ver HTTP/1.1 hdr Host mesopress-check",
        "    server wordpress-0 10.0.0.1:31000 check inter 1s rise 2 fall 2",
        "    server media-0 10.0.0.3:31002 check inter 1s rise 2 fall 2",
        "    external-check command /sb/conf/check.sh",
        "    use_backend media if media_path",
        "    acl media_path path_beg /wp-content/uploads/ /wp-json/wp/v2/media",
        "    acl media_path path /wp-admin/async-upload.php /wp-admin/media-new.php /wp-admin/upload.php",
        "    acl media_path url_param(rest_route) -m beg /wp/v2/media",
        "    http-response set-header X-Served-By %[srv_name]",
    ],
    ids=[
        "external-check", "fork", "stats", "state-file", "state-load", "http-port", "mysql-port",
        "roundrobin",
        "readiness-check", "wordpress-server", "media-server", "check-script", "media-route", "uploads-acl",
        "upload-pages-acl", "rest-route-acl", "served-by",
    ],
)  # fmt: skip
def test_config_has(line: str) -> None:
    assert line + "\n" in render(wordpress=WP, media=MEDIA, galera=galera(True, True, True))


@pytest.mark.parametrize(
    ("synced", "writer"),
    [
        ((True, True, True), 0),
        ((False, True, True), 1),
        ((False, False, True), 2),
        ((False, False, False), 0),
    ],
    ids=["all-synced-first-writes", "first-joining", "only-last-synced", "none-synced-first-kept"],
)
def test_one_writer_the_first_synced_node_the_rest_backup(synced: tuple[bool, ...], writer: int) -> None:
    text = render(galera=galera(*synced))
    for i in range(len(synced)):
        backup = "" if i == writer else " backup"
        timing = "inter 2s fastinter 500ms downinter 1s rise 2 fall 2"  # inter: the external check's budget
        assert f"    server galera-{i} 10.0.1.{i}:3306 check {timing}{backup}\n" in text
    assert "allbackups" not in text


def test_empty_backends_still_render_so_uploads_never_fall_through() -> None:
    text = render()
    assert "backend media\n" in text and "backend wordpress\n" in text and "backend galera\n" in text
    assert "\n    server " not in text


def test_rendering_is_deterministic() -> None:
    assert render(wordpress=WP) == render(wordpress=WP)
    assert render(wordpress=WP) != render(wordpress=WP[:1])


def test_parse_endpoints_reads_every_group() -> None:
    data = {
        "wordpress": [{"name": "wordpress-0", "host": "10.0.0.1", "port": 31000}],
        "media": [{"name": "media-0", "host": "10.0.0.3", "port": 31002}],
        "galera": [{"name": "galera-0", "host": "10.0.1.0", "port": 3306, "synced": False}],
    }
    parsed = proxy.parse_endpoints({"endpoints": data})
    assert parsed.wordpress == (proxy.Server("wordpress-0", "10.0.0.1", 31000),)
    assert parsed.galera == (proxy.Server("galera-0", "10.0.1.0", 3306, False),)
    assert proxy.parse_endpoints({}) == proxy.Endpoints()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([], "expected an object"),
        ({"wordpress": {}}, "wordpress: must be a list"),
        ({"galera": ["x"]}, "galera[0]: must be an object"),
        ({"media": [{"name": "m", "host": "h", "port": 0}]}, "media[0]: needs a name"),
        ({"wordpress": [{"name": "bad name", "host": "h", "port": 1}]}, "wordpress[0]: needs a name"),
        ({"wordpress": [{"name": "w", "host": "", "port": 1}]}, "wordpress[0]: needs a name"),
    ],
    ids=["not-object", "group-not-list", "entry-not-object", "port-zero", "name-with-space", "empty-host"],
)
def test_bad_endpoints_are_refused_with_the_entry_named(data: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        proxy.parse_endpoints(data)


STATUSES = pytest.mark.parametrize(
    ("status", "synced"),
    [
        ({"wsrep_local_state": "4", "wsrep_ready": "ON", "wsrep_cluster_status": "Primary"}, True),
        ({"wsrep_local_state": "2", "wsrep_ready": "ON", "wsrep_cluster_status": "Primary"}, False),
        ({"wsrep_local_state": "4", "wsrep_ready": "OFF", "wsrep_cluster_status": "Primary"}, False),
        ({"wsrep_local_state": "4", "wsrep_ready": "ON", "wsrep_cluster_status": "non-Primary"}, False),
        ({"wsrep_local_state": "4", "wsrep_ready": "ON"}, False),
        ({}, False),
    ],
    ids=["synced", "donor", "not-ready", "non-primary", "no-cluster-status", "no-wsrep"],
)


@STATUSES
def test_only_a_synced_primary_node_passes(status: dict[str, str], synced: bool) -> None:
    assert proxy.is_synced(status) is synced


def fake_client(tmp_path: Path, output: str, code: int = 0) -> str:
    """A stand-in for the mariadb client: prints `output`, records its arguments, exits `code`."""
    client = tmp_path / "fake-mariadb"
    (tmp_path / "out.txt").write_text(output)
    client.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/args.txt\ncat {tmp_path}/out.txt\nexit {code}\n'
    )
    client.chmod(0o755)
    return str(client)


def run_check(tmp_path: Path, client: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "check.sh"
    script.write_text(proxy.render_client_check_script(client, "/sb/conf/mysql-check.cnf"))
    script.chmod(0o700)
    # HAProxy's arguments: proxy address and port, then the server's address and port ($3 $4)
    argv = [str(script), "NOT_USED", "NOT_USED", "10.0.1.7", "3307"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)


@STATUSES
def test_the_client_check_script_gives_the_same_verdict(
    tmp_path: Path, status: dict[str, str], synced: bool
) -> None:
    lines = "".join(f"{name}\t{value}\n" for name, value in status.items())
    done = run_check(tmp_path, fake_client(tmp_path, lines))
    assert (done.returncode == 0) is synced, done.stderr
    args = (tmp_path / "args.txt").read_text().splitlines()
    assert args[:4] == [
        "--defaults-file=/sb/conf/mysql-check.cnf",
        "--protocol=tcp",
        "--host=10.0.1.7",
        "--port=3307",
    ]
    if not synced:
        assert "10.0.1.7:3307 not synced" in done.stderr


def test_the_client_check_script_fails_when_the_client_cannot_connect(tmp_path: Path) -> None:
    client = fake_client(tmp_path, "ERROR 2002 (HY000): Can't connect to server on '10.0.1.7'", code=1)
    done = run_check(tmp_path, client)
    assert done.returncode == 1
    assert "10.0.1.7:3307 not synced: ERROR 2002" in done.stderr


@pytest.mark.skipif(shutil.which("my_print_defaults") is None, reason="needs the mariadb client package")
def test_the_client_defaults_file_keeps_quotes_and_backslashes(tmp_path: Path) -> None:
    password = "p\"a\\ss'word #x"
    path = tmp_path / "check.cnf"
    path.write_text(proxy.render_client_defaults("monitor", password))
    printed = subprocess.run(
        ["my_print_defaults", f"--defaults-file={path}", "client"],
        capture_output=True, text=True, timeout=10, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert printed == ["--user=monitor", f"--password={password}"]


def test_check_script_passes_address_and_port_to_mysql_check() -> None:
    text = proxy.render_check_script("/venv/bin/python", "/app", "/secrets/check.json")
    assert text.startswith("#!/bin/sh\n")
    assert "PYTHONPATH='/app' exec '/venv/bin/python' -m mesopress.tasks.proxy mysql-check" in text
    assert '--credentials \'/secrets/check.json\' --host "$3" --port "$4"' in text


STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port
3 wordpress 1 wordpress-0 10.0.0.1 2 0 31000
3 wordpress 2 wordpress-1 10.0.0.2 0 0 31001
4 media 1 media-0 10.0.0.3 2 0 39999
5 galera 1 galera-0 10.0.1.0 2 0 3306
"""


def test_saved_state_keeps_only_servers_at_the_same_address() -> None:
    kept = proxy.keep_state(STATE, proxy.Endpoints(WP, MEDIA, galera(True)))
    assert kept.splitlines() == [
        "1",
        "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port",
        "3 wordpress 1 wordpress-0 10.0.0.1 2 0 31000",
        "3 wordpress 2 wordpress-1 10.0.0.2 0 0 31001",
        "5 galera 1 galera-0 10.0.1.0 2 0 3306",
    ]  # media-0 moved from port 39999 to 31002: it starts fresh


@pytest.mark.parametrize("state", ["", "garbage\n"], ids=["empty", "no-header"])
def test_unreadable_state_is_dropped(state: str) -> None:
    assert proxy.keep_state(state, proxy.Endpoints(WP)) == ""


def test_published_endpoints_parse_back_to_the_same_endpoints() -> None:
    endpoints = proxy.Endpoints(WP, MEDIA, galera(False, True))
    data = proxy.to_json(endpoints)
    assert data["galera"][0] == {"name": "galera-0", "host": "10.0.1.0", "port": 3306, "synced": False}
    assert "synced" not in data["wordpress"][0]
    assert proxy.parse_endpoints(data) == endpoints
