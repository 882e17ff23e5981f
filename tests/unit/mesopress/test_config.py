"""Service file parsing and validation, and scheduler settings from flags, env and file."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mesopress import settings
from mesopress.model import config
from mesopress.model.specs import CheckSpec, ConstraintSpec, PortSpec, VolumeSpec

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "service.yaml"

MINIMAL: dict[str, Any] = {
    "name": "site",
    "pods": [
        {
            "name": "galera",
            "count": 3,
            "cpus": 0.5,
            "mem": 1024,
            "command": "run",
            "ports": [{"name": "sql", "port": 3306}, {"name": "gcomm"}],
            "volumes": [{"container_path": "mysql-data", "size": 2048}],
        },
        {"name": "wordpress", "count": 1, "cpus": 1, "mem": 512, "command": "serve"},
    ],
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    """MINIMAL with one field set (``value`` None deletes it); path like ``pods.1.volumes``."""
    doc = copy.deepcopy(MINIMAL)
    *parents, last = path.split(".")
    target: Any = doc
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    key: Any = int(last) if isinstance(target, list) else last
    if value is None:
        del target[key]
    else:
        target[key] = value
    return doc


def test_example_service_file_is_valid() -> None:
    loaded = config.load(EXAMPLE.read_text(), {}, {})
    assert loaded.service.pod_names == ("galera", "proxy", "media", "wordpress")
    assert loaded.settings.framework_name == "mesopress-blog"
    galera = loaded.service.pod("galera")
    assert galera is not None and galera.volumes == (VolumeSpec("mysql-data", 2048),)
    assert galera.health_check is not None and galera.health_check.kind == "tcp"


def test_minimal_file_builds_specs_with_defaults() -> None:
    service = config.load(yaml.safe_dump(MINIMAL), {}, {}).service
    galera = service.pods[0]
    assert (service.name, service.role, service.principal) == ("site", "mesopress", "mesopress")
    assert galera.ports == (PortSpec("sql", 3306), PortSpec("gcomm", 0))
    assert galera.placement.unique_agent is True and galera.placement.constraints == ()
    assert galera.readiness_check is None and galera.ports[1].env_key == "PORT_GCOMM"


def test_json_and_yaml_give_equal_specs() -> None:
    from_json = config.load(json.dumps(MINIMAL), {}, {}).service
    from_yaml = config.load(yaml.safe_dump(MINIMAL), {}, {}).service
    assert from_json == from_yaml


def test_constraints_env_and_checks_are_built() -> None:
    doc = with_change("pods.0.placement", {"unique_agent": False, "constraints": ["rack:LIKE:r[12]"]})
    doc["pods"][0]["env"] = {"B": 2, "A": "x"}
    doc["pods"][0]["health_check"] = {"kind": "http", "port": "sql", "path": "/h", "interval": 5}
    pod = config.load(yaml.safe_dump(doc), {}, {}).service.pods[0]
    assert pod.placement.constraints == (ConstraintSpec("rack", "LIKE", "r[12]"),)
    assert pod.env == (("A", "x"), ("B", "2"))
    assert pod.health_check == CheckSpec(kind="http", port="sql", path="/h", interval=5.0)


INVALID = [
    (
        "volume-size-fraction",
        "pods.0.volumes.0.size",
        1.5,
        "pods[0].volumes[0].size: must be a positive integer of MiB, e.g. 1024",
    ),
    (
        "volume-size-negative",
        "pods.0.volumes.0.size",
        -1,
        "pods[0].volumes[0].size: must be a positive integer of MiB",
    ),
    (
        "volume-path-nested",
        "pods.0.volumes.0.container_path",
        "a/b",
        "pods[0].volumes[0].container_path: must be a single relative",
    ),
    (
        "volume-path-absolute",
        "pods.0.volumes.0.container_path",
        "/data",
        "container_path: must be a single relative",
    ),
    ("cpus-zero", "pods.1.cpus", 0, "pods[1].cpus: must be a number of CPUs >= 0.01, e.g. 0.5"),
    ("cpus-below-mesos-precision", "pods.1.cpus", 0.001, "pods[1].cpus: must be a number of CPUs >= 0.01"),
    ("cpus-text", "pods.1.cpus", "1", "pods[1].cpus: must be a number of CPUs"),
    ("mem-missing", "pods.1.mem", None, "pods[1].mem: required field is missing"),
    ("count-zero", "pods.0.count", 0, "pods[0].count: must be an integer from 1 to 100"),
    ("count-bool", "pods.0.count", True, "pods[0].count: must be an integer"),
    ("name-upper", "pods.0.name", "Galera", "pods[0].name: must be lowercase letters"),
    ("name-underscore", "name", "my_site", "name: must be lowercase letters"),
    ("command-empty", "pods.1.command", "  ", "pods[1].command: must be a non-empty string"),
    (
        "port-too-big",
        "pods.0.ports.0.port",
        70000,
        "pods[0].ports[0].port: must be 0 (any) or a port 1-65535",
    ),
    ("ports-not-list", "pods.0.ports", {"sql": 1}, "pods[0].ports: must be a list"),
    ("duplicate-port-name", "pods.0.ports.1.name", "sql", "pods[0].ports[1].name: duplicate value 'sql'"),
    ("duplicate-pod", "pods.1.name", "galera", "pods[1].name: duplicate value 'galera'"),
    ("no-pods", "pods", [], "pods: must list at least one pod"),
    ("pods-missing", "pods", None, "pods: required field is missing"),
    ("typo-field", "pods.1.cpu", 1, "pods[1].cpu: unknown field; did you mean 'cpus'?"),
    (
        "bad-constraint-op",
        "pods.0.placement",
        {"constraints": ["zone:SAME"]},
        "pods[0].placement.constraints[0]: must be attribute:OPERATOR",
    ),
    (
        "bad-like-regex",
        "pods.0.placement",
        {"constraints": ["rack:LIKE:("]},
        "constraints[0]: must be attribute:OPERATOR",
    ),
    (
        "max-per-not-number",
        "pods.0.placement",
        {"constraints": ["rack:MAX_PER:x"]},
        "constraints[0]: must be attribute:OPERATOR",
    ),
    (
        "unique-agent-text",
        "pods.0.placement",
        {"unique_agent": "yes"},
        "pods[0].placement.unique_agent: must be true or false",
    ),
    ("env-bad-name", "pods.0.env", {"1X": "a"}, "pods[0].env.1X: must be an environment variable name"),
    ("env-list-value", "pods.0.env", {"X": [1]}, "pods[0].env.X: must be text"),
    (
        "check-port-unknown",
        "pods.0.health_check",
        {"kind": "tcp", "port": "web"},
        "pods[0].health_check.port: must name one of the pod's ports (gcomm, sql)",
    ),
    (
        "check-no-command",
        "pods.0.readiness_check",
        {"kind": "command"},
        "pods[0].readiness_check.command: required for kind command",
    ),
    (
        "check-kind",
        "pods.0.readiness_check",
        {"kind": "grpc"},
        "pods[0].readiness_check.kind: must be one of command, http, tcp",
    ),
    ("scheduler-not-mapping", "scheduler", "x", "scheduler: must be a mapping"),
]


@pytest.mark.parametrize(("path", "value", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_field_is_named_with_its_fix(path: str, value: Any, expected: str) -> None:
    errors = config.validate(with_change(path, value))
    assert any(expected in e for e in errors), errors


def test_all_errors_are_collected_not_just_the_first() -> None:
    doc = with_change("pods.0.volumes.0.size", 0)
    doc["pods"][1]["cpus"] = -1
    doc["pods"][1]["colour"] = "red"
    doc["pods"][0]["health_check"] = {"kind": "http", "port": "nope"}
    with pytest.raises(config.ConfigError) as raised:
        config.load(yaml.safe_dump(doc), {"http_port": "x"}, {})
    fields = [e.split(":")[0] for e in raised.value.errors]
    assert fields == [
        "pods[0].volumes[0].size",
        "pods[1].colour",
        "pods[1].cpus",
        "pods[0].health_check.port",
        "http_port",
    ]
    assert "pods[1].colour" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", "invalid YAML at line"),
        ('{"name": }', "invalid JSON at line 1"),
        ("- a\n- b\n", "file: must be a mapping"),
    ],
    ids=["yaml-syntax", "json-syntax", "not-a-mapping"],
)
def test_unparseable_files_are_refused(text: str, expected: str) -> None:
    with pytest.raises(config.ConfigError) as raised:
        config.load(text, {}, {})
    assert expected in raised.value.errors[0]


# -- settings ---------------------------------------------------------------------------------------


def test_settings_defaults() -> None:
    built, errors = settings.build({}, {})
    assert errors == []
    assert (
        built.failover_timeout == 604800 and built.role == "mesopress" and built.framework_name == "mesopress"
    )
    assert built.checkpoint is True
    assert built.capabilities == ("MULTI_ROLE", "RESERVATION_REFINEMENT", "PARTITION_AWARE")
    assert built.decline_long_seconds >= 3600


@pytest.mark.parametrize(
    ("flags", "env", "section", "expected"),
    [
        ({}, {}, {"http_port": 9000}, 9000),
        ({}, {"PORT0": "31005"}, {"http_port": 9000}, 31005),
        ({"http_port": "8081"}, {"PORT0": "31005"}, {"http_port": 9000}, 8081),
        ({}, {"PORT0": ""}, {}, 8080),
    ],
    ids=["file", "env-PORT0-beats-file", "flag-beats-env", "empty-env-ignored"],
)
def test_settings_precedence_flag_env_file(flags: dict, env: dict, section: dict, expected: int) -> None:
    built, errors = settings.build(flags, env, section)
    assert errors == [] and built.http_port == expected


def test_marathon_style_environment() -> None:
    env = {
        "PORT0": "31002",
        "MESOS_MASTER": "zk://zk1:2181,zk2:2181/mesos",
        "MESOPRESS_ZK": "zk://zk1:2181/blog",
    }
    built, errors = settings.build({}, env)
    assert errors == []
    assert (built.http_port, built.master, built.zk) == (
        31002,
        "zk://zk1:2181,zk2:2181/mesos",
        "zk://zk1:2181/blog",
    )


def test_flags_are_parsed_from_argv() -> None:
    flags = settings.parse_flags(["--master", "m1:5050", "--http-port", "9001", "--secret-file", "/s"])
    assert flags == {"master": "m1:5050", "http_port": "9001", "secret_file": "/s"}


def test_secret_from_file_is_never_shown() -> None:
    built, errors = settings.build({"secret_file": "/run/secret"}, {}, read_file=lambda path: "s3cret\n")
    assert errors == [] and built.secret == "s3cret"
    assert "s3cret" not in repr(built) and "s3cret" not in str(built.describe())
    assert built.describe()["secret"] == "<set>"


def test_secret_from_env_and_unreadable_file() -> None:
    assert settings.build({}, {"MESOPRESS_SECRET": "x"})[0].secret == "x"

    def missing(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory")

    _, errors = settings.build({}, {"MESOPRESS_SECRET_FILE": "/nope"}, read_file=missing)
    assert errors == [
        "secret_file: cannot read /nope: No such file or directory; fix the path or set $MESOPRESS_SECRET"
    ]


@pytest.mark.parametrize(
    ("flags", "section", "expected"),
    [
        ({"master": "http://m1:5050"}, {}, "master: must be host:port or zk://"),
        ({"zk": "127.0.0.1:2181"}, {}, "zk: must be zk://"),
        ({"http_port": "0"}, {}, "http_port: must be a port between 1 and 65535"),
        ({"http_port": "web"}, {}, "http_port: must be an integer, e.g. 8080"),
        ({"role": "*"}, {}, "role: must be a Mesos role name other than '*'"),
        ({"failover_timeout": "-1"}, {}, "failover_timeout: must be positive"),
        ({}, {"rol": "x"}, "scheduler.rol: unknown setting"),
    ],
    ids=[
        "master-http-scheme",
        "zk-no-scheme",
        "port-zero",
        "port-text",
        "role-star",
        "failover-negative",
        "unknown-key",
    ],
)
def test_invalid_settings_are_named(flags: dict, section: dict, expected: str) -> None:
    _, errors = settings.build(flags, {}, section)
    assert any(e.startswith(expected) for e in errors), errors


def test_framework_info_matches_facts() -> None:
    built, _ = settings.build({"principal": "galera-fw"}, {})
    info = settings.framework_info(built, framework_id="M-0000")
    assert info["roles"] == ["mesopress"] and info["principal"] == "galera-fw"
    assert info["failover_timeout"] == 604800 and info["checkpoint"] is True
    assert {"type": "RESERVATION_REFINEMENT"} in info["capabilities"] and info["id"] == {"value": "M-0000"}


def test_load_file_finds_the_file_from_flag_or_env() -> None:
    files = {"/etc/blog.yaml": EXAMPLE.read_text()}
    loaded = config.load_file({}, {"MESOPRESS_SERVICE_FILE": "/etc/blog.yaml"}, read_file=files.__getitem__)
    assert loaded.service.name == "blog"
    with pytest.raises(config.ConfigError, match="service_file: required"):
        config.load_file({}, {})

    def missing(path: str) -> str:
        raise FileNotFoundError(2, "No such file or directory")

    with pytest.raises(config.ConfigError, match="cannot read /x.yaml: No such file or directory"):
        config.load_file({"service_file": "/x.yaml"}, {}, read_file=missing)


def test_marathon_host_gives_a_web_ui_url() -> None:
    built, errors = settings.build({}, {"HOST": "node7", "PORT0": "31010"})
    assert errors == []
    info = settings.framework_info(built)
    assert info["webui_url"] == "http://node7:31010" and info["hostname"] == "node7" and "id" not in info
    assert "webui_url" not in settings.framework_info(settings.Settings())


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("zk://127.0.0.1:2181/mesopress", ("127.0.0.1:2181", "/mesopress")),
        ("zk://a:1,b:2/x/y/", ("a:1,b:2", "/x/y")),
        ("zk://a:1/", ("a:1", "/")),
    ],
    ids=["single", "ensemble-nested-path", "root"],
)
def test_split_zk(url: str, expected: tuple[str, str]) -> None:
    assert settings.split_zk(url) == expected
