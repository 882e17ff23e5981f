"""Strict parsing of v1 scheduler ``Call`` JSON, the way a Mesos 1.11 master parses it.

Why this module exists: a framework that works against localmesos must also work against Mesos, so
localmesos must refuse exactly what Mesos refuses at the HTTP layer (facts §1.1, §1.3). Mesos turns the
JSON body into a protobuf with stout's JSON->protobuf parser and then runs stateless call validation;
both steps answer 400. We have no protobuf runtime, so the subset of ``mesos.v1`` / ``mesos.v1.scheduler``
messages that a scheduler can send is written down below as plain data (message -> field -> type and
label), transcribed from include/mesos/v1/mesos.proto and include/mesos/v1/scheduler/scheduler.proto.

Parsing rules (stout ``protobuf::parse``): unknown JSON fields are dropped; ``null`` means unset; enums are
name strings (an unknown name leaves an optional field unset and fails a required one); ``bytes`` are
standard base64 (re-emitted in canonical padded form); numbers may also be given as numeric strings
(doubles also as ``"Infinity"``), booleans as ``"true"``/``"false"``; a single value given for a repeated
field counts as one element; any other JSON type mismatch is an error, and so is a missing required field.
Deep container/docker details we never interpret (``DockerInfo``, ``LinuxInfo``, ...) are accepted as any
JSON object and copied unchanged: the trade-off is less strictness where no test or framework of ours
ever sends data.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any, NamedTuple

REQUIRED = "required"
OPTIONAL = "optional"
REPEATED = "repeated"
MAP = "map"

SCALAR_TYPES = ("string", "bytes", "bool", "double", "int32", "int64", "uint32", "uint64")
OPAQUE = "object"  # any JSON object, not interpreted

_INT_BOUNDS = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}


class ProtoError(ValueError):
    """The call does not parse or does not validate; the message names the field path (HTTP 400)."""


class UnknownCallType(ProtoError):
    """The call's type is UNKNOWN (HTTP 501 Not Implemented)."""


class Field(NamedTuple):
    type: str  # a scalar type, "enum:<Name>", a message name, or OPAQUE
    label: str


def req(type_: str) -> Field:
    return Field(type_, REQUIRED)


def opt(type_: str) -> Field:
    return Field(type_, OPTIONAL)


def rep(type_: str) -> Field:
    return Field(type_, REPEATED)


def mapof(type_: str) -> Field:
    """A proto ``map<string, T>``: a JSON object whose values are T."""
    return Field(type_, MAP)


_ID = {"value": req("string")}

ENUMS: dict[str, tuple[str, ...]] = {
    "Call.Type": (
        "UNKNOWN",
        "SUBSCRIBE",
        "TEARDOWN",
        "ACCEPT",
        "DECLINE",
        "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS",
        "REVIVE",
        "KILL",
        "SHUTDOWN",
        "ACKNOWLEDGE",
        "ACKNOWLEDGE_OPERATION_STATUS",
        "RECONCILE",
        "RECONCILE_OPERATIONS",
        "MESSAGE",
        "REQUEST",
        "SUPPRESS",
        "UPDATE_FRAMEWORK",
    ),
    "FrameworkInfo.Capability.Type": (
        "UNKNOWN",
        "REVOCABLE_RESOURCES",
        "TASK_KILLING_STATE",
        "GPU_RESOURCES",
        "SHARED_RESOURCES",
        "PARTITION_AWARE",
        "MULTI_ROLE",
        "RESERVATION_REFINEMENT",
        "REGION_AWARE",
    ),
    "Value.Type": ("SCALAR", "RANGES", "SET", "TEXT"),
    "Resource.ReservationInfo.Type": ("UNKNOWN", "STATIC", "DYNAMIC"),
    "Resource.DiskInfo.Source.Type": ("UNKNOWN", "PATH", "MOUNT", "BLOCK", "RAW"),
    "Volume.Mode": ("RW", "RO"),
    "Volume.Source.Type": ("UNKNOWN", "DOCKER_VOLUME", "HOST_PATH", "SANDBOX_PATH", "SECRET", "CSI_VOLUME"),
    "Volume.Source.SandboxPath.Type": ("UNKNOWN", "SELF", "PARENT"),
    "Image.Type": ("APPC", "DOCKER"),
    "Secret.Type": ("UNKNOWN", "REFERENCE", "VALUE"),
    "Environment.Variable.Type": ("UNKNOWN", "VALUE", "SECRET"),
    "HealthCheck.Type": ("UNKNOWN", "COMMAND", "HTTP", "TCP"),
    "CheckInfo.Type": ("UNKNOWN", "COMMAND", "HTTP", "TCP"),
    "NetworkInfo.Protocol": ("IPv4", "IPv6"),
    "ExecutorInfo.Type": ("UNKNOWN", "DEFAULT", "CUSTOM"),
    "ContainerInfo.Type": ("DOCKER", "MESOS"),
    "DiscoveryInfo.Visibility": ("FRAMEWORK", "CLUSTER", "EXTERNAL"),
    "Offer.Operation.Type": (
        "UNKNOWN",
        "LAUNCH",
        "LAUNCH_GROUP",
        "RESERVE",
        "UNRESERVE",
        "CREATE",
        "DESTROY",
        "GROW_VOLUME",
        "SHRINK_VOLUME",
        "CREATE_DISK",
        "DESTROY_DISK",
    ),
}

