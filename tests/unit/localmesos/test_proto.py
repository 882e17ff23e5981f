"""proto.parse_call: stout's JSON->protobuf rules and Mesos' stateless scheduler call validation.

Each refusal must name the field path, because that message is what a framework author sees in the 400.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from localmesos import proto_fields, proto_messages
from localmesos.proto import ProtoError, UnknownCallType, parse_call

FID = {"value": "M-0000"}
UUID16 = base64.b64encode(bytes(range(16))).decode()

FRAMEWORK = {
    "user": "mysql",
    "name": "galera-sched",
    "roles": ["galera"],
    "principal": "galera-fw",
    "failover_timeout": 100,
    "checkpoint": True,
    "capabilities": [{"type": "MULTI_ROLE"}, {"type": "RESERVATION_REFINEMENT"}, {"type": "GPU_RESOURCES"}],
}
SUBSCRIBE = {"type": "SUBSCRIBE", "subscribe": {"framework_info": FRAMEWORK}}

RESERVATION = [
    {
        "type": "DYNAMIC",
        "role": "galera",
        "principal": "galera-fw",
        "labels": {"labels": [{"key": "pod", "value": "galera-0"}]},
    }
]
DISK = {
    "name": "disk",
    "type": "SCALAR",
    "scalar": {"value": 10240.0},
    "allocation_info": {"role": "galera"},
    "reservations": RESERVATION,
}
VOLUME = {
    **DISK,
    "disk": {
        "persistence": {"id": "galera-0-data", "principal": "galera-fw"},
        "volume": {"container_path": "mysql-data", "mode": "RW"},
    },
}
TASK = {
    "name": "galera-0",
    "task_id": {"value": "galera-0__a7f3"},
    "agent_id": {"value": "M-S1"},
    "resources": [
        VOLUME,
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31001}]}},
    ],
    "command": {
        "shell": True,
        "value": "exec sleep 100",
        "environment": {"variables": [{"name": "GALERA_NODE", "value": "galera-0"}]},
    },
    "health_check": {"type": "TCP", "tcp": {"port": 31000}, "interval_seconds": 5},
    "kill_policy": {"grace_period": {"nanoseconds": 5_000_000_000}},
    "labels": {"labels": [{"key": "volume", "value": "galera-0-data"}]},
}
ACCEPT = {
    "type": "ACCEPT",
    "framework_id": FID,
    "accept": {
        "offer_ids": [{"value": "M-O1"}],
        "operations": [
            {"type": "RESERVE", "reserve": {"resources": [DISK]}},
            {"type": "CREATE", "create": {"volumes": [VOLUME]}},
            {"type": "LAUNCH", "launch": {"task_infos": [TASK]}},
        ],
        "filters": {"refuse_seconds": 5},
    },
}


def with_changes(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Copy of ``base`` with the dotted ``path`` set to ``value`` (``...`` deletes it). Ints index lists."""
    obj = copy.deepcopy(base)
    parts = path.split(".")
    target: Any = obj
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last: Any = int(parts[-1]) if isinstance(target, list) else parts[-1]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return obj


# --- accepted input -------------------------------------------------------------------------------


def test_subscribe_as_pymesos_sends_it_parses_unchanged() -> None:
    assert parse_call(SUBSCRIBE) == SUBSCRIBE | {
        "subscribe": {"framework_info": FRAMEWORK | {"failover_timeout": 100.0}}
    }


def test_accept_with_reserve_create_launch_parses_unchanged() -> None:
    parsed = parse_call(ACCEPT)
    assert parsed["accept"]["operations"][2]["launch"]["task_infos"][0]["resources"][0] == VOLUME
    assert parsed["accept"]["filters"] == {"refuse_seconds": 5.0}
    assert parsed["accept"]["operations"][0]["reserve"]["resources"] == [DISK]


def test_unknown_fields_are_dropped_everywhere() -> None:
    call = with_changes(SUBSCRIBE, "subscribe.framework_info.colour", "blue")
    call["bogus"] = {"x": 1}
    parsed = parse_call(call)
    assert "bogus" not in parsed
    assert "colour" not in parsed["subscribe"]["framework_info"]


