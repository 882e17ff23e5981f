"""Strict parsing and stateless validation of v1 scheduler ``Call`` JSON, as a Mesos 1.11 master does.

Why this module exists: a framework that works against localmesos must also work against Mesos, so
localmesos must refuse exactly what Mesos refuses at the HTTP layer (facts §1.1, §1.3). Mesos parses the
JSON body into a protobuf (``proto_parse.py`` over the tables in ``proto_messages.py``) and then runs
stateless call validation (``scheduler::call::validate``, below); both steps answer 400, an UNKNOWN call
type 501.
"""

from __future__ import annotations

from typing import Any

from localmesos.proto_fields import ProtoError, UnknownCallType
from localmesos.proto_messages import REQUIRED_SUBMESSAGE
from localmesos.proto_parse import decode_bytes, parse_message


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
