"""The local stack's pure parts: where the site is, what is printed, how it is started."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesopress import devstack


def test_the_site_url_and_admin_user_come_from_the_service_file() -> None:
    assert devstack.site_settings(devstack.DEFAULT_SERVICE) == ("http://127.0.0.1:31080", "admin")


def test_an_unreadable_service_file_stops_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("pods: [\n")
    with pytest.raises(SystemExit, match="error reading the service file"):
        devstack.site_settings(bad)


def test_the_banner_says_where_everything_is() -> None:
    text = devstack.banner("http://127.0.0.1:31080", "admin", [8080, 8081])
    site = "Site:        http://127.0.0.1:31080/   (admin: http://127.0.0.1:31080/wp-admin/, user admin)"
    assert site in text
    assert "http://127.0.0.1:8080, http://127.0.0.1:8081" in text
    assert "mesopress secret wordpress-admin-password --url http://127.0.0.1:8080" in text


def test_two_schedulers_on_distinct_ports_against_localmesos_zookeeper(tmp_path: Path) -> None:
    args = devstack.parse_args(["--work-dir", str(tmp_path), "--zk-port", "2999"])
    stack = devstack.Stack(args)
    started: list[list[str]] = []
    stack.spawn = lambda name, cmd: started.append(cmd)  # type: ignore[assignment,method-assign,return-value]
    stack.start_schedulers()
    assert [cmd[cmd.index("--http-port") + 1] for cmd in started] == ["8080", "8081"]
    assert all(cmd[cmd.index("--master") + 1] == "zk://127.0.0.1:2999/mesos" for cmd in started)
    assert all(cmd[cmd.index("--zk") + 1] == "zk://127.0.0.1:2999/mesopress" for cmd in started)