MESSAGES: dict[str, dict[str, Field]] = {
    # --- ids and small values -------------------------------------------------------------------
    "FrameworkID": _ID,
    "OfferID": _ID,
    "AgentID": _ID,
    "TaskID": _ID,
    "ExecutorID": _ID,
    "ResourceProviderID": _ID,
    "OperationID": _ID,
    "ContainerID": {"value": req("string"), "parent": opt("ContainerID")},
    "TimeInfo": {"nanoseconds": req("int64")},
    "DurationInfo": {"nanoseconds": req("int64")},
    "Label": {"key": req("string"), "value": opt("string")},
    "Labels": {"labels": rep("Label")},
    "Parameter": {"key": req("string"), "value": req("string")},
    "Parameters": {"parameter": rep("Parameter")},
    "Value.Scalar": {"value": req("double")},
    "Value.Range": {"begin": req("uint64"), "end": req("uint64")},
    "Value.Ranges": {"range": rep("Value.Range")},
    "Value.Set": {"item": rep("string")},
    "Value.Text": {"value": req("string")},
    "Attribute": {
        "name": req("string"),
        "type": req("enum:Value.Type"),
        "scalar": opt("Value.Scalar"),
        "ranges": opt("Value.Ranges"),
        "set": opt("Value.Set"),
        "text": opt("Value.Text"),
    },
    # --- resources ------------------------------------------------------------------------------
    "Resource": {
        "provider_id": opt("ResourceProviderID"),
        "name": req("string"),
        "type": req("enum:Value.Type"),
        "scalar": opt("Value.Scalar"),
        "ranges": opt("Value.Ranges"),
        "set": opt("Value.Set"),
        "role": opt("string"),
        "allocation_info": opt("Resource.AllocationInfo"),
        "reservation": opt("Resource.ReservationInfo"),
        "reservations": rep("Resource.ReservationInfo"),
        "disk": opt("Resource.DiskInfo"),
        "revocable": opt("Resource.RevocableInfo"),
        "shared": opt("Resource.SharedInfo"),
    },
    "Resource.AllocationInfo": {"role": opt("string")},
    "Resource.ReservationInfo": {
        "type": opt("enum:Resource.ReservationInfo.Type"),
        "role": opt("string"),
        "principal": opt("string"),
        "labels": opt("Labels"),
    },
    "Resource.DiskInfo": {
        "persistence": opt("Resource.DiskInfo.Persistence"),
        "volume": opt("Volume"),
        "source": opt("Resource.DiskInfo.Source"),
    },
    "Resource.DiskInfo.Persistence": {"id": req("string"), "principal": opt("string")},
    "Resource.DiskInfo.Source": {
        "type": req("enum:Resource.DiskInfo.Source.Type"),
        "path": opt("Resource.DiskInfo.Source.Path"),
        "mount": opt("Resource.DiskInfo.Source.Mount"),
        "vendor": opt("string"),
        "id": opt("string"),
        "metadata": opt("Labels"),
        "profile": opt("string"),
    },
    "Resource.DiskInfo.Source.Path": {"root": opt("string")},
    "Resource.DiskInfo.Source.Mount": {"root": opt("string")},
    "Resource.RevocableInfo": {},
    "Resource.SharedInfo": {},
    "Request": {"agent_id": opt("AgentID"), "resources": rep("Resource")},
    "Filters": {"refuse_seconds": opt("double")},
    # --- volumes, images, secrets ---------------------------------------------------------------
    "Volume": {
        "mode": req("enum:Volume.Mode"),
        "container_path": req("string"),
        "host_path": opt("string"),
        "image": opt("Image"),
        "source": opt("Volume.Source"),
    },
    "Volume.Source": {
        "type": opt("enum:Volume.Source.Type"),
        "docker_volume": opt(OPAQUE),
        "host_path": opt("Volume.Source.HostPath"),
        "sandbox_path": opt("Volume.Source.SandboxPath"),
        "secret": opt("Secret"),
        "csi_volume": opt(OPAQUE),
    },
    "Volume.Source.HostPath": {"path": req("string"), "mount_propagation": opt(OPAQUE)},
    "Volume.Source.SandboxPath": {"type": opt("enum:Volume.Source.SandboxPath.Type"), "path": req("string")},
    "Image": {
        "type": req("enum:Image.Type"),
        "appc": opt(OPAQUE),
        "docker": opt(OPAQUE),
        "cached": opt("bool"),
    },
    "Secret": {
        "type": opt("enum:Secret.Type"),
        "reference": opt("Secret.Reference"),
        "value": opt("Secret.Value"),
    },
    "Secret.Reference": {"name": req("string"), "key": opt("string")},
    "Secret.Value": {"data": req("bytes")},
    # --- commands, checks -----------------------------------------------------------------------
    "Environment": {"variables": rep("Environment.Variable")},
    "Environment.Variable": {
        "name": req("string"),
        "type": opt("enum:Environment.Variable.Type"),
        "value": opt("string"),
        "secret": opt("Secret"),
    },
    "CommandInfo": {
        "uris": rep("CommandInfo.URI"),
        "environment": opt("Environment"),
        "shell": opt("bool"),
        "value": opt("string"),
        "arguments": rep("string"),
        "user": opt("string"),
    },
    "CommandInfo.URI": {
        "value": req("string"),
        "executable": opt("bool"),
        "extract": opt("bool"),
        "cache": opt("bool"),
        "output_file": opt("string"),
    },
    "HealthCheck": {
        "delay_seconds": opt("double"),
        "interval_seconds": opt("double"),
        "timeout_seconds": opt("double"),
        "consecutive_failures": opt("uint32"),
        "grace_period_seconds": opt("double"),
        "type": opt("enum:HealthCheck.Type"),
        "command": opt("CommandInfo"),
        "http": opt("HealthCheck.HTTPCheckInfo"),
        "tcp": opt("HealthCheck.TCPCheckInfo"),
    },
    "HealthCheck.HTTPCheckInfo": {
        "protocol": opt("enum:NetworkInfo.Protocol"),
        "scheme": opt("string"),
        "port": req("uint32"),
        "path": opt("string"),
        "statuses": rep("uint32"),
    },
    "HealthCheck.TCPCheckInfo": {"protocol": opt("enum:NetworkInfo.Protocol"), "port": req("uint32")},
    "CheckInfo": {
        "type": opt("enum:CheckInfo.Type"),
        "command": opt("CheckInfo.Command"),
        "http": opt("CheckInfo.Http"),
        "tcp": opt("CheckInfo.Tcp"),
        "delay_seconds": opt("double"),
        "interval_seconds": opt("double"),
        "timeout_seconds": opt("double"),
    },
    "CheckInfo.Command": {"command": req("CommandInfo")},
    "CheckInfo.Http": {"port": req("uint32"), "path": opt("string")},
    "CheckInfo.Tcp": {"port": req("uint32")},
    "KillPolicy": {"grace_period": opt("DurationInfo")},
    # --- containers, discovery ------------------------------------------------------------------
    "ContainerInfo": {
        "type": req("enum:ContainerInfo.Type"),
        "volumes": rep("Volume"),
        "hostname": opt("string"),
        "docker": opt(OPAQUE),
        "mesos": opt("ContainerInfo.MesosInfo"),
        "network_infos": rep("NetworkInfo"),
        "linux_info": opt(OPAQUE),
        "rlimit_info": opt(OPAQUE),
        "tty_info": opt(OPAQUE),
    },
    "ContainerInfo.MesosInfo": {"image": opt("Image")},
    "NetworkInfo": {
        "ip_addresses": rep("NetworkInfo.IPAddress"),
        "name": opt("string"),
        "groups": rep("string"),
        "labels": opt("Labels"),
        "port_mappings": rep("NetworkInfo.PortMapping"),
    },
    "NetworkInfo.IPAddress": {"protocol": opt("enum:NetworkInfo.Protocol"), "ip_address": opt("string")},
    "NetworkInfo.PortMapping": {
        "host_port": req("uint32"),
        "container_port": req("uint32"),
        "protocol": opt("string"),
    },
    "DiscoveryInfo": {
        "visibility": req("enum:DiscoveryInfo.Visibility"),
        "name": opt("string"),
        "environment": opt("string"),
        "location": opt("string"),
        "version": opt("string"),
        "ports": opt("Ports"),
        "labels": opt("Labels"),
    },
    "Ports": {"ports": rep("Port")},
    "Port": {
        "number": req("uint32"),
        "name": opt("string"),
        "protocol": opt("string"),
        "visibility": opt("enum:DiscoveryInfo.Visibility"),
        "labels": opt("Labels"),
    },
    # --- frameworks, executors, tasks -----------------------------------------------------------
    "FrameworkInfo": {
        "user": req("string"),
        "name": req("string"),
        "id": opt("FrameworkID"),
        "failover_timeout": opt("double"),
        "checkpoint": opt("bool"),
        "role": opt("string"),
        "roles": rep("string"),
        "hostname": opt("string"),
        "principal": opt("string"),
        "webui_url": opt("string"),
        "capabilities": rep("FrameworkInfo.Capability"),
        "labels": opt("Labels"),
        "offer_filters": mapof(OPAQUE),
    },
    "FrameworkInfo.Capability": {"type": opt("enum:FrameworkInfo.Capability.Type")},
    "ExecutorInfo": {
        "type": opt("enum:ExecutorInfo.Type"),
        "executor_id": req("ExecutorID"),
        "framework_id": opt("FrameworkID"),
        "command": opt("CommandInfo"),
        "container": opt("ContainerInfo"),
        "resources": rep("Resource"),
        "name": opt("string"),
        "source": opt("string"),
        "data": opt("bytes"),
        "discovery": opt("DiscoveryInfo"),
        "shutdown_grace_period": opt("DurationInfo"),
        "labels": opt("Labels"),
    },
    "TaskInfo": {
        "name": req("string"),
        "task_id": req("TaskID"),
        "agent_id": req("AgentID"),
        "resources": rep("Resource"),
        "executor": opt("ExecutorInfo"),
        "command": opt("CommandInfo"),
        "container": opt("ContainerInfo"),
        "health_check": opt("HealthCheck"),
        "check": opt("CheckInfo"),
        "kill_policy": opt("KillPolicy"),
        "data": opt("bytes"),
        "labels": opt("Labels"),
        "discovery": opt("DiscoveryInfo"),
        "max_completion_time": opt("DurationInfo"),
        "limits": mapof("Value.Scalar"),
    },
    "TaskGroupInfo": {"tasks": rep("TaskInfo")},
    # --- offer operations -----------------------------------------------------------------------
    "Offer.Operation": {
        "type": opt("enum:Offer.Operation.Type"),
        "id": opt("OperationID"),
        "launch": opt("Offer.Operation.Launch"),
        "launch_group": opt("Offer.Operation.LaunchGroup"),
        "reserve": opt("Offer.Operation.Reserve"),
        "unreserve": opt("Offer.Operation.Unreserve"),
        "create": opt("Offer.Operation.Create"),
        "destroy": opt("Offer.Operation.Destroy"),
        "grow_volume": opt("Offer.Operation.GrowVolume"),
        "shrink_volume": opt("Offer.Operation.ShrinkVolume"),
        "create_disk": opt("Offer.Operation.CreateDisk"),
        "destroy_disk": opt("Offer.Operation.DestroyDisk"),
    },
    "Offer.Operation.Launch": {"task_infos": rep("TaskInfo")},
    "Offer.Operation.LaunchGroup": {"executor": req("ExecutorInfo"), "task_group": req("TaskGroupInfo")},
    "Offer.Operation.Reserve": {"source": rep("Resource"), "resources": rep("Resource")},
    "Offer.Operation.Unreserve": {"resources": rep("Resource")},
    "Offer.Operation.Create": {"volumes": rep("Resource")},
    "Offer.Operation.Destroy": {"volumes": rep("Resource")},
    "Offer.Operation.GrowVolume": {"volume": req("Resource"), "addition": req("Resource")},
    "Offer.Operation.ShrinkVolume": {"volume": req("Resource"), "subtract": req("Value.Scalar")},
    "Offer.Operation.CreateDisk": {
        "source": req("Resource"),
        "target_type": req("enum:Resource.DiskInfo.Source.Type"),
        "target_profile": opt("string"),
    },
    "Offer.Operation.DestroyDisk": {"source": req("Resource")},
    # --- the scheduler Call ---------------------------------------------------------------------
    "Call": {
        "framework_id": opt("FrameworkID"),
        "type": opt("enum:Call.Type"),
        "subscribe": opt("Call.Subscribe"),
        "accept": opt("Call.Accept"),
        "decline": opt("Call.Decline"),
        "accept_inverse_offers": opt("Call.AcceptInverseOffers"),
        "decline_inverse_offers": opt("Call.DeclineInverseOffers"),
        "revive": opt("Call.Revive"),
        "kill": opt("Call.Kill"),
        "shutdown": opt("Call.Shutdown"),
        "acknowledge": opt("Call.Acknowledge"),
        "acknowledge_operation_status": opt("Call.AcknowledgeOperationStatus"),
        "reconcile": opt("Call.Reconcile"),
        "reconcile_operations": opt("Call.ReconcileOperations"),
        "message": opt("Call.Message"),
        "request": opt("Call.Request"),
        "suppress": opt("Call.Suppress"),
        "update_framework": opt("Call.UpdateFramework"),
    },
    "Call.Subscribe": {
        "framework_info": req("FrameworkInfo"),
        "suppressed_roles": rep("string"),
        "offer_constraints": opt(OPAQUE),
    },
    "Call.UpdateFramework": {
        "framework_info": req("FrameworkInfo"),
        "suppressed_roles": rep("string"),
        "offer_constraints": opt(OPAQUE),
    },
    "Call.Accept": {
        "offer_ids": rep("OfferID"),
        "operations": rep("Offer.Operation"),
        "filters": opt("Filters"),
    },
    "Call.Decline": {"offer_ids": rep("OfferID"), "filters": opt("Filters")},
    "Call.AcceptInverseOffers": {"inverse_offer_ids": rep("OfferID"), "filters": opt("Filters")},
    "Call.DeclineInverseOffers": {"inverse_offer_ids": rep("OfferID"), "filters": opt("Filters")},
    "Call.Revive": {"roles": rep("string")},
    "Call.Suppress": {"roles": rep("string")},
    "Call.Kill": {"task_id": req("TaskID"), "agent_id": opt("AgentID"), "kill_policy": opt("KillPolicy")},
    "Call.Shutdown": {"executor_id": req("ExecutorID"), "agent_id": req("AgentID")},
    "Call.Acknowledge": {"agent_id": req("AgentID"), "task_id": req("TaskID"), "uuid": req("bytes")},
    "Call.AcknowledgeOperationStatus": {
        "agent_id": opt("AgentID"),
        "resource_provider_id": opt("ResourceProviderID"),
        "uuid": req("bytes"),
        "operation_id": req("OperationID"),
    },
    "Call.Reconcile": {"tasks": rep("Call.Reconcile.Task")},
    "Call.Reconcile.Task": {"task_id": req("TaskID"), "agent_id": opt("AgentID")},
    "Call.ReconcileOperations": {"operations": rep("Call.ReconcileOperations.Operation")},
    "Call.ReconcileOperations.Operation": {
        "operation_id": req("OperationID"),
        "agent_id": opt("AgentID"),
        "resource_provider_id": opt("ResourceProviderID"),
    },
    "Call.Message": {"agent_id": req("AgentID"), "executor_id": req("ExecutorID"), "data": req("bytes")},
    "Call.Request": {"requests": rep("Request")},
}

