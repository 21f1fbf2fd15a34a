"""The status index of the DynamoDB table: sparse, sharded, keys only.

Only what sweeps and operators look for is indexed, under keys that do not
move on the happy path:

* QUEUED and ATTEMPTED share one group, ``OPEN``, sorted by ``created_at``:
  a claim, a lease renewal or a put-back writes the same index keys again,
  which DynamoDB does not bill as an index write (the projection is keys only,
  so no projected attribute changes either);
* SCHEDULED (sorted by due time), FAILED and HALTED (by the time of the change)
  have a group each;
* FULFILLED and CANCELED are not indexed: the final write removes the entry.

So a task costs 2 index writes in its life (the put at enqueue, the delete at
its end) instead of 2 per transition. Each group is spread over ``shards``
partition keys (``<type>#<group>#<shard>``, the shard from the unique key), so
no key value takes more than its share of a task type's writes; listings query
every shard and merge by sort key.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..errors import ConfigurationError
from ..task import AsyncTaskStatus
from ._dynamo_codec import AttributeValue, utc_text
from ._dynamo_expressions import Expression

S = AsyncTaskStatus

GSI_NAME = "gsi1"
INDEX_PK = "gsi1pk"
INDEX_SK = "gsi1sk"
DEFAULT_SHARDS = 8
MAX_SHARDS = 100

GROUPS: dict[AsyncTaskStatus, str] = {
    S.QUEUED: "OPEN",
    S.ATTEMPTED: "OPEN",
    S.SCHEDULED: "SCHEDULED",
    S.FAILED: "FAILED",
    S.HALTED: "HALTED",
}
INDEXED_STATUSES = frozenset(GROUPS)

Call = Callable[..., Any]
"""The DAO's ``_call(operation, **params)``: one DynamoDB request, errors translated."""


class StatusIndex:
    """Index keys for the records of one task type, and listings over them."""

    def __init__(self, task_type: str, *, enabled: bool, shards: int) -> None:
        if not 1 <= shards <= MAX_SHARDS:
            raise ConfigurationError(
                f"index_shards must be between 1 and {MAX_SHARDS}, got {shards}: each shard is "
                "one Query per listing page, and one shard takes about 500 tasks/s (see "
                "docs/dynamodb.md, cost and scale)"
            )
        self.task_type = task_type
        self.enabled = enabled
        self.shards = shards

    @property
    def statuses(self) -> frozenset[AsyncTaskStatus]:
        """The statuses this index lists (none when it is off)."""
        return INDEXED_STATUSES if self.enabled else frozenset()

    def group(self, status: AsyncTaskStatus) -> str | None:
        return GROUPS.get(status) if self.enabled else None

    def partition(self, group: str, shard: int) -> str:
        return f"{self.task_type}#{group}#{shard}"

    def shard_of(self, unique_key: str) -> int:
        return zlib.crc32(unique_key.encode("utf-8")) % self.shards

    def keys(
        self,
        expr: Expression,
        status: AsyncTaskStatus,
        unique_key: str,
        *,
        due: datetime | None,
        now: datetime,
        created_at: str | None = None,
    ) -> tuple[list[str], list[str]]:
        """The SET and REMOVE clauses that put the record under its status's index keys.

        The OPEN group's sort key is the record's creation time, so writing an OPEN record
        again leaves its entry as is: ``created_at`` is the update-expression operand that
        gives it (a whole-task write's ``if_not_exists``), by default the stored attribute
        (named only when used: DynamoDB refuses unused placeholders).
        """
        n = expr.name
        group = self.group(status)
        if group is None:
            return [], [n(INDEX_PK), n(INDEX_SK)]
        if group == "OPEN":
            sort = created_at or n("created_at")
        elif status is S.SCHEDULED and due is not None:
            sort = expr.value({"S": utc_text(due)})
        else:
            sort = expr.value({"S": utc_text(now)})
        partition = expr.value({"S": self.partition(group, self.shard_of(unique_key))})
        return [f"{n(INDEX_PK)} = {partition}", f"{n(INDEX_SK)} = {sort}"], []

    def require(self, what: str) -> None:
        if not self.enabled:
            raise ConfigurationError(
                f"{what} needs the status index, which this {self.task_type} DAO has turned "
                "off (status_index=False): turn it on (and create the table with it), or "
                "find tasks by unique key with get()"
            )

    # -- listings ----------------------------------------------------------

    def _query(self, table: str, group: str, shard: int) -> dict[str, Any]:
        """The ``Query`` parameters that read one shard of ``group``."""
        return {
            "TableName": table,
            "IndexName": GSI_NAME,
            "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": INDEX_PK},
            "ExpressionAttributeValues": {":g": {"S": self.partition(group, shard)}},
        }

    def page(
        self, call: Call, table: str, group: str, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, AttributeValue]], str | None]:
        """Up to ``limit`` index entries of ``group``, in sort-key order over every shard,
        and the cursor of the next page (None at the end)."""
        state = _decode_cursor(cursor, self.shards)
        fetched: dict[int, list[dict[str, AttributeValue]]] = {}
        more: dict[int, Any] = {}
        for shard, start in state.items():
            params = {**self._query(table, group, shard), "Limit": limit}
            if start is not None:
                params["ExclusiveStartKey"] = start
            out = call("query", **params)
            fetched[shard] = list(out.get("Items", []))
            more[shard] = out.get("LastEvaluatedKey")
        merged = sorted(
            (
                (item[INDEX_SK]["S"], shard, i, item)
                for shard, items in fetched.items()
                for i, item in enumerate(items)
            ),
            key=lambda entry: entry[:3],
        )[:limit]
        taken: dict[int, int] = {}
        for _, shard, i, _item in merged:
            taken[shard] = max(taken.get(shard, -1), i)
        following: dict[int, Any] = {}
        for shard, start in state.items():
            last = taken.get(shard, -1)
            if last == len(fetched[shard]) - 1:
                if more[shard] is not None:
                    following[shard] = more[shard]
            elif last >= 0:
                entry = fetched[shard][last]
                following[shard] = {k: entry[k] for k in ("pk", INDEX_PK, INDEX_SK)}
            else:
                following[shard] = start
        return [entry[3] for entry in merged], _encode_cursor(following)

    def count(self, call: Call, table: str, group: str) -> int:
        """How many entries ``group`` holds (a ``Select=COUNT`` query per shard and MB)."""
        return sum(
            _count(call, "query", self._query(table, group, shard)) for shard in range(self.shards)
        )


