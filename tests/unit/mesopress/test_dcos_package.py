"""The DC/OS package in dcos/: rendered as Cosmos renders it, then held against the real scheduler.

Why: nothing else runs the package (there is no DC/OS cluster here), so a renamed setting, an option
the template forgets, a typo in a `{{name}}` or a service file the loader refuses would only show at an
operator's install. The template is rendered with the config.json defaults and with
dcos/options-example.json (every option changed) by tests/support/mustache.py; the app is compared with
marathon-apps/mesopress-scheduler.json; every env name is checked against `mesopress.settings`; the
scheduler's command line is run up to its `exec` (the shell writes the service file from the env) and
the result goes through `mesopress.cli.load`, the scheduler's own configuration path, with no server.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from mesopress import cli, settings
from mesopress.kinds.wordpress import SITE_ENV
from mesopress.model import ids
from support.mustache import names, render

ROOT = Path(__file__).resolve().parents[3]
DCOS = ROOT / "dcos"
ARTIFACTS = "https://artifacts.test/mesopress/0.1.0"
TYPES = {"object", "string", "integer", "number", "boolean", "array"}
HAND_APP = json.loads((ROOT / "marathon-apps" / "mesopress-scheduler.json").read_text())
# Env names the template may set besides the settings: consumed by its own `cmd` (checked) or Python's.
PACKAGE_ENV = {"MESOPRESS_SERVICE_JSON"}
RUNTIME_ENV = {"PYTHONUNBUFFERED"}


def config() -> dict[str, Any]:
    return json.loads((DCOS / "config.json").read_text())


def template() -> str:
    return (DCOS / "marathon.json.mustache").read_text()


def example_options() -> dict[str, Any]:
    return json.loads((DCOS / "options-example.json").read_text())


def published_resource() -> dict[str, Any]:
    """resource.json as published: `{{artifact-dir}}` replaced by where the artifacts are hosted."""
    return json.loads((DCOS / "resource.json").read_text().replace("{{artifact-dir}}", ARTIFACTS))


def leaves(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted option name, its schema) for every non-object property."""
    for key, prop in schema.get("properties", {}).items():
        name = f"{prefix}{key}"
        if prop.get("type") == "object":
            yield from leaves(prop, name + ".")
        else:
            yield name, prop


def defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: defaults(prop) if prop.get("type") == "object" else prop["default"]
        for key, prop in schema["properties"].items()
    }


def merged(base: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in options.items():
        out[key] = merged(out.get(key, {}), value) if isinstance(value, Mapping) else value
    return out


def violations(schema: Mapping[str, Any], value: Any, path: str = "options") -> list[str]:
    """What Cosmos' JSON Schema check would refuse in `value`, for the keywords config.json uses."""
    kind = schema.get("type")
    python = {"object": dict, "string": str, "integer": int, "number": int | float, "boolean": bool}
    if kind in python and (not isinstance(value, python[kind]) or (kind != "boolean" and value is True)):
        return [f"{path}: must be {kind}"]
    errors = []
    if kind == "object":
        errors += [f"{path}.{k}: required" for k in schema.get("required", []) if k not in value]
        for key, item in value.items():
            if key not in schema["properties"]:
                errors.append(f"{path}.{key}: unknown option")
            else:
                errors += violations(schema["properties"][key], item, f"{path}.{key}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: not one of {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{path}: below {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        errors.append(f"{path}: above {schema['maximum']}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        errors.append(f"{path}: does not match {schema['pattern']}")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        errors.append(f"{path}: longer than {schema['maxLength']}")
    return errors


def rendered(options: Mapping[str, Any]) -> dict[str, Any]:
    context = merged(defaults(config()), options)
    assert violations(config(), context) == []
    text = render(template(), context | {"resource": published_resource()}, strict=True)
    return json.loads(text)


OPTION_SETS = {"defaults": {}, "every-option-changed": example_options()}


# --- config.json --------------------------------------------------------------------------------------


def test_config_json_is_a_draft_04_schema_with_a_typed_documented_default_for_every_option() -> None:
    schema = config()
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["type"] == "object"

    def check_object(node: Mapping[str, Any], path: str) -> None:
        assert node.get("description") or path == "", f"{path}: object without a description"
        assert isinstance(node.get("properties"), dict) and node["properties"], f"{path}: no properties"
        assert set(node.get("required", [])) <= set(node["properties"]), f"{path}: required names unknown"
        for key, prop in node["properties"].items():
            where = f"{path}.{key}".lstrip(".")
            assert prop.get("type") in TYPES, f"{where}: type must be one of {sorted(TYPES)}"
            if prop["type"] == "object":
                check_object(prop, where)
                continue
            assert len(prop.get("description", "")) >= 20, f"{where}: say what the option means"
            assert "default" in prop, f"{where}: every option needs a default"
            assert violations(prop, prop["default"], where) == [], (
                f"{where}: the default breaks its own schema"
            )

    check_object(schema, "")


def test_string_options_cannot_carry_quotes_or_backslashes_into_the_rendered_json() -> None:
    # The template inserts strings into JSON (and the service file into a JSON string in the env), so
    # every string option's pattern must refuse what would need escaping.
    for name, prop in leaves(config()):
        if prop["type"] == "string":
            for bad in ('a"b', "a\\b", "a\nb"):
                assert violations(prop, bad, name), f"{name}: pattern accepts {bad!r}"


def test_service_name_pattern_is_the_schedulers_name_rule() -> None:
    prop = config()["properties"]["service"]["properties"]["name"]
    assert prop["pattern"] == ids.NAME_PATTERN.pattern and prop["maxLength"] == 40


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"service": {"instances": 1}}, "service.instances: below 2"),
        ({"galera": {"size": 4}}, "galera.size: not one of"),
        ({"service": {"name": "Blog"}}, "service.name: does not match"),
        ({"galera": {"volume_mb": 512}}, "galera.volume_mb: below 1024"),
        ({"wordpress": {"count": "2"}}, "wordpress.count: must be integer"),
        ({"wordpress": {"titel": "x"}}, "wordpress.titel: unknown option"),
    ],
)
def test_bad_options_are_refused_by_the_schema(options: dict[str, Any], reason: str) -> None:
    errors = violations(config(), merged(defaults(config()), options))
    assert any(reason in e for e in errors), errors