# Call type -> the sub-message that must be present (scheduler::call::validate).
REQUIRED_SUBMESSAGE: dict[str, str] = {
    "SUBSCRIBE": "subscribe",
    "ACCEPT": "accept",
    "DECLINE": "decline",
    "ACCEPT_INVERSE_OFFERS": "accept_inverse_offers",
    "DECLINE_INVERSE_OFFERS": "decline_inverse_offers",
    "KILL": "kill",
    "SHUTDOWN": "shutdown",
    "ACKNOWLEDGE": "acknowledge",
    "ACKNOWLEDGE_OPERATION_STATUS": "acknowledge_operation_status",
    "RECONCILE": "reconcile",
    "RECONCILE_OPERATIONS": "reconcile_operations",
    "MESSAGE": "message",
    "REQUEST": "request",
    "UPDATE_FRAMEWORK": "update_framework",
}


# --- generic message parsing ----------------------------------------------------------------------


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _wrong(path: str, value: object, expected: str) -> ProtoError:
    return ProtoError(f"{path}: expected {expected}, got a JSON {_json_type(value)}")


def parse_message(message: str, obj: object, path: str = "") -> dict[str, Any]:
    """Parse ``obj`` as the message type ``message``; return the JSON dict with only known, set fields."""
    if not isinstance(obj, dict):
        raise _wrong(path or message, obj, f"a JSON object ({message})")
    fields = MESSAGES[message]
    out: dict[str, Any] = {}
    for name, value in obj.items():
        field = fields.get(name)
        if field is None or value is None:
            continue
        parsed = _parse_field(field, value, _join(path, name))
        if parsed is not None:
            out[name] = parsed
    for name, field in fields.items():
        if field.label == REQUIRED and name not in out:
            raise ProtoError(f"{_join(path, name)}: required field missing")
    return out