def test_null_means_unset() -> None:
    call = with_changes(SUBSCRIBE, "subscribe.framework_info.principal", None)
    call["framework_id"] = None
    parsed = parse_call(call)
    assert "principal" not in parsed["subscribe"]["framework_info"]
    assert "framework_id" not in parsed


def test_unknown_enum_in_optional_field_is_dropped() -> None:
    call = with_changes(
        SUBSCRIBE, "subscribe.framework_info.capabilities", [{"type": "TELEPATHY"}, {"type": "MULTI_ROLE"}]
    )
    assert parse_call(call)["subscribe"]["framework_info"]["capabilities"] == [{}, {"type": "MULTI_ROLE"}]


def test_unknown_call_type_string_leaves_type_unset() -> None:
    with pytest.raises(ProtoError, match="^type: expecting 'type'"):
        parse_call({"type": "FLY", "framework_id": FID})


def test_bytes_are_base64_and_canonicalised() -> None:
    unpadded = UUID16.rstrip("=")
    call = {
        "type": "ACKNOWLEDGE",
        "framework_id": FID,
        "acknowledge": {"agent_id": {"value": "S1"}, "task_id": {"value": "t"}, "uuid": unpadded},
    }
    assert parse_call(call)["acknowledge"]["uuid"] == UUID16


@pytest.mark.parametrize(
    ("path", "given", "expected"),
    [
        ("accept.filters.refuse_seconds", "7.5", 7.5),
        ("accept.filters.refuse_seconds", "Infinity", float("inf")),
        ("accept.filters.refuse_seconds", 3, 3.0),
        ("accept.operations.2.launch.task_infos.0.kill_policy.grace_period.nanoseconds", "1000", 1000),
        ("accept.operations.2.launch.task_infos.0.command.shell", "false", False),
    ],
    ids=["double-from-string", "double-infinity", "double-from-int", "int64-from-string", "bool-from-string"],
)
def test_numbers_and_bools_may_be_strings(path: str, given: Any, expected: Any) -> None:
    parsed = parse_call(with_changes(ACCEPT, path, given))
    value: Any = parsed
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    assert value == expected


def test_single_value_for_repeated_field_is_one_element() -> None:
    call = with_changes(SUBSCRIBE, "subscribe.framework_info.roles", "galera")
    assert parse_call(call)["subscribe"]["framework_info"]["roles"] == ["galera"]


@pytest.mark.parametrize("call_type", ["TEARDOWN", "REVIVE", "SUPPRESS"])
def test_calls_without_required_submessage(call_type: str) -> None:
    assert parse_call({"type": call_type, "framework_id": FID}) == {"type": call_type, "framework_id": FID}


def test_revive_roles_is_repeated_string() -> None:
    call = {"type": "REVIVE", "framework_id": FID, "revive": {"roles": ["a", "b"], "role": "ignored"}}
    assert parse_call(call)["revive"] == {"roles": ["a", "b"]}


def test_reconcile_and_kill_parse() -> None:
    assert parse_call({"type": "RECONCILE", "framework_id": FID, "reconcile": {}})["reconcile"] == {}
    kill = {"type": "KILL", "framework_id": FID, "kill": {"task_id": {"value": "t1"}}}
    assert parse_call(kill) == kill


# --- refused input --------------------------------------------------------------------------------

