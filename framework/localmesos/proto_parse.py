"""Strict parsing of protobuf JSON against the schema tables, as stout's JSON->protobuf parser does.

Why this module exists: Mesos turns a JSON body into a protobuf with stout's ``protobuf::parse`` and
answers 400 when that fails (facts §1.1, §1.3); localmesos must refuse exactly the same inputs. This
module interprets ``proto_messages.MESSAGES`` generically; the scheduler-call rules on top live in
``proto.py``.

Parsing rules (stout ``protobuf::parse``): unknown JSON fields are dropped; ``null`` means unset; enums are
name strings (an unknown name leaves an optional field unset and fails a required one); ``bytes`` are
standard base64 (re-emitted in canonical padded form); numbers may also be given as numeric strings
(doubles also as ``"Infinity"``), booleans as ``"true"``/``"false"``; a single value given for a repeated
field counts as one element; any other JSON type mismatch is an error, and so is a missing required field.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from localmesos.proto_fields import ENUMS, MAP, OPAQUE, REPEATED, REQUIRED, SCALAR_TYPES, Field, ProtoError
from localmesos.proto_messages import MESSAGES

_INT_BOUNDS = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}


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
