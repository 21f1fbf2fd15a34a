"""The tombstones of deleted tasks as DynamoDB items (``pk = DELETED#<task pk>``), laid in
the same transaction that deletes the task, and removed by the table's time-to-live."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from ..conditions import Condition, VersionEquals
from ._dynamo_codec import AttributeValue, fits_partition_key, from_attr, utc_text
from ._dynamo_expressions import Expression
from ._dynamo_locks import TTL_ATTRIBUTE
from ._records import TOMBSTONE_RETENTION, live_tombstone

PREFIX = "DELETED#"


def tombstone_key(task_pk: str) -> dict[str, AttributeValue]:
    """The key of the tombstone of the task stored under ``task_pk``: the task's own key
    after ``DELETED#``, or its SHA-256 when that would not fit in a partition key."""
    pk = PREFIX + task_pk
    if not fits_partition_key(pk):
        pk = PREFIX + "sha256:" + hashlib.sha256(task_pk.encode()).hexdigest()
    return {"pk": {"S": pk}}


def delete_with_tombstone(
    table: str, task_pk: str, condition: Condition, version: int, now: datetime
) -> list[dict[str, Any]]:
    """The two items of the ``TransactWriteItems`` that deletes a task: the delete, under
    ``condition`` and fenced to the ``version`` read, and the tombstone's put."""
    expr = Expression()
    fenced = expr.condition(VersionEquals(version) & condition)
    delete = {
        "TableName": table,
        "Key": {"pk": {"S": task_pk}},
        "ConditionExpression": f"attribute_exists({expr.name('pk')}) AND {fenced}",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        **expr.params(),
    }
    tombstone = {
        **tombstone_key(task_pk),
        "deleted_at": {"S": utc_text(now)},
        TTL_ATTRIBUTE: {"N": str(int((now + TOMBSTONE_RETENTION).timestamp()))},
    }
    return [{"Delete": delete}, {"Put": {"TableName": table, "Item": tombstone}}]


def tombstone_time(item: dict[str, AttributeValue] | None, now: datetime) -> datetime | None:
    """When the tombstone ``item`` was laid; None for no item, or one past its retention
    that the time-to-live has not removed yet (it may take days)."""
    if not item:
        return None
    return live_tombstone(datetime.fromisoformat(str(from_attr(item["deleted_at"]))), now)
