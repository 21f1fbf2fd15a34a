"""``DynamoTaskDao``: task records in one DynamoDB table, one conditional write per change.

The table layout (see docs/dynamodb.md) holds many task types: the partition
key ``pk`` is ``<task_type>#<unique_key>`` for a task and ``MUTEX#<key>`` for a
mutex lock; the sparse global secondary index ``gsi1`` lists the tasks that
sweeps and operators look for (see ``_dynamo_index``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import cattrs

from ..clock import Clock, system_clock
from ..conditions import Condition, VersionEquals, evaluate
from ..contracts import MutexLock, Transition
from ..errors import ConditionFailedError, MutexHeldError
from ..lifecycle.effects import Call, Steps, run
from ..serialization import (
    default_converter,
    refuse_unstorable,
    structure_task,
    unstructure_task,
)
from ..task import LIFECYCLE_FIELDS, AsyncTask, AsyncTaskStatus
from ._aws_clients import ClientPlace
from ._dynamo_batch import batch_get
from ._dynamo_codec import (
    AttributeValue,
    check_item_size,
    check_partition_key,
    fits_partition_key,
    from_attr,
    utc_text,
)
from ._dynamo_expressions import Expression
from ._dynamo_index import DEFAULT_SHARDS, GSI_NAME, StatusIndex
from ._dynamo_listing import DynamoListing
from ._dynamo_locks import lock_delete, lock_put
from ._dynamo_tombstones import delete_with_tombstone, tombstone_key, tombstone_time
from ._dynamo_updates import save_update, transition_update
from ._edges import aws_code as error_code
from ._edges import aws_edge, aws_error, require_boto3
from ._records import (
    NO_UUID,
    TaskClassDao,
    apply_transition,
    check_batch_size,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from .aws_async import AsyncDynamoTaskDao

T = TypeVar("T", bound=AsyncTask)

logger = logging.getLogger("simple_async_tasks.dynamodb")

__all__ = ["GSI_NAME", "DynamoTaskDao"]

NO_UUID_ATTR = {"S": NO_UUID}
_FINISHED = frozenset({AsyncTaskStatus.FULFILLED, AsyncTaskStatus.CANCELED})
READ_HERE = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})
"""The AWS error codes this DAO turns into its own answers (a lost condition, a held lock)."""


class DynamoTaskDao(TaskClassDao[T], DynamoListing[T], ClientPlace):
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
        status_index: bool = True,
        index_shards: int = DEFAULT_SHARDS,
    ) -> None:
        super().__init__(task_class, clock, converter)
        self.index = StatusIndex(self._spec.task_type, enabled=status_index, shards=index_shards)
        """The status index: on by default; ``status_index=False`` saves 2 write units per
        task and turns listings, counts and sweeps off (see docs/dynamodb.md)."""
        self.table_name = table_name
        if client is None:
            require_boto3(f"DynamoTaskDao on table {table_name!r}")
        self._client = client
        self._io = {"client": _Client(self)}
        """The sync driver's target for the request steps: the boto3 client, through
        ``_call``'s error edge."""
        self._region = region
        self._endpoint_url = endpoint_url
        self.retention = retention
        """How long finished tasks (FULFILLED, CANCELED, FAILED for good) are kept.

        None (the default) keeps them forever."""

    @property
    def indexed_statuses(self) -> frozenset[AsyncTaskStatus]:
        """The statuses ``find_by_status`` and ``count_by_status`` read from the index;
        the others (FULFILLED, CANCELED) are found by scanning the table."""
        return self.index.statuses

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            from ._aws_clients import dynamodb_client

            self._client = dynamodb_client(self._region, self._endpoint_url)
        return self._client

    # -- item codec ----------------------------------------------------------

    def _pk(self, unique_key: str) -> AttributeValue:
        pk = self._pk_text(unique_key)
        check_partition_key(pk, f"the unique key of a {self._spec.task_type} task")
        return {"S": pk}

    def _pk_text(self, unique_key: str) -> str:
        return f"{self._spec.task_type}#{unique_key}"

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
        """One client call; every AWS error but the two this DAO reads itself leaves as
        the library's own (``backends._edges``)."""
        with aws_edge("DynamoDB table", self.table_name, keep=READ_HERE):
            return getattr(self.client, operation)(**params)

    def aio(self) -> AsyncDynamoTaskDao[T]:
        """This DAO's enqueue and claim calls awaited on aiobotocore (the ``aws-async``
        extra): see ``backends.aws_async``.

        Raises:
            ConfigurationError: aiobotocore is not installed (with the install command).
        """
        from .aws_async import AsyncDynamoTaskDao

        return AsyncDynamoTaskDao(self)

    def _unexpected(self, error: Exception) -> Exception:
        """A kept error this DAO does not handle after all, translated."""
        return aws_error(error, service="DynamoDB table", resource=self.table_name)

    # The calls an enqueue and a claim make are steps (``lifecycle.effects``): they yield
    # each request as ``Call("client", operation, kwargs=params)``, so this class drives
    # them with boto3 and ``AsyncDynamoTaskDao`` awaits them on aiobotocore, one code.

    def _conditional_steps(self, operation: str, **params: Any) -> Steps[Any]:
        try:
            return (yield Call("client", operation, kwargs=params))
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                item = getattr(error, "response", {}).get("Item")
                if item is None:
                    item = yield from self._read_back_steps(params["Key"])
                raise ConditionFailedError(self._decode_optional(item)) from None
            if error_code(error) in READ_HERE:
                raise self._unexpected(error) from error
            raise

    def _read_back(self, key: dict[str, AttributeValue]) -> dict[str, AttributeValue] | None:
        return run(self._read_back_steps(key), self._io)

    def _read_back_steps(
        self, key: dict[str, AttributeValue]
    ) -> Steps[dict[str, AttributeValue] | None]:
        """The stored item, for an engine that returned none with a failed condition
        (``ReturnValuesOnConditionCheckFailure`` unsupported, or the item is absent)."""
        out = yield Call(
            "client",
            "get_item",
            kwargs={"TableName": self.table_name, "Key": key, "ConsistentRead": True},
        )
        item: dict[str, AttributeValue] | None = out.get("Item")
        return item

    def get(self, unique_key: str) -> T | None:
        return run(self._get_steps(unique_key), self._io)

    def _get_steps(self, unique_key: str) -> Steps[T | None]:
        """``get`` as steps."""
        item = yield from self._read_back_steps(self._key(unique_key))
        return self._decode_optional(item)

    def get_many(self, unique_keys: Sequence[str]) -> dict[str, T]:
        found: dict[str, T] = {}
        pks = (self._pk_text(k) for k in dict.fromkeys(unique_keys))
        # a key DynamoDB cannot hold is not stored; one in the call would sink every key
        keys = [{"pk": {"S": pk}} for pk in pks if fits_partition_key(pk)]
        for item in self._batch_get(keys, consistent=True):
            task = self._decode(item)
            found[self.unique_key(task)] = task
        return found

    def _batch_get(
        self, keys: list[dict[str, AttributeValue]], *, consistent: bool
    ) -> list[dict[str, AttributeValue]]:
        """The items stored under ``keys`` (missing ones left out), 100 keys per call."""
        return batch_get(self._call, self.table_name, keys, consistent=consistent)

    def save(self, task: T, *, condition: Condition | None) -> T:
        return run(self._save_steps(task, condition=condition), self._io)

    def _save_steps(self, task: T, *, condition: Condition | None) -> Steps[T]:
        """``save`` as steps."""
        refuse_unstorable(task)
        unique_key = self.unique_key(task)
        now = self._clock.now()
        data = unstructure_task(task, self._converter)
        fields = {k: v for k, v in data.items() if k not in LIFECYCLE_FIELDS}
        expr = Expression()
        update = save_update(
            expr,
            task,
            task_type=self._spec.task_type,
            unique_key=unique_key,
            fields=fields,
            index=self.index,
            now=now,
            expires=self._expires(now) if task.status in _FINISHED else None,
        )
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
        out = yield from self._conditional_steps("update_item", **params)
        return self._decode(out["Attributes"])

    def upsert(self, task: T) -> T:
        return self.save(task, condition=None)

    def _transition_update(
        self, unique_key: str, change: Transition, condition: Condition, now: datetime
    ) -> dict[str, Any]:
        expr = Expression()
        update = transition_update(
            expr,
            change,
            unique_key=unique_key,
            index=self.index,
            now=now,
            expires=self._expires(now) if change.final or change.status in _FINISHED else None,
        )
        n = expr.name
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
        steps = self._transition_steps(
            unique_key, change, condition=condition, acquire=acquire, release=release
        )
        return run(steps, self._io)

    def _transition_steps(
        self,
        unique_key: str,
        change: Transition,
        *,
        condition: Condition,
        acquire: MutexLock | None = None,
        release: MutexLock | None = None,
    ) -> Steps[T]:
        """``transition`` as steps."""
        now = self._clock.now()
        update = self._transition_update(unique_key, change, condition, now)
        if acquire is None and release is None:
            out = yield from self._conditional_steps(
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
            yield Call("client", "transact_write_items", kwargs={"TransactItems": items})
        except Exception as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            reasons = getattr(error, "response", {}).get("CancellationReasons", [])
            codes = [r.get("Code", "None") for r in reasons]
            if codes and codes[0] == "ConditionalCheckFailed":
                item = reasons[0].get("Item")
                if item is None:
                    item = yield from self._read_back_steps(update["Key"])
                raise ConditionFailedError(self._decode_optional(item)) from None
            if acquire is not None and len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                held = reasons[1].get("Item") or {}
                holder = from_attr(held.get("owner", {"S": "?"}))
                until = from_attr(held.get("lock_expires_at", {"S": utc_text(now)}))
                raise MutexHeldError(
                    acquire.key, holder, datetime.fromisoformat(until) - acquire.acquired_at
                ) from None
            if release is not None and codes[-1] == "ConditionalCheckFailed":
                # the lock expired and another task holds it now: finish without releasing
                again = self._transition_steps(
                    unique_key, change, condition=condition, acquire=acquire
                )
                return (yield from again)
            raise self._unexpected(error) from error
        stored = yield from self._get_steps(unique_key)
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

    # -- deletes -------------------------------------------------------------------

    def delete(self, unique_key: str, *, condition: Condition) -> T:
        """Remove the task if it meets ``condition`` and lay its tombstone: a consistent
        read, then one ``TransactWriteItems`` (the delete fenced to the version read, and
        the tombstone's put), retried if the task changed in between."""
        key = self._key(unique_key)
        stored = self.get(unique_key)
        for _ in range(3):
            if stored is None or not evaluate(condition, stored):
                raise ConditionFailedError(stored)
            items = delete_with_tombstone(
                self.table_name, key["pk"]["S"], condition, stored.version, self._clock.now()
            )
            try:
                self._call("transact_write_items", TransactItems=items)
                return stored
            except Exception as error:
                reasons = getattr(error, "response", {}).get("CancellationReasons", [])
                if error_code(error) != "TransactionCanceledException":
                    raise
                if not reasons or reasons[0].get("Code") != "ConditionalCheckFailed":
                    raise self._unexpected(error) from error
                stored = self._decode_optional(reasons[0].get("Item") or self._read_back(key))
        raise ConditionFailedError(stored, "the task kept changing while it was being deleted")

    def deleted_at(self, unique_key: str) -> datetime | None:
        """When the task under ``unique_key`` was deleted, while its tombstone is kept
        (one consistent ``GetItem``)."""
        return run(self._deleted_at_steps(unique_key), self._io)

    def _deleted_at_steps(self, unique_key: str) -> Steps[datetime | None]:
        """``deleted_at`` as steps."""
        tombstone = yield from self._read_back_steps(tombstone_key(self._pk(unique_key)["S"]))
        return tombstone_time(tombstone, self._clock.now())

    # -- mutex locks -----------------------------------------------------------

    def release_mutex(self, lock: MutexLock) -> None:
        run(self._release_mutex_steps(lock), self._io)

    def _release_mutex_steps(self, lock: MutexLock) -> Steps[None]:
        """``release_mutex`` as steps."""
        try:
            yield Call("client", "delete_item", kwargs=lock_delete(self.table_name, lock))
        except Exception as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise


class _Client:
    """The boto3 client as the sync driver's ``client`` target: each operation through
    the DAO's error edge (``DynamoTaskDao._call``)."""

    __slots__ = ("_dao",)

    def __init__(self, dao: DynamoTaskDao[Any]) -> None:
        self._dao = dao

    def __getattr__(self, operation: str) -> Any:
        return functools.partial(self._dao._call, operation)