def test_the_example_options_change_every_option() -> None:
    base, example = defaults(config()), example_options()
    for name, _ in leaves(config()):
        keys = name.split(".")
        assert keys[1] in example[keys[0]], f"{name}: not in options-example.json"
        assert example[keys[0]][keys[1]] != base[keys[0]][keys[1]], f"{name}: same as the default"


# --- the template and resource.json ----------------------------------------------------------------------


def test_every_option_is_used_and_every_template_name_is_an_option_or_a_resource() -> None:
    used = names(template())
    options = {name for name, _ in leaves(config())}
    resources = {n for n in used if n.startswith("resource.")}
    assert not used - resources - options, f"not options: {sorted(used - resources - options)}"
    assert not options - used, f"options the template ignores: {sorted(options - used)}"
    for name in resources:
        value: Any = {"resource": published_resource()}
        for part in name.split("."):
            assert isinstance(value, dict) and part in value, f"{name}: not in resource.json"
            value = value[part]


def test_resource_json_uses_only_the_artifact_dir_placeholder() -> None:
    text = (DCOS / "resource.json").read_text()
    assert set(re.findall(r"\{\{[^}]*\}\}", text)) == {"{{artifact-dir}}"}
    assert "{{" not in json.dumps(published_resource())


def test_package_json_is_a_4_0_framework_package_that_says_how_to_get_the_admin_password() -> None:
    package = json.loads((DCOS / "package.json").read_text())
    assert package["packagingVersion"] == "4.0" and package["name"] == "mesopress"
    assert package["framework"] is True and package["tags"] and package["maintainer"]
    assert re.match(r"^\d+\.\d+\.\d+", package["version"])
    assert "secret wordpress-admin-password" in package["postInstallNotes"]
    assert "mesopress uninstall" in package["preInstallNotes"]
    assert not (DCOS / "command.json").exists(), "packagingVersion 4.0 does not support command.json"


# --- the rendered Marathon app -----------------------------------------------------------------------


@pytest.mark.parametrize("options", OPTION_SETS.values(), ids=OPTION_SETS.keys())
def test_rendered_app_has_the_hand_written_apps_essential_fields(options: dict[str, Any]) -> None:
    app, values = rendered(options), merged(defaults(config()), options)
    service = values["service"]
    assert app["id"] == f"/{service['name']}"
    assert app["instances"] == service["instances"] >= 2
    assert (app["cpus"], app["mem"], app["user"]) == (service["cpus"], service["mem"], service["user"])
    assert app["cmd"].rstrip().endswith("-m mesopress scheduler")
    for key in ("portDefinitions", "requirePorts", "constraints", "unreachableStrategy", "killSelection"):
        assert app[key] == HAND_APP[key], key
    check, hand = app["healthChecks"][0], HAND_APP["healthChecks"][0]
    for key in ("protocol", "path", "portIndex", "maxConsecutiveFailures"):
        assert check[key] == hand[key], key
    assert check["path"] == "/v1/health"
    # HA kept during an upgrade: at least one scheduler stays, and the upgrade can still proceed.
    strategy = app["upgradeStrategy"]
    assert strategy == HAND_APP["upgradeStrategy"]
    assert 1 <= app["instances"] * strategy["minimumHealthCapacity"] < app["instances"]
    assert app["labels"]["DCOS_PACKAGE_FRAMEWORK_NAME"] == app["env"]["MESOPRESS_FRAMEWORK_NAME"]
    assert app["fetch"][0]["uri"] == published_resource()["assets"]["uris"]["mesopress-wheelhouse"]


