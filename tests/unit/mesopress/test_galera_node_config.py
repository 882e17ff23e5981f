"""The task program's config file and secret files: paths resolved in the sandbox, modes enforced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mesopress.tasks import galera_node, galera_node_config

BASE = {
    "node": "galera-1",
    "ports": {"sql": 1, "galera": 2, "ist": 3, "sst": 4},
    "peers": ["127.0.0.1:2"],
    "volume": "mysql-data",
    "secrets": {"root": "secrets/root"},
}


def write(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(BASE | changes))
    return path


def test_paths_are_resolved_against_the_sandbox(tmp_path: Path) -> None:
    cfg = galera_node_config.load(write(tmp_path, datadir="db", sst_method="mariabackup"))
    assert cfg.volume == tmp_path / "mysql-data" and cfg.datadir == tmp_path / "mysql-data" / "db"
    assert cfg.socket == tmp_path / "mysqld.sock" and cfg.mycnf == tmp_path / "my.cnf"
    assert cfg.secrets["root"] == tmp_path / "secrets" / "root"
    assert cfg.mycnf_options["sst_method"] == "mariabackup" and cfg.bootstrap is False


def test_a_deep_sandbox_gets_a_short_stable_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    deep.mkdir(parents=True)
    first = galera_node_config.load(write(deep)).socket
    assert len(str(first)) < 100 and str(first).startswith("/tmp/mesopress-")
    assert galera_node_config.load(write(deep)).socket == first


MISSING = [
    ("no-node", {"node": None}, "'node'"),
    ("ports-not-a-dict", {"ports": [1, 2]}, "'ports'"),
    ("no-volume", {"volume": None}, "'volume'"),
    (
        "a-port-missing",
        {"ports": {"sql": 1, "galera": 2, "ist": 3}},
        "'ports': needs integer sql, galera, ist, sst",
    ),
    ("peers-not-a-list", {"peers": "a,b"}, "'peers'"),
]


@pytest.mark.parametrize(("changes", "field"), [c[1:] for c in MISSING], ids=[c[0] for c in MISSING])
def test_bad_config_names_the_field(tmp_path: Path, changes: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        galera_node_config.load(write(tmp_path, **changes))


@pytest.mark.parametrize(
    ("mode", "ok"),
    [(0o600, True), (0o644, False), (0o640, False), (0o400, False)],
    ids=["0600", "0644", "0640", "0400"],
)
def test_secrets_must_be_mode_0600(tmp_path: Path, mode: int, ok: bool) -> None:
    cfg = galera_node_config.load(write(tmp_path))
    secret = tmp_path / "secrets" / "root"
    secret.parent.mkdir()
    secret.write_text("hunter2\n")
    secret.chmod(mode)
    if ok:
        assert galera_node_config.read_secret(cfg, "root") == "hunter2"
    else:
        with pytest.raises(PermissionError, match="must be 0600") as caught:
            galera_node_config.read_secret(cfg, "root")
        assert "hunter2" not in str(caught.value)


def test_a_missing_secret_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="secrets.app"):
        galera_node_config.read_secret(galera_node_config.load(write(tmp_path)), "app")


def test_exit_status_of_a_killed_mariadbd_is_128_plus_signal() -> None:
    assert galera_node._exit_status(-9) == 137 and galera_node._exit_status(0) == 0