def _parse_field(field: Field, value: object, path: str) -> Any:
    if field.label == MAP:
        if not isinstance(value, dict):
            raise _wrong(path, value, "a JSON object (map)")
        return {
            key: _parse_single(field.type, item, f"{path}[{key!r}]", required=True)
            for key, item in value.items()
            if item is not None
        }
    if field.label == REPEATED:
        items = _flatten(value)
        parsed = [
            _parse_single(field.type, item, f"{path}[{i}]", required=False)
            for i, item in enumerate(items)
            if item is not None
        ]
        parsed = [p for p in parsed if p is not None]
        return parsed or None
    if isinstance(value, list):
        raise _wrong(path, value, "a single value, not an array")
    return _parse_single(field.type, value, path, required=field.label == REQUIRED)


def _flatten(value: object) -> list[object]:
    if not isinstance(value, list):
        return [value]
    flat: list[object] = []
    for item in value:
        flat.extend(_flatten(item))
    return flat


def _parse_single(type_: str, value: object, path: str, required: bool) -> Any:
    if type_ == OPAQUE:
        if not isinstance(value, dict):
            raise _wrong(path, value, "a JSON object")
        return value
    if type_.startswith("enum:"):
        return _parse_enum(type_[5:], value, path, required)
    if type_ in SCALAR_TYPES:
        return _parse_scalar(type_, value, path)
    return parse_message(type_, value, path)