def test_secret_is_referenced_only_when_a_secret_name_is_given() -> None:
    plain, secured = rendered({}), rendered(example_options())
    assert "secrets" not in plain and settings.SECRET_ENV not in plain["env"]
    source = example_options()["service"]["secret_name"]
    assert secured["secrets"] == {"principal-secret": {"source": source}}
    assert secured["env"][settings.SECRET_ENV] == {"secret": "principal-secret"}


@pytest.mark.parametrize("options", OPTION_SETS.values(), ids=OPTION_SETS.keys())
def test_every_env_name_is_one_the_scheduler_reads(options: dict[str, Any]) -> None:
    env, cmd = rendered(options)["env"], rendered(options)["cmd"]
    by_setting = {o.name: o.env for o in settings.OPTIONS}
    read = set(by_setting.values()) | {settings.SECRET_ENV, settings.SECRET_FILE_ENV, cli.SESSION_ENV}
    unknown = set(env) - read - PACKAGE_ENV - RUNTIME_ENV
    assert not unknown, f"env names the scheduler does not read (renamed setting?): {sorted(unknown)}"
    for name in PACKAGE_ENV:
        assert f'"${name}"' in cmd, f"{name} is set for the cmd but the cmd does not use it"
    assert not {"PORT0", "HOST"} & set(env), "Marathon sets PORT0 and HOST itself"
    essential = [
        "master",
        "zk",
        "framework_name",
        "role",
        "principal",
        "user",
        "failover_timeout",
        "service_file",
    ]
    assert {by_setting[s] for s in essential} <= set(env)
    hand = set(HAND_APP["env"]) - {settings.SECRET_FILE_ENV}  # the package uses a DC/OS secret instead
    assert hand <= set(env) | PACKAGE_ENV, sorted(hand - set(env))


@pytest.mark.parametrize("options", OPTION_SETS.values(), ids=OPTION_SETS.keys())
def test_the_cmd_writes_a_service_file_the_schedulers_own_loader_accepts(
    options: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, values = rendered(options), merged(defaults(config()), options)
    env = {k: "principal-password" if isinstance(v, dict) else v for k, v in app["env"].items()}
    marathon = {"PORT0": "31005", "HOST": "agent-1.example.com", "MESOS_SANDBOX": str(tmp_path)}
    *setup, last = app["cmd"].split(" && ")
    writes = [part for part in setup if "MESOPRESS_SERVICE_JSON" in part]
    assert len(writes) == 1 and last.startswith("exec ")
    # The shell step runs for real, in the sandbox (cwd), with the app's env only.
    subprocess.run(["sh", "-c", writes[0]], env=env | marathon, cwd=tmp_path, check=True, timeout=30)
    argv = shlex.split(last)
    args = argv[argv.index("scheduler") + 1 :]
    for option in settings.OPTIONS:
        monkeypatch.delenv(option.env, raising=False)
    for name in (settings.SECRET_ENV, settings.SECRET_FILE_ENV, cli.SESSION_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env | marathon).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    loaded = cli.load(args)

    assert loaded is not None, "the scheduler refused the rendered configuration (errors on stderr)"
    s, service = loaded.settings, loaded.service
    opts = values["service"]
    assert (s.framework_name, s.role, s.principal, s.user) == (
        opts["name"],
        opts["role"],
        opts["principal"],
        opts["user"],
    )
    assert (s.master, s.zk, s.failover_timeout) == (
        opts["mesos_master"],
        opts["zk"],
        opts["failover_timeout"],
    )
    assert (s.http_port, s.hostname) == (31005, "agent-1.example.com")
    assert bool(s.secret) == bool(opts["secret_name"])
    pods = {p.name: p for p in service.pods}
    galera, web, media, proxy = values["galera"], values["wordpress"], pods["media"], pods["proxy"]
    assert service.name == opts["name"] and service.role == opts["role"]
    assert (pods["galera"].count, pods["galera"].cpus, pods["galera"].mem) == (
        galera["size"],
        galera["cpus"],
        galera["mem"],
    )
    assert [(v.container_path, v.size) for v in pods["galera"].volumes] == [
        ("mysql-data", galera["volume_mb"])
    ]
    assert json.loads(pods["galera"].kind_settings)["size"] == galera["size"]
    assert (pods["wordpress"].count, pods["wordpress"].cpus, pods["wordpress"].mem) == (
        web["count"],
        web["cpus"],
        web["mem"],
    )
    assert [(v.container_path, v.size) for v in media.volumes] == [("uploads", web["uploads_volume_mb"])]
    assert {p.name: p.port for p in proxy.ports} == {
        "http": values["proxy"]["http_port"],
        "mysql": values["proxy"]["mysql_port"],
    }
    site = dict(pods["wordpress"].env)
    for option in ("title", "admin_user", "admin_email", "public_url"):
        assert site[SITE_ENV[option]] == web[option], f"wordpress.{option} was altered (escaped?)"
