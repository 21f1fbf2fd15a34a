"""Mutex locks as DynamoDB items (``pk = MUTEX#<key>``), taken and released inside transactions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ..contracts import MutexLock
from ._dynamo_codec import AttributeValue, check_partition_key, from_attr, utc_text

TTL_ATTRIBUTE = "expires_at"


def lock_key(mutex_key: str) -> dict[str, AttributeValue]:
    """The key of the lock item of ``mutex_key``."""
    pk = f"MUTEX#{mutex_key}"
    check_partition_key(pk, "a mutex key")
    return {"pk": {"S": pk}}


def lock_put(table: str, lock: MutexLock) -> dict[str, Any]:
    """A transaction item taking ``lock``: free, expired, or already ours."""
    item = {
        **lock_key(lock.key),
        "owner": {"S": lock.owner},
        "acquired_at": {"S": utc_text(lock.acquired_at)},
        "lock_expires_at": {"S": utc_text(lock.expires_at)},
        # let DynamoDB clean up locks left by crashed attempts (a day later)
        TTL_ATTRIBUTE: {"N": str(int((lock.expires_at + timedelta(days=1)).timestamp()))},
    }
    return {
        "TableName": table,
        "Item": item,
        "ConditionExpression": (
            "attribute_not_exists(#pk) OR #exp <= :acquired OR #owner = :owner"
        ),
        "ExpressionAttributeNames": {
            "#pk": "pk",
            "#exp": "lock_expires_at",
            "#owner": "owner",
        },
        "ExpressionAttributeValues": {
            ":acquired": {"S": utc_text(lock.acquired_at)},
            ":owner": {"S": lock.owner},
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def lock_delete(table: str, lock: MutexLock) -> dict[str, Any]:
    """A delete of ``lock`` that only happens while ``lock.owner`` holds it."""
    return {
        "TableName": table,
        "Key": lock_key(lock.key),
        "ConditionExpression": "attribute_not_exists(#pk) OR #owner = :owner",
        "ExpressionAttributeNames": {"#pk": "pk", "#owner": "owner"},
        "ExpressionAttributeValues": {":owner": {"S": lock.owner}},
    }


def lock_of(item: dict[str, AttributeValue]) -> MutexLock:
    """The ``MutexLock`` a lock item holds (``pk = MUTEX#<key>``)."""
    return MutexLock(
        key=str(from_attr(item["pk"])).removeprefix("MUTEX#"),
        owner=from_attr(item["owner"]),
        acquired_at=datetime.fromisoformat(from_attr(item["acquired_at"])),
        expires_at=datetime.fromisoformat(from_attr(item["lock_expires_at"])),
    )


def scan_locks(call: Callable[..., Any], table: str, prefix: str) -> list[MutexLock]:
    """The lock items whose mutex key starts with ``prefix`` (a task type and ``#``), by
    key: a ``Scan`` of the whole table, filtered, billed for every item read."""
    params: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(#pk, :prefix)",
        "ExpressionAttributeNames": {"#pk": "pk"},
        "ExpressionAttributeValues": {":prefix": {"S": f"MUTEX#{prefix}"}},
        "ConsistentRead": True,
    }
    found: list[MutexLock] = []
    while True:
        out = call("scan", **params)
        found.extend(lock_of(item) for item in out.get("Items", []))
        if "LastEvaluatedKey" not in out:
            return sorted(found, key=lambda lock: lock.key)
        params["ExclusiveStartKey"] = out["LastEvaluatedKey"]
