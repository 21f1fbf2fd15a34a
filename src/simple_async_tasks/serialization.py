"""JSON conversion of tasks: one cattrs converter, replaceable by the user.

Datetimes travel as ISO-8601 strings, enums by value, ``bytes`` as base64,
nested attrs classes as objects. NaN and infinities are refused: JSON cannot
hold them and another consumer (Node, DynamoDB) would choke on them.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import math
import types
import typing
from collections.abc import Callable, MutableSequence, Sequence
from datetime import date, datetime
from typing import Any, TypeVar, Union, get_args, get_origin

import cattrs
from cattrs.cols import (
    is_any_set,
    is_mapping,
    is_sequence,
    list_structure_factory,
    mapping_structure_factory,
)
from cattrs.preconf.json import make_converter as _make_json_converter

from .errors import InvalidTaskError, SerializationError
from .task import LIFECYCLE_FIELDS

T = TypeVar("T")

__all__ = ["default_converter", "make_converter"]

JsonValue = Any
"""A value made only of dict, list, str, int, float, bool and None."""


def _bytes_to_b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _b64_to_bytes(value: object, _: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"expected a base64 string for bytes, got {type(value).__name__}")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not valid base64: {exc}") from exc


def _structure_datetime(value: object, _: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string for a datetime, got {type(value).__name__}")
    if value[-1:] in ("Z", "z"):  # JavaScript's toISOString(); Python 3.10 refuses the Z
        value = value[:-1] + "+00:00"
    return datetime.fromisoformat(value)


def _structure_date(value: object, _: object) -> date:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string for a date, got {type(value).__name__}")
    return date.fromisoformat(value)


# These hooks also receive subclasses (a `class Status(str, Enum)` dispatches to
# the str hook), which are built from the checked value: Status("QUEUED").


def _strict_str(value: object, target: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value if target is str else target(value)


def _strict_int(value: object, target: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value if target is int else target(value)


def _strict_float(value: object, _: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _strict_bool(value: object, _: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {type(value).__name__}")
    return value


def _require(kind: type | tuple[type, ...], name: str, hook: Any) -> Any:
    def structure(value: object, target: object) -> object:
        if not isinstance(value, kind):
            raise TypeError(f"expected {name}, got {type(value).__name__}")
        return hook(value, target)

    return structure


def _strict_collections(converter: cattrs.Converter) -> None:
    """Refuse a string where a list belongs (instead of splitting it into characters)."""
    lenient = converter.copy()

    def sequence_hook(target: Any, conv: cattrs.BaseConverter) -> Any:
        if get_origin(target) in (list, MutableSequence, Sequence) or target is list:
            return _require(list, "a JSON array", list_structure_factory(target, conv))
        return _require((list, tuple), "a JSON array", lenient.get_structure_hook(target))

    def set_hook(target: Any, _: cattrs.BaseConverter) -> Any:
        return _require((list, tuple), "a JSON array", lenient.get_structure_hook(target))

    def mapping_hook(target: Any, conv: cattrs.BaseConverter) -> Any:
        return _require(dict, "a JSON object", mapping_structure_factory(target, conv))

    converter.register_structure_hook_factory(is_sequence, sequence_hook)
    converter.register_structure_hook_factory(is_any_set, set_hook)
    converter.register_structure_hook_factory(is_mapping, mapping_hook)


def make_converter() -> cattrs.Converter:
    """Build the converter the library uses by default.

    Start from it to register hooks for your own types, then pass your
    converter to the lifecycles, DAOs and queues (``converter=``).
    """
    converter = _make_json_converter()
    # Strict scalars: a number where a string belongs is bad input, not "42".
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(float, _strict_float)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_unstructure_hook(bytes, _bytes_to_b64)
    converter.register_structure_hook(bytes, _b64_to_bytes)
    converter.register_unstructure_hook(datetime, datetime.isoformat)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(date, date.isoformat)
    converter.register_structure_hook(date, _structure_date)
    _strict_collections(converter)
    return converter


default_converter: cattrs.Converter = make_converter()
"""The converter used when none is passed."""


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
# One encoder and one decoder for the process: ``json.dumps`` and ``json.loads`` build a
# new one per call when given options, which cost as much as the encoding itself.


def dumps(value: JsonValue) -> str:
    """Compact JSON text; raises SerializationError for NaN, infinities or odd types."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"value cannot be written as JSON: {exc}. Use JSON-friendly field types "
            "(str, int, finite float, bool, datetime, bytes, enums, lists, dicts, attrs classes) "
            "or register a hook on your converter"
        ) from exc


