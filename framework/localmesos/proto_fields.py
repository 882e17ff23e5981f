"""The vocabulary of localmesos' protobuf schema tables: field labels and types, enums, parse errors.

Why this module exists: we have no protobuf runtime, so the subset of ``mesos.v1`` and
``mesos.v1.scheduler`` messages that a scheduler can send is written down as plain data
(``proto_messages.py``) and interpreted by ``proto_parse.py``. Both need the same small words (a ``Field`` is
a type and a label; enums are tuples of names) and the same error types, which live here.
"""

from __future__ import annotations

from typing import NamedTuple

REQUIRED = "required"
OPTIONAL = "optional"
REPEATED = "repeated"
MAP = "map"

SCALAR_TYPES = ("string", "bytes", "bool", "double", "int32", "int64", "uint32", "uint64")
OPAQUE = "object"  # any JSON object, not interpreted


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