BAD_INPUT = [
    ("not-an-object", [SUBSCRIBE], "expected a JSON object"),
    (
        "user-is-number",
        with_changes(SUBSCRIBE, "subscribe.framework_info.user", 7),
        "subscribe.framework_info.user: expected a string",
    ),
    (
        "checkpoint-is-number",
        with_changes(SUBSCRIBE, "subscribe.framework_info.checkpoint", 1),
        "subscribe.framework_info.checkpoint: expected a boolean",
    ),
    (
        "failover-timeout-is-bool",
        with_changes(SUBSCRIBE, "subscribe.framework_info.failover_timeout", True),
        "failover_timeout: expected a number",
    ),
    (
        "failover-timeout-not-numeric",
        with_changes(SUBSCRIBE, "subscribe.framework_info.failover_timeout", "soon"),
        "failover_timeout: 'soon' is not a number",
    ),
    (
        "roles-is-object",
        with_changes(SUBSCRIBE, "subscribe.framework_info.roles", {"a": 1}),
        r"roles\[0\]: expected a string",
    ),
    (
        "framework-info-is-string",
        with_changes(SUBSCRIBE, "subscribe.framework_info", "fw"),
        "subscribe.framework_info: expected a JSON object",
    ),
    (
        "offer-id-is-string",
        with_changes(ACCEPT, "accept.offer_ids", ["M-O1"]),
        r"accept.offer_ids\[0\]: expected a JSON object",
    ),
    (
        "scalar-is-array",
        with_changes(ACCEPT, "accept.operations.0.reserve.resources.0.scalar", [{"value": 1}]),
        "scalar: expected a single value",
    ),
    (
        "enum-given-as-number",
        with_changes(ACCEPT, "accept.operations.0.type", 2),
        r"accept.operations\[0\].type: expected an enum name",
    ),
    (
        "user-missing",
        with_changes(SUBSCRIBE, "subscribe.framework_info.user", ...),
        "subscribe.framework_info.user: required field missing",
    ),
    (
        "name-missing",
        with_changes(SUBSCRIBE, "subscribe.framework_info.name", ...),
        "subscribe.framework_info.name: required field missing",
    ),
    (
        "id-value-missing",
        {"type": "TEARDOWN", "framework_id": {}},
        "framework_id.value: required field missing",
    ),
    (
        "resource-name-missing",
        with_changes(ACCEPT, "accept.operations.0.reserve.resources.0.name", ...),
        r"reserve.resources\[0\].name: required field missing",
    ),
    (
        "task-agent-id-missing",
        with_changes(ACCEPT, "accept.operations.2.launch.task_infos.0.agent_id", ...),
        r"launch.task_infos\[0\].agent_id: required field missing",
    ),
    (
        "volume-mode-missing",
        with_changes(ACCEPT, "accept.operations.1.create.volumes.0.disk.volume.mode", ...),
        "disk.volume.mode: required field missing",
    ),
    (
        "required-enum-unknown",
        with_changes(ACCEPT, "accept.operations.0.reserve.resources.0.type", "FLOAT"),
        "type: unknown enum value 'FLOAT'",
    ),
    (
        "port-negative",
        with_changes(ACCEPT, "accept.operations.2.launch.task_infos.0.health_check.tcp.port", -1),
        "tcp.port: -1 is out of range for uint32",
    ),
    (
        "bad-base64",
        {
            "type": "MESSAGE",
            "framework_id": FID,
            "message": {"agent_id": {"value": "S"}, "executor_id": {"value": "e"}, "data": "%%%"},
        },
        "message.data: invalid base64",
    ),
    (
        "kill-task-id-missing",
        {"type": "KILL", "framework_id": FID, "kill": {}},
        "kill.task_id: required field missing",
    ),
]


@pytest.mark.parametrize(
    ("call", "message"), [(c, m) for _, c, m in BAD_INPUT], ids=[i for i, _, _ in BAD_INPUT]
)
def test_bad_input_is_refused_naming_the_field(call: Any, message: str) -> None:
    with pytest.raises(ProtoError, match=message) as info:
        parse_call(call)
    assert not isinstance(info.value, UnknownCallType)


def test_missing_type() -> None:
    with pytest.raises(ProtoError, match="^type: expecting 'type' to be present"):
        parse_call({"framework_id": FID})


@pytest.mark.parametrize("call_type", sorted(proto_messages.REQUIRED_SUBMESSAGE))
def test_missing_submessage_for_type(call_type: str) -> None:
    call: dict[str, Any] = {"type": call_type, "framework_id": FID}
    if call_type == "SUBSCRIBE":
        del call["framework_id"]
    sub = proto_messages.REQUIRED_SUBMESSAGE[call_type]
    with pytest.raises(ProtoError, match=f"^{sub}: expecting '{sub}' to be present"):
        parse_call(call)