def loads(text: str | bytes) -> JsonValue:
    """Parse JSON text strictly (no NaN or Infinity)."""
    if not isinstance(text, str):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    return _DECODER.decode(text)


def unstructure_task(task: object, converter: cattrs.Converter | None = None) -> dict[str, Any]:
    """Turn a task into a JSON-compatible dict."""
    conv = converter or default_converter
    try:
        data = conv.unstructure(task)
    except Exception as exc:
        raise SerializationError(
            f"cannot convert {type(task).__name__} to JSON data: {exc}. "
            "Register an unstructure hook for the field's type on your converter"
        ) from exc
    if not isinstance(data, dict):
        raise SerializationError(f"{type(task).__name__} did not convert to a JSON object")
    return data


def structure_task(data: object, cls: type[T], converter: cattrs.Converter | None = None) -> T:
    """Build a task of ``cls`` from JSON data; errors name the fields at fault."""
    conv = converter or default_converter
    if not isinstance(data, dict):
        raise SerializationError(
            f"expected a JSON object for a {cls.__name__} task, got {type(data).__name__}"
        )
    try:
        return conv.structure(data, cls)
    except Exception as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            where = "; ".join(cattrs.transform_error(exc, path=cls.__name__))
        else:
            where = f"{type(exc).__name__}: {exc}"
        raise SerializationError(f"invalid {cls.__name__} task data: {where}") from exc


_PLAIN = frozenset({str, int, float, bool, type(None), bytes})


