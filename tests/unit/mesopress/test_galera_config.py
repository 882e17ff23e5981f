"""my.cnf rendering (durable defaults, the four ports, SST settings), user SQL from hashes, cluster rules."""

from __future__ import annotations

import configparser

import pytest

from mesopress.galera import config
from mesopress.galera.config import Ports

PORTS = Ports(sql=3306, galera=4567, ist=4568, sst=4444)
PEERS = ["127.0.0.1:4567", "127.0.0.1:5567", "127.0.0.1:6567"]


def parse(text: str) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.read_string(text)
    return dict(parser["mariadbd"])


def render(**options: object) -> dict[str, str]:
    return parse(
        config.render_mycnf("galera-0", PORTS, PEERS, "/vol/data", "/sb/mysqld.sock", "sst", options)
    )


EXPECTED = [
    ("flush-log-at-commit", "innodb_flush_log_at_trx_commit", "1"),
    ("sync-binlog", "sync_binlog", "1"),
    ("row-binlog", "binlog_format", "ROW"),
    ("autoinc-lock-mode", "innodb_autoinc_lock_mode", "2"),
    ("datadir", "datadir", "/vol/data"),
    ("socket", "socket", "/sb/mysqld.sock"),
    ("sql-port", "port", "3306"),
    ("bind-loopback", "bind_address", "127.0.0.1"),
    ("provider", "wsrep_provider", "/usr/lib/galera/libgalera_smm.so"),
    ("cluster-address", "wsrep_cluster_address", "gcomm://" + ",".join(PEERS)),
    ("node-address", "wsrep_node_address", "127.0.0.1:4567"),
    ("node-name", "wsrep_node_name", "galera-0"),
    ("sst-receive-address", "wsrep_sst_receive_address", "127.0.0.1:4444"),
    ("sst-rsync-default", "wsrep_sst_method", "rsync"),
    (
        "provider-options",
        "wsrep_provider_options",
        '"base_port=4567;gmcast.listen_addr=tcp://127.0.0.1:4567;ist.recv_addr=127.0.0.1:4568;gcache.size=64M"',
    ),
]


@pytest.mark.parametrize(("key", "value"), [c[1:] for c in EXPECTED], ids=[c[0] for c in EXPECTED])
def test_rendered_setting(key: str, value: str) -> None:
    assert render()[key] == value


def test_sst_section_binds_the_host() -> None:
    text = config.render_mycnf("n", PORTS, PEERS, "/d", "/s", "sst", {"host": "10.0.0.5"})
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    assert parser["sst"]["sockopt"] == '"bind=10.0.0.5"'
    assert parser["mariadbd"]["bind_address"] == "10.0.0.5"
    assert "tcp://10.0.0.5:4567" in parser["mariadbd"]["wsrep_provider_options"]


def test_options_select_mariabackup_and_override_defaults() -> None:
    cnf = render(
        sst_method="mariabackup", innodb_buffer_pool_size="256M", cluster_name="site", gcache_size="1G"
    )
    assert cnf["wsrep_sst_method"] == "mariabackup" and cnf["innodb_buffer_pool_size"] == "256M"
    assert cnf["wsrep_cluster_name"] == "site" and "gcache.size=1G" in cnf["wsrep_provider_options"]


BAD_OPTIONS = [
    ("unknown-sst-method", {"sst_method": "xtrabackup"}, "sst_method"),
    ("line-break-injection", {"innodb_buffer_pool_size": "64M\nskip-grant-tables"}, "line break"),
]


@pytest.mark.parametrize(("options", "field"), [c[1:] for c in BAD_OPTIONS], ids=[c[0] for c in BAD_OPTIONS])
def test_bad_options_are_refused(options: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        config.render_mycnf("n", PORTS, PEERS, "/d", "/s", "sst", options)


def test_native_hash_matches_mysql_password_function() -> None:
    # SELECT PASSWORD('secret') on MariaDB
    assert config.native_hash("secret") == "*14E65567ABDB5135D0CFD9A70B3032C179A49EE7"


def test_user_statements_carry_hashes_never_passwords() -> None:
    statements = config.user_statements(config.native_hash("r"), ("sst", "*AB"), ("app", "*CD"), "wordpress")
    text = "\n".join(statements)
    assert config.native_hash("r") in text and "*AB" in text and "*CD" in text
    assert "GRANT ALL PRIVILEGES ON `wordpress`.* TO 'app'@'%'" in text


@pytest.mark.parametrize("name", ["ro'ot", "a b", "x;DROP"], ids=["quote", "space", "semicolon"])
def test_user_statements_refuse_odd_names(name: str) -> None:
    with pytest.raises(ValueError, match="letters, digits and underscores"):
        config.user_statements("*A", (name, "*B"), ("app", "*C"), "db")


# (id, kwargs, expected reason fragments)
CLUSTERS = [
    ("three-is-fine", {"size": 3}, []),
    ("five-is-fine", {"size": 5, "volume_mb": 2048}, []),
    ("even-is-refused", {"size": 4}, ["size: 4 is even"]),
    ("even-allowed-by-operator", {"size": 4, "allow_even": True}, []),
    ("too-small", {"size": 1}, ["size: 1 is below 3"]),
    ("two-too-small-even-with-override", {"size": 2, "allow_even": True}, ["size: 2 is below 3"]),
    (
        "volume-too-small",
        {"size": 3, "volume_mb": 100, "min_volume_mb": 512},
        ["volume: 100 MiB is below the minimum of 512"],
    ),
    ("every-reason-listed", {"size": 4, "volume_mb": 10}, ["size: 4 is even", "volume: 10 MiB"]),
]


@pytest.mark.parametrize(("kwargs", "reasons"), [c[1:] for c in CLUSTERS], ids=[c[0] for c in CLUSTERS])
def test_validate_cluster(kwargs: dict, reasons: list[str]) -> None:
    found = config.validate_cluster(**kwargs)
    assert len(found) == len(reasons)
    for fragment, reason in zip(reasons, found, strict=True):
        assert fragment in reason