def _parse_enum(enum: str, value: object, path: str, required: bool) -> str | None:
    if not isinstance(value, str):
        raise _wrong(path, value, f"an enum name string ({enum})")
    if value in ENUMS[enum]:
        return value
    if required:
        raise ProtoError(f"{path}: unknown enum value {value!r} for required field ({enum})")
    return None


def _parse_scalar(type_: str, value: object, path: str) -> Any:
    if type_ == "string":
        if not isinstance(value, str):
            raise _wrong(path, value, "a string")
        return value
    if type_ == "bytes":
        return _parse_bytes(value, path)
    if type_ == "bool":
        return _parse_bool(value, path)
    if type_ == "double":
        return _parse_double(value, path)
    return _parse_int(type_, value, path)


def _parse_bytes(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _wrong(path, value, "a base64 string (bytes)")
    return base64.b64encode(decode_bytes(value, path)).decode("ascii")


def decode_bytes(value: str, path: str = "bytes") -> bytes:
    """Decode a standard-base64 ``bytes`` field (padding optional); raise ProtoError if invalid."""
    text = value.strip()
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtoError(f"{path}: invalid base64 ({exc})") from None


def _parse_bool(value: object, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _wrong(path, value, "a boolean")


def _number_from_string(value: str, path: str) -> float | int:
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise ProtoError(f"{path}: {value!r} is not a number") from None
    if math.isnan(number) or text.lower() in ("inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"):
        raise ProtoError(f"{path}: {value!r} is not a number")
    return number


def _parse_double(value: object, path: str) -> float:
    if isinstance(value, str):
        if value in ("Infinity", "-Infinity"):
            return float(value.replace("Infinity", "inf"))
        return float(_number_from_string(value, path))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(path, value, "a number")
    return float(value)


def _parse_int(type_: str, value: object, path: str) -> int:
    if isinstance(value, str):
        value = _number_from_string(value, path)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(path, value, f"a number ({type_})")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProtoError(f"{path}: {value} is not a finite number ({type_})")
        value = int(value)
    low, high = _INT_BOUNDS[type_]
    if not low <= value <= high:
        raise ProtoError(f"{path}: {value} is out of range for {type_}")
    return value


# --- the scheduler call ---------------------------------------------------------------------------


def parse_call(obj: object) -> dict[str, Any]:
    """Parse and statelessly validate a scheduler Call (facts §1.1, §1.3).

    Raises ProtoError (-> 400) or UnknownCallType (-> 501). Returns the call as a JSON dict holding only
    known, set fields; ``bytes`` fields are in canonical padded base64.
    """
    call = parse_message("Call", obj)
    validate_call(call)
    return call


def validate_call(call: dict[str, Any]) -> None:
    """Mesos' ``scheduler::call::validate`` on an already parsed call."""
    call_type = call.get("type")
    if call_type is None:
        raise ProtoError("type: expecting 'type' to be present")
    if call_type == "SUBSCRIBE":
        _validate_subscribe(call)
        return
    if "framework_id" not in call:
        raise ProtoError("framework_id: expecting 'framework_id' to be present")
    if call_type == "UNKNOWN":
        raise UnknownCallType("type: call type UNKNOWN is not implemented")
    sub = REQUIRED_SUBMESSAGE.get(call_type)
    if sub is not None and sub not in call:
        raise ProtoError(f"{sub}: expecting '{sub}' to be present for a {call_type} call")
    if call_type == "ACKNOWLEDGE":
        _validate_uuid(call["acknowledge"]["uuid"], "acknowledge.uuid")
    elif call_type == "ACKNOWLEDGE_OPERATION_STATUS":
        _validate_acknowledge_operation_status(call["acknowledge_operation_status"])
    elif call_type == "UPDATE_FRAMEWORK":
        info_id = call["update_framework"]["framework_info"].get("id")
        if info_id != call["framework_id"]:
            raise ProtoError("update_framework.framework_info.id: differs from 'framework_id'")


def _validate_subscribe(call: dict[str, Any]) -> None:
    if "subscribe" not in call:
        raise ProtoError("subscribe: expecting 'subscribe' to be present for a SUBSCRIBE call")
    info_id = call["subscribe"]["framework_info"].get("id")
    if call.get("framework_id") != info_id:
        raise ProtoError("framework_id: 'framework_id' differs from 'subscribe.framework_info.id'")


def _validate_uuid(value: str, path: str) -> None:
    raw = decode_bytes(value, path)
    if len(raw) != 16:
        raise ProtoError(f"{path}: not a valid UUID: expected 16 bytes, got {len(raw)}")


def _validate_acknowledge_operation_status(ack: dict[str, Any]) -> None:
    _validate_uuid(ack["uuid"], "acknowledge_operation_status.uuid")
    if "agent_id" not in ack:
        raise ProtoError("acknowledge_operation_status.agent_id: expecting 'agent_id' to be present")
