"""DynamoDB attribute values <-> JSON-compatible data, without boto3.

Numbers travel as strings (no float rounding); integers come back as int,
others as float. Empty strings, nested maps and lists are stored as they are.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..errors import InvalidTaskError

AttributeValue = dict[str, Any]

MAX_ITEM_BYTES = 400 * 1024
"""DynamoDB's item size limit."""


def to_attr(value: object) -> AttributeValue:
    """One JSON-compatible value as a DynamoDB attribute value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": repr(value)}
    if isinstance(value, dict):
        if "" in value:
            raise InvalidTaskError(
                "DynamoDB cannot store a map with an empty key (''); "
                "use non-empty keys in dict fields of tasks stored in DynamoDB"
            )
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attr(v) for v in value]}
    raise InvalidTaskError(f"cannot store a {type(value).__name__} in DynamoDB")


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def from_attr(attr: AttributeValue) -> Any:
    """A DynamoDB attribute value as JSON-compatible data."""
    ((kind, value),) = attr.items()
    if kind == "S":
        return value
    if kind == "N":
        return _number(value)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind == "SS":
        return list(value)
    if kind == "NS":
        return [_number(v) for v in value]
    raise ValueError(f"unsupported DynamoDB attribute type {kind}")


def utc_text(moment: datetime) -> str:
    """A timezone-aware datetime as fixed-width UTC ISO-8601, so text order is time order."""
    if moment.tzinfo is None:
        raise InvalidTaskError(
            f"naive datetime {moment.isoformat()} cannot be stored; use a timezone-aware one"
        )
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _size_of(attr: AttributeValue) -> int:
    ((kind, value),) = attr.items()
    if kind == "S":
        return len(value.encode("utf-8"))
    if kind == "N":
        digits = len(value.lstrip("-").replace(".", "").lstrip("0")) or 1
        return (digits + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + _size_of(v) + 1 for k, v in value.items())
    if kind == "L":
        return 3 + sum(_size_of(v) + 1 for v in value)
    return len(str(value))


def item_size(item: dict[str, AttributeValue]) -> int:
    """The size DynamoDB counts for an item (names plus values), per its documented rules."""
    return sum(len(name.encode("utf-8")) + _size_of(attr) for name, attr in item.items())


MAX_PARTITION_KEY_BYTES = 2048
"""DynamoDB's limit for a partition key value; a request carrying a longer one is refused
whole (a ``BatchGetItem`` with one such key fails for every key in it)."""


def fits_partition_key(value: str) -> bool:
    return len(value.encode("utf-8")) <= MAX_PARTITION_KEY_BYTES


def check_partition_key(value: str, what: str) -> None:
    if not fits_partition_key(value):
        raise InvalidTaskError(
            f"{what} is {len(value.encode('utf-8')):,} bytes as a DynamoDB key, over the "
            f"{MAX_PARTITION_KEY_BYTES:,}-byte limit; choose unique (and mutex) fields with "
            "shorter values, such as an id instead of a document"
        )


def check_item_size(item: dict[str, AttributeValue], what: str) -> None:
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise InvalidTaskError(
            f"{what} is {size:,} bytes as a DynamoDB item, over the {MAX_ITEM_BYTES:,}-byte "
            "limit; keep large payloads elsewhere (S3) and store their key in the task"
        )