def _scan_params(table: str, task_type: str, status: AsyncTaskStatus) -> dict[str, Any]:
    return {
        "TableName": table,
        "FilterExpression": "#t = :t AND #s = :s",
        "ExpressionAttributeNames": {"#t": "task_type", "#s": "status"},
        "ExpressionAttributeValues": {":t": {"S": task_type}, ":s": {"S": status.value}},
    }


def scan_page(
    call: Call,
    table: str,
    task_type: str,
    status: AsyncTaskStatus,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, AttributeValue]], str | None]:
    """Up to ``limit`` items of an unindexed status, scanning the table from ``cursor``
    (at most 20 calls of up to 1 MB each per page), and the next page's cursor."""
    params = _scan_params(table, task_type, status)
    rows: list[dict[str, AttributeValue]] = []
    state = _decode_cursor(cursor, 1) if cursor else {0: None}
    last = state.get(0)
    for _ in range(20):
        if last is not None:
            params["ExclusiveStartKey"] = last
        params["Limit"] = limit - len(rows)
        out = call("scan", **params)
        rows.extend(out.get("Items", []))
        last = out.get("LastEvaluatedKey")
        if last is None or len(rows) >= limit:
            break
    return rows, _encode_cursor({0: last}) if last is not None else None


def scan_count(call: Call, table: str, task_type: str, status: AsyncTaskStatus) -> int:
    """How many items of ``task_type`` are in ``status``: a scan of the whole table."""
    return _count(call, "scan", _scan_params(table, task_type, status))


def _count(call: Call, operation: str, params: dict[str, Any]) -> int:
    """The ``Count`` of a ``Select=COUNT`` query or scan, summed over its pages (1 MB each)."""
    params = {**params, "Select": "COUNT"}
    total = 0
    while True:
        out = call(operation, **params)
        total += int(out.get("Count", 0))
        if not out.get("LastEvaluatedKey"):
            return total
        params["ExclusiveStartKey"] = out["LastEvaluatedKey"]


def _encode_cursor(state: dict[int, Any]) -> str | None:
    if not state:
        return None
    text = json.dumps({str(k): v for k, v in state.items()}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def _decode_cursor(cursor: str | None, shards: int) -> dict[int, Any]:
    if cursor is None:
        return dict.fromkeys(range(shards))
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        decoded = {int(k): v for k, v in state.items()}
    except (ValueError, TypeError, AttributeError) as error:
        raise ConfigurationError(
            "not a cursor of this listing: pass the page.cursor of the previous page as is"
        ) from error
    if any(not 0 <= shard < shards for shard in decoded):
        raise ConfigurationError(
            "this cursor was made with another index_shards: start the listing again"
        )
    return decoded