def _unstorable(value: object, path: str) -> str | None:
    """Where in ``value`` a value no backend stores faithfully sits, and why; or None."""
    kind = type(value)
    if kind in _PLAIN:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return f"{path} is a naive datetime; use a timezone-aware one (tzinfo=timezone.utc)"
        return None
    if isinstance(value, dict):
        if "" in value:
            return f"{path} has an empty key (''), which DynamoDB cannot store; use non-empty keys"
        for key, item in value.items():
            found = _unstorable(item, f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            found = _unstorable(item, f"{path}[{index}]")
            if found:
                return found
        return None
    fields = getattr(kind, "__attrs_attrs__", None)
    if fields is not None:
        for field in fields:
            found = _unstorable(getattr(value, field.name), f"{path}.{field.name}")
            if found:
                return found
    return None


_USER_SET_LIFECYCLE_FIELDS = ("execute_after",)
"""The lifecycle fields a caller sets; the library writes the others itself (aware UTC)."""


def refuse_unstorable(task: object) -> None:
    """Raise ``InvalidTaskError`` if ``task`` holds a naive datetime or a map with an empty
    key in a business field or ``execute_after``: the same refusal on every backend
    (DynamoDB cannot store the one, and the other would compare wrongly with the aware
    times the library writes)."""
    cls = type(task)
    names = _checked_fields.get(cls)
    if names is None:
        every = [f.name for f in getattr(cls, "__attrs_attrs__", ())]
        names = _checked_fields[cls] = tuple(
            n for n in every if n not in LIFECYCLE_FIELDS or n in _USER_SET_LIFECYCLE_FIELDS
        )
    for name in names:
        found = _unstorable(getattr(task, name), f"{cls.__name__}.{name}")
        if found:
            raise InvalidTaskError(f"{found}; nothing was written")


_checked_fields: dict[type, tuple[str, ...]] = {}


def _scalar_check(hint: Any) -> Callable[[object], bool] | None:
    """A check equivalent to the default converter's round trip for a simple declared type
    (what its strict hooks accept), or None when only the round trip can tell."""
    if hint is str:
        return lambda v: isinstance(v, str)
    if hint is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if hint is float:
        return lambda v: (
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        )
    if hint is bool:
        return lambda v: isinstance(v, bool)
    if hint is datetime:
        return lambda v: isinstance(v, datetime)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda v: isinstance(v, hint)
    inner_hint = _optional_of(hint)
    if inner_hint is not None:
        inner = _scalar_check(inner_hint)
        if inner is not None:
            return lambda v: v is None or inner(v)
    return None


def _optional_of(hint: Any) -> Any:
    """``X`` for a declared ``X | None`` (or ``Optional[X]``), else None."""
    if get_origin(hint) not in (Union, types.UnionType):
        return None
    options = [a for a in get_args(hint) if a is not type(None)]
    return options[0] if len(options) == 1 else None


_plans: dict[type, list[tuple[str, Callable[[object], bool]]] | None] = {}


def _fast_plan(cls: type) -> list[tuple[str, Callable[[object], bool]]] | None:
    """Per class: a check per business field (and ``execute_after``) when every one has a
    simple declared type; None when some field needs the converter's round trip."""
    if cls in _plans:
        return _plans[cls]
    plan: list[tuple[str, Callable[[object], bool]]] | None = []
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # unresolvable annotations: the round trip decides
        hints = None
    for field in getattr(cls, "__attrs_attrs__", ()):
        name = field.name
        if name in LIFECYCLE_FIELDS and name not in _USER_SET_LIFECYCLE_FIELDS:
            continue
        check = _scalar_check(hints.get(name)) if hints is not None else None
        if check is None or plan is None:
            plan = None
            break
        plan.append((name, check))
    _plans[cls] = plan
    return plan


def _scalar_bound(hint: Any) -> Callable[[Any], int] | None:
    """The most UTF-8 bytes the default converter's JSON of a value of a simple declared
    type takes, as a cheap function of the value (no encoding), or None."""
    if hint is str:
        return lambda v: 6 * len(v) + 2  # worst case: every character a \u escape
    if hint is int or hint is float:
        return lambda v: len(repr(v))
    if hint is bool:
        return lambda v: 5
    if hint is datetime:
        return lambda v: 48  # isoformat with microseconds and an offset in seconds: 42
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return lambda v: 6 * len(str(v.value)) + 2
    inner_hint = _optional_of(hint)
    if inner_hint is not None:
        inner = _scalar_bound(inner_hint)
        if inner is not None:
            return lambda v: 4 if v is None else inner(v)
    return None


_bound_plans: dict[type, list[tuple[str, int, Callable[[Any], int]]] | None] = {}


def json_size_bound(task: object, converter: cattrs.Converter | None = None) -> int | None:
    """An upper bound of the UTF-8 size of ``task``'s JSON, computed without encoding it,
    when every field has a simple declared type and the converter is the default one;
    else None (only the encoding can tell)."""
    if converter is not None and converter is not default_converter:
        return None
    cls = type(task)
    if cls not in _bound_plans:
        _bound_plans[cls] = _bound_plan(cls)
    plan = _bound_plans[cls]
    if plan is None:
        return None
    size = 2
    for name, key_size, bound in plan:
        size += key_size + bound(getattr(task, name))
    return size


def _bound_plan(cls: type) -> list[tuple[str, int, Callable[[Any], int]]] | None:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        return None
    plan = []
    for field in getattr(cls, "__attrs_attrs__", ()):
        bound = _scalar_bound(hints.get(field.name))
        if bound is None:
            return None
        plan.append((field.name, 6 * len(field.name) + 4, bound))  # "name": and a comma
    return plan


def check_round_trip(task: object, converter: cattrs.Converter | None = None) -> None:
    """Raise ``InvalidTaskError`` unless ``task`` survives its own round trip through JSON
    into its declared field types, unchanged; the message names the field at fault.

    With the default converter, a class whose fields all have simple types (str, int,
    float, bool, datetime, enums, or one of these or None) is checked field by field with
    what the converter's strict hooks accept, without the round trip itself.
    """
    refuse_unstorable(task)
    cls = type(task)
    plan = _fast_plan(cls) if converter is None or converter is default_converter else None
    if plan is not None and all(check(getattr(task, name)) for name, check in plan):
        return
    text = dumps(unstructure_task(task, converter))  # SerializationError: not JSON at all
    try:
        back = structure_task(loads(text), cls, converter)
    except SerializationError as error:
        raise InvalidTaskError(
            f"{error}; a field holds a value of another type than the one it declares. "
            "Nothing was written"
        ) from error
    if back != task:
        names = [f.name for f in getattr(cls, "__attrs_attrs__", ())]
        changed = [n for n in names if getattr(back, n) != getattr(task, n)]
        raise InvalidTaskError(
            f"{cls.__name__} does not survive its round trip through JSON: "
            f"{', '.join(changed)} came back different (a value of another type than the "
            "field declares, or a type the converter does not keep). Nothing was written"
        )