@pytest.mark.parametrize(
    "call_type",
    ["TEARDOWN", "ACCEPT", "DECLINE", "REVIVE", "SUPPRESS", "KILL", "ACKNOWLEDGE", "RECONCILE", "MESSAGE"],
)
def test_missing_framework_id_on_non_subscribe(call_type: str) -> None:
    with pytest.raises(ProtoError, match="^framework_id: expecting 'framework_id' to be present"):
        parse_call({"type": call_type})


@pytest.mark.parametrize("size", [0, 15, 17, 32], ids=lambda n: f"{n}-bytes")
def test_acknowledge_uuid_must_be_16_bytes(size: int) -> None:
    uuid = base64.b64encode(b"x" * size).decode()
    call = {
        "type": "ACKNOWLEDGE",
        "framework_id": FID,
        "acknowledge": {"agent_id": {"value": "S1"}, "task_id": {"value": "t"}, "uuid": uuid},
    }
    with pytest.raises(ProtoError, match="acknowledge.uuid: not a valid UUID"):
        parse_call(call)


def test_acknowledge_operation_status_needs_agent_id() -> None:
    call = {
        "type": "ACKNOWLEDGE_OPERATION_STATUS",
        "framework_id": FID,
        "acknowledge_operation_status": {"uuid": UUID16, "operation_id": {"value": "op1"}},
    }
    with pytest.raises(ProtoError, match="acknowledge_operation_status.agent_id: expecting 'agent_id'"):
        parse_call(call)
    call["acknowledge_operation_status"]["agent_id"] = {"value": "S1"}
    assert parse_call(call)["acknowledge_operation_status"]["agent_id"] == {"value": "S1"}


def test_acknowledge_operation_status_uuid_object_as_pymesos_sends_it_is_refused() -> None:
    call = {
        "type": "ACKNOWLEDGE_OPERATION_STATUS",
        "framework_id": FID,
        "acknowledge_operation_status": {
            "agent_id": {"value": "S1"},
            "uuid": {"value": UUID16},
            "operation_id": {"value": "op1"},
        },
    }
    with pytest.raises(ProtoError, match="acknowledge_operation_status.uuid: expected a base64 string"):
        parse_call(call)


@pytest.mark.parametrize(
    ("top", "inner"),
    [(FID, None), (None, FID), (FID, {"value": "other"})],
    ids=["top-only", "info-only", "different"],
)
def test_subscribe_framework_id_must_match_framework_info_id(top: Any, inner: Any) -> None:
    call = with_changes(SUBSCRIBE, "subscribe.framework_info.id", inner)
    call["framework_id"] = top
    with pytest.raises(ProtoError, match="^framework_id: 'framework_id' differs"):
        parse_call(call)


def test_subscribe_with_matching_ids_is_accepted() -> None:
    call = with_changes(SUBSCRIBE, "subscribe.framework_info.id", FID)
    call["framework_id"] = FID
    assert parse_call(call)["framework_id"] == FID


def test_unknown_type_is_not_implemented() -> None:
    with pytest.raises(UnknownCallType):
        parse_call({"type": "UNKNOWN", "framework_id": FID})


def test_update_framework_id_must_match() -> None:
    call = {
        "type": "UPDATE_FRAMEWORK",
        "framework_id": FID,
        "update_framework": {"framework_info": FRAMEWORK | {"id": {"value": "x"}}},
    }
    with pytest.raises(ProtoError, match="differs from 'framework_id'"):
        parse_call(call)


def test_every_message_type_reference_is_defined() -> None:
    for message, fields in proto_messages.MESSAGES.items():
        for name, field in fields.items():
            kind = field.type
            if kind.startswith("enum:"):
                assert kind[5:] in proto_fields.ENUMS, f"{message}.{name}"
            elif kind not in proto_fields.SCALAR_TYPES and kind != proto_fields.OPAQUE:
                assert kind in proto_messages.MESSAGES, f"{message}.{name} -> {kind}"
