"""``DynamoTaskDao``: task records in one DynamoDB table, one conditional write per change.

The table layout (see docs/dynamodb.md) holds many task types: the partition
key ``pk`` is ``<task_type>#<unique_key>`` for a task and ``MUTEX#<key>`` for a
mutex lock; the global secondary index ``gsi1`` lists tasks by type and status,
oldest change first.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import cattrs

from ..clock import Clock, system_clock
from ..conditions import Condition, VersionEquals
from ..contracts import KEEP, MutexLock, Page, Transition
from ..errors import BackendError, ConditionFailedError, MutexHeldError
from ..serialization import (
    default_converter,
    refuse_unstorable,
    structure_task,
    unstructure_task,
)
from ..task import LIFECYCLE_FIELDS, AsyncTask, AsyncTaskStatus
from ._dynamo_codec import AttributeValue, check_item_size, from_attr, to_attr, utc_text
from ._dynamo_errors import error_code, raise_permanent
from ._dynamo_expressions import Expression
from ._dynamo_locks import TTL_ATTRIBUTE, lock_delete, lock_key, lock_put
from ._records import (
    NO_UUID,
    OPTIONAL_LIFECYCLE_FIELDS,
    TaskClassDao,
    apply_transition,
    check_batch_size,
    decode_listing,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

T = TypeVar("T", bound=AsyncTask)

logger = logging.getLogger("simple_async_tasks.dynamodb")

GSI_NAME = "gsi1"
NO_UUID_ATTR = {"S": NO_UUID}
_FINISHED = frozenset({AsyncTaskStatus.FULFILLED, AsyncTaskStatus.CANCELED})


def _order(
    status: AsyncTaskStatus, execute_after: datetime | None, now: datetime, unique_key: str
) -> str:
    """The index sort key: when a SCHEDULED task is due, when any other last changed."""
    moment = execute_after if status is AsyncTaskStatus.SCHEDULED and execute_after else now
    return f"{utc_text(moment)}#{unique_key}"


class DynamoTaskDao(TaskClassDao[T]):
    """Stores the tasks of one class in a shared single-table DynamoDB layout.

    Reads are consistent; every state change is one conditional ``UpdateItem``
    (or one ``TransactWriteItems`` when a mutex lock is taken or released)
    whose failure returns the current item, so no extra read is needed. A
    batch of deliveries is claimed with one ``UpdateItem`` per task, issued
    concurrently (``parallel_claims``): half the write units of a transaction.
    """

    parallel_claims = True

    def __init__(
        self,
        task_class: type[T],
        *,
        table_name: str,
        client: DynamoDBClient | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        clock: Clock = system_clock,
        converter: cattrs.Converter = default_converter,
        retention: timedelta | None = None,
    ) -> None:
        super().__init__(task_class, clock, converter)
        self.table_name = table_name
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url
        self.retention = retention
        """How long finished tasks (FULFILLED, CANCELED, FAILED for good) are kept.

        None (the default) keeps them forever."""

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            from ..aws.clients import dynamodb_client

            self._client = dynamodb_client(self._region, self._endpoint_url)
        return self._client

    # -- item codec ----------------------------------------------------------

    def _pk(self, unique_key: str) -> AttributeValue:
        return {"S": f"{self._spec.task_type}#{unique_key}"}

    def _key(self, unique_key: str) -> dict[str, AttributeValue]:
        return {"pk": self._pk(unique_key)}

    def _decode(self, item: dict[str, AttributeValue]) -> T:
        data: dict[str, Any] = from_attr(item.get("fields", {"M": {}}))
        for name in LIFECYCLE_FIELDS:
            if name in item:
                data[name] = from_attr(item[name])
        return structure_task(data, self._spec.cls, self._converter)

    def _decode_optional(self, item: dict[str, AttributeValue] | None) -> T | None:
        return self._decode(item) if item and "status" in item else None

    def _expires(self, now: datetime) -> AttributeValue | None:
        if self.retention is None:
            return None
        return {"N": str(int((now + self.retention).timestamp()))}

    # -- calls ---------------------------------------------------------------

    def _call(self, operation: str, **params: Any) -> Any:
        try:
            return getattr(self.client, operation)(**params)
        except Exception as error:
            raise_permanent(error, table=self.table_name)
            raise

    def _conditional(self, operation: str, **params: Any) -> Any:
        try:
            return self._call(operation, **params)
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                response = getattr(error, "response", {})
                current = self._decode_optional(response.get("Item"))
                raise ConditionFailedError(current) from None
            raise

    def get(self, unique_key: str) -> T | None:
        out = self._call(
            "get_item", TableName=self.table_name, Key=self._key(unique_key), ConsistentRead=True
        )
        return self._decode_optional(out.get("Item"))

    def get_many(self, unique_keys: Sequence[str]) -> dict[str, T]:
        found: dict[str, T] = {}
        keys = list(dict.fromkeys(unique_keys))
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [self._key(k) for k in keys[start : start + 100]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(10):
                out = self._call("batch_get_item", RequestItems=request)
                for item in out.get("Responses", {}).get(self.table_name, []):
                    task = self._decode(item)
                    found[self.unique_key(task)] = task
                request = out.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                raise BackendError(
                    f"DynamoDB kept {len(request[self.table_name]['Keys'])} keys unprocessed "
                    "after 10 tries; the table is throttled, retry later"
                )
        return found

    def save(self, task: T, *, condition: Condition | None) -> T:
        refuse_unstorable(task)
        unique_key = self.unique_key(task)
        now = self._clock.now()
        data = unstructure_task(task, self._converter)
        fields = {k: v for k, v in data.items() if k not in LIFECYCLE_FIELDS}
        order = _order(task.status, task.execute_after, now, unique_key)
        expr = Expression()
        n = expr.name
        sets = [
            f"{n('task_type')} = {expr.value({'S': self._spec.task_type})}",
            f"{n('unique_key')} = {expr.value({'S': unique_key})}",
            f"{n('status')} = {expr.value({'S': task.status.value})}",
            f"{n('fields')} = {expr.value(to_attr(fields))}",
            f"{n('gsi1pk')} = {expr.value({'S': f'{self._spec.task_type}#{task.status.value}'})}",
            f"{n('gsi1sk')} = {expr.value({'S': order})}",
            f"{n('updated_at')} = {expr.value({'S': utc_text(now)})}",
            f"{n('uuid')} = if_not_exists({n('uuid')}, {expr.value({'S': task.uuid})})",
            f"{n('created_at')} = if_not_exists({n('created_at')}, "
            f"{expr.value({'S': utc_text(now)})})",
            f"{n('attempts')} = if_not_exists({n('attempts')}, {expr.value({'N': '0'})})",
            f"{n('failures')} = if_not_exists({n('failures')}, {expr.value({'N': '0'})})",
            f"{n('version')} = if_not_exists({n('version')}, {expr.value({'N': '0'})}) "
            f"+ {expr.value({'N': '1'})}",
        ]
        removes: list[str] = []
        for name in OPTIONAL_LIFECYCLE_FIELDS:
            value = getattr(task, name)
            if value is None:
                removes.append(n(name))
            else:
                text = utc_text(value) if isinstance(value, datetime) else str(value)
                sets.append(f"{n(name)} = {expr.value({'S': text})}")
        expires = self._expires(now) if task.status in _FINISHED else None
        if expires is not None:
            sets.append(f"{n(TTL_ATTRIBUTE)} = {expr.value(expires)}")
        else:
            removes.append(n(TTL_ATTRIBUTE))
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": self._key(unique_key),
            "UpdateExpression": update,
            "ReturnValues": "ALL_NEW",
        }
        if condition is not None:
            params["ConditionExpression"] = expr.condition(condition)
            params["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        params.update(expr.params())
        check_item_size(
            {**self._key(unique_key), **{k: v for k, v in expr.values.items()}},
            f"{self._spec.task_type} task",
        )
        out = self._conditional("update_item", **params)
        return self._decode(out["Attributes"])

    def upsert(self, task: T) -> T:
        return self.save(task, condition=None)

    def _transition_update(
        self, unique_key: str, change: Transition, condition: Condition, now: datetime
    ) -> dict[str, Any]:
        expr = Expression()
        n = expr.name
        status = change.status.value
        due = change.execute_after if isinstance(change.execute_after, datetime) else None
        sets = [
            f"{n('status')} = {expr.value({'S': status})}",
            f"{n('gsi1pk')} = {expr.value({'S': f'{self._spec.task_type}#{status}'})}",
            f"{n('gsi1sk')} = {expr.value({'S': _order(change.status, due, now, unique_key)})}",
            f"{n('updated_at')} = {expr.value({'S': utc_text(now)})}",
            f"{n('version')} = {n('version')} + {expr.value({'N': '1'})}",
        ]
        for counter, delta in (
            ("attempts", change.add_attempts),
            ("failures", change.add_failures),
        ):
            if delta:
                sets.append(f"{n(counter)} = {n(counter)} + {expr.value({'N': str(delta)})}")
        removes: list[str] = []
        for name in OPTIONAL_LIFECYCLE_FIELDS:
            value = getattr(change, name)
            if value is KEEP:
                continue
            if value is None:
                removes.append(n(name))
            else:
                text = utc_text(value) if isinstance(value, datetime) else str(value)
                sets.append(f"{n(name)} = {expr.value({'S': text})}")
        expires = self._expires(now) if change.final or change.status in _FINISHED else None
        if expires is not None:
            sets.append(f"{n(TTL_ATTRIBUTE)} = {expr.value(expires)}")
        else:
            removes.append(n(TTL_ATTRIBUTE))
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        cond = f"attribute_exists({n('pk')}) AND {expr.condition(condition)}"
        return {
            "TableName": self.table_name,
            "Key": self._key(unique_key),
            "UpdateExpression": update,
            "ConditionExpression": cond,
            **expr.params(),
        }

    def transition(
        self,
        unique_key: str,
        change: Transition,
        *,
        condition: Condition,
        acquire: MutexLock | None = None,
        release: MutexLock | None = None,
    ) -> T:
        now = self._clock.now()
        update = self._transition_update(unique_key, change, condition, now)
        if acquire is None and release is None:
            out = self._conditional(
                "update_item",
                **update,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return self._decode(out["Attributes"])
        update.pop("TableName")
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    **update,
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            }
        ]
        if acquire is not None:
            items.append({"Put": lock_put(self.table_name, acquire)})
        if release is not None:
            items.append({"Delete": lock_delete(self.table_name, release)})
        try:
            self._call("transact_write_items", TransactItems=items)
        except Exception as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            reasons = getattr(error, "response", {}).get("CancellationReasons", [])
            codes = [r.get("Code", "None") for r in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                raise ConditionFailedError(self._decode_optional(reasons[0].get("Item"))) from None
            if acquire is not None and len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                held = reasons[1].get("Item") or {}
                holder = from_attr(held.get("owner", {"S": "?"}))
                until = from_attr(held.get("lock_expires_at", {"S": utc_text(now)}))
                raise MutexHeldError(
                    acquire.key, holder, datetime.fromisoformat(until) - acquire.acquired_at
                ) from None
            if release is not None and codes[-1] == "ConditionalCheckFailed":
                # the lock expired and another task holds it now: finish without releasing
                return self.transition(unique_key, change, condition=condition, acquire=acquire)
            raise
        stored = self.get(unique_key)
        if stored is None:  # deleted right after our write
            raise ConditionFailedError(None)
        return stored

    def transition_many(
        self, changes: Sequence[tuple[T, Transition]], *, condition: Condition
    ) -> list[T]:
        """One ``TransactWriteItems`` of conditional updates; the new records are computed
        from the given ones (the version condition guarantees they were current)."""
        check_batch_size(len(changes))
        if not changes:
            return []
        now = self._clock.now()
        items = []
        for record, change in changes:
            update = self._transition_update(
                self.unique_key(record), change, VersionEquals(record.version) & condition, now
            )
            items.append({"Update": update})
        try:
            self._call("transact_write_items", TransactItems=items)
        except Exception as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            raise ConditionFailedError(
                None, "the batch claim was cancelled: a task changed since it was read"
            ) from None
        return [apply_transition(record, change, now) for record, change in changes]

    # -- mutex locks -----------------------------------------------------------

    def release_mutex(self, lock: MutexLock) -> None:
        try:
            self._call("delete_item", **lock_delete(self.table_name, lock))
        except Exception as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise

    def mutex_holder(self, mutex_key: str) -> MutexLock | None:
        """The lock stored for ``mutex_key`` (expired or not), or None."""
        out = self._call(
            "get_item",
            TableName=self.table_name,
            Key=lock_key(mutex_key),
            ConsistentRead=True,
        )
        item = out.get("Item")
        if not item:
            return None
        return MutexLock(
            key=mutex_key,
            owner=from_attr(item["owner"]),
            acquired_at=datetime.fromisoformat(from_attr(item["acquired_at"])),
            expires_at=datetime.fromisoformat(from_attr(item["lock_expires_at"])),
        )

    # -- listing ---------------------------------------------------------------

    def count_by_status(self, status: AsyncTaskStatus) -> int:
        """A ``Query`` with ``Select=COUNT`` on ``gsi1`` (one call per 1 MB of index read)."""
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": GSI_NAME,
            "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": "gsi1pk"},
            "ExpressionAttributeValues": {":g": {"S": f"{self._spec.task_type}#{status.value}"}},
            "Select": "COUNT",
        }
        total = 0
        while True:
            out = self._call("query", **params)
            total += int(out.get("Count", 0))
            last = out.get("LastEvaluatedKey")
            if not last:
                return total
            params["ExclusiveStartKey"] = last

    def find_by_status(
        self, status: AsyncTaskStatus, *, limit: int = 100, cursor: str | None = None
    ) -> Page[T]:
        """Tasks in ``status``, oldest change first, from the ``gsi1`` index.

        Index reads are eventually consistent: a task that changed a moment ago
        may still be listed under its old status (callers re-check with a
        conditional write, as the sweeps do).
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": GSI_NAME,
            "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": "gsi1pk"},
            "ExpressionAttributeValues": {":g": {"S": f"{self._spec.task_type}#{status.value}"}},
            "Limit": limit,
            "ScanIndexForward": True,
        }
        if cursor is not None:
            params["ExclusiveStartKey"] = json.loads(base64.urlsafe_b64decode(cursor))
        out = self._call("query", **params)
        items, unreadable = decode_listing(
            ((str(from_attr(i.get("uuid", NO_UUID_ATTR))), i) for i in out.get("Items", [])),
            self._decode,
            self._spec.task_type,
        )
        last = out.get("LastEvaluatedKey")
        next_cursor = (
            base64.urlsafe_b64encode(json.dumps(last).encode()).decode() if last else None
        )
        return Page(items=items, cursor=next_cursor, unreadable=unreadable)
