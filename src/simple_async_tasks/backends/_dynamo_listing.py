"""The DynamoDB DAO's reading side for operators: the listings and counts of the status
index (``gsi1``, or a scan for what it leaves out) and the mutex locks. A part of
``DynamoTaskDao`` (its base class), kept apart so that module holds the writes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..contracts import MutexLock, Page
from ..definition import TaskSpec
from ..task import AsyncTask, AsyncTaskStatus
from ._dynamo_codec import AttributeValue, from_attr
from ._dynamo_index import StatusIndex, scan_count, scan_page
from ._dynamo_locks import lock_key, lock_of, scan_locks
from ._records import NO_UUID, decode_listing

T = TypeVar("T", bound=AsyncTask)

NO_UUID_ATTR = {"S": NO_UUID}


class DynamoListing(Generic[T]):
    """Listings, counts and mutex locks of ``DynamoTaskDao`` (whose ``__init__`` sets these)."""

    table_name: str
    index: StatusIndex
    _spec: TaskSpec[T]
    _call: Callable[..., Any]
    """One client call through the DAO's error edge."""
    _decode: Callable[[dict[str, AttributeValue]], T]
    _batch_get: Callable[..., list[dict[str, AttributeValue]]]

    def mutex_holder(self, mutex_key: str) -> MutexLock | None:
        """The lock stored for ``mutex_key`` (expired or not), or None."""
        out = self._call(
            "get_item",
            TableName=self.table_name,
            Key=lock_key(mutex_key),
            ConsistentRead=True,
        )
        item = out.get("Item")
        return lock_of(item) if item else None

    def mutex_locks(self) -> list[MutexLock]:
        """The stored locks of this task type's mutex keys (expired ones included, until
        DynamoDB's time-to-live removes them). A ``Scan`` of the whole table, filtered:
        billed for every item read; an operator's tool, not a hot path."""
        return scan_locks(self._call, self.table_name, f"{self._spec.task_type}#")

    def break_mutex(self, mutex_key: str) -> MutexLock | None:
        """Remove the lock of ``mutex_key`` whoever holds it; return it (None if none)."""
        out = self._call(
            "delete_item",
            TableName=self.table_name,
            Key=lock_key(mutex_key),
            ReturnValues="ALL_OLD",
        )
        item = out.get("Attributes")
        return lock_of(item) if item else None

    # -- listing ---------------------------------------------------------------

    def count_by_status(self, status: AsyncTaskStatus) -> int:
        """From the index: a ``Select=COUNT`` query per shard (FAILED, HALTED, SCHEDULED), or
        the OPEN entries read and split (QUEUED, ATTEMPTED: in flight, so few). FULFILLED and
        CANCELED are not indexed: counting them scans the whole table (billed per 4 KB read);
        ``tasks stats`` leaves them out unless asked."""
        self.index.require("count_by_status")
        group = self.index.group(status)
        if group is None:
            return scan_count(self._call, self.table_name, self._spec.task_type, status)
        if group != "OPEN":
            return self.index.count(self._call, self.table_name, group)
        total, cursor = 0, None
        while True:
            page = self.find_by_status(status, limit=1000, cursor=cursor)
            total += len(page.items) + len(page.unreadable)
            if page.cursor is None:
                return total
            cursor = page.cursor

    def find_by_status(
        self, status: AsyncTaskStatus, *, limit: int = 100, cursor: str | None = None
    ) -> Page[T]:
        """Tasks in ``status`` from the ``gsi1`` index: QUEUED and ATTEMPTED oldest created
        first, SCHEDULED earliest due first, FAILED and HALTED oldest change first.

        A page queries every shard, then reads the entries' items (eventually consistent:
        a task that changed a moment ago may still be listed under its old status, so
        callers re-check with a conditional write, as the sweeps do), so it may hold fewer
        than ``limit`` tasks and still have a cursor. FULFILLED and CANCELED are not
        indexed: their listing scans the table.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.index.require("find_by_status")
        group = self.index.group(status)
        if group is None:
            rows, after = scan_page(
                self._call,
                self.table_name,
                self._spec.task_type,
                status,
                limit=limit,
                cursor=cursor,
            )
            return self._listing(rows, after)
        entries, next_cursor = self.index.page(self._call, self.table_name, group, limit, cursor)
        stored = {
            item["pk"]["S"]: item
            for item in self._batch_get([{"pk": e["pk"]} for e in entries], consistent=False)
        }
        rows = [stored[e["pk"]["S"]] for e in entries if e["pk"]["S"] in stored]
        return self._listing(
            [r for r in rows if r.get("status", {}).get("S") == status.value], next_cursor
        )

    def _listing(self, rows: list[dict[str, AttributeValue]], cursor: str | None) -> Page[T]:
        items, unreadable = decode_listing(
            ((str(from_attr(i.get("uuid", NO_UUID_ATTR))), i) for i in rows),
            self._decode,
            self._spec.task_type,
        )
        return Page(items=items, cursor=cursor, unreadable=unreadable)
