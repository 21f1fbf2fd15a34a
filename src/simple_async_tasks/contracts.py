"""The contracts every backend implements: ``TaskDao`` and ``TaskQueue`` (the lifecycle's),
``MessageSource`` (what a worker takes messages from) and ``DeadLetterBox``; with the
values they exchange and the conditions of their writes.

Each state change is one conditional write: the condition is data (see
``conditions``), checked and applied atomically by the backend. A failed
condition raises ``ConditionFailedError`` carrying the current record, so a
caller learns the winner of a race without a second read.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any, Generic, Literal, Protocol, TypeVar

import attrs

from ._operator_contracts import (
    ANY_VERSION,
    DeletingDao,
    DocumentStore,
    LockedDao,
    MeasuredQueue,
    QueueDepth,
    StoredDocument,
)
from .conditions import (
    Absent,
    AllOf,
    AnyOf,
    AttemptsEqual,
    Condition,
    DueBy,
    FailuresBelow,
    LeaseExpiredBy,
    LeaseIs,
    StatusIn,
    UpdatedBefore,
    VersionEquals,
    absent,
    status_in,
)
from .errors import ParcelDecodeError
from .parcel import ParcelMeta, QueueAddress, RawParcel, TaskParcel, parse_parcel
from .task import AsyncTask, AsyncTaskStatus

__all__ = [
    "ANY_VERSION",
    "KEEP",
    "Absent",
    "AllOf",
    "AnyOf",
    "AttemptsEqual",
    "Condition",
    "DeadLetter",
    "DeadLetterBox",
    "DeletingDao",
    "Delivery",
    "DocumentStore",
    "DueBy",
    "FailuresBelow",
    "Keep",
    "LeaseExpiredBy",
    "LeaseIs",
    "LockedDao",
    "MeasuredQueue",
    "MessageSource",
    "MutexLock",
    "Page",
    "ParcelMeta",
    "QueueAddress",
    "QueueDepth",
    "QueuedMessage",
    "RawParcel",
    "ReceivedMessage",
    "StatusIn",
    "StoredDocument",
    "TaskDao",
    "TaskParcel",
    "TaskQueue",
    "Transition",
    "UpdatedBefore",
    "VersionEquals",
    "absent",
    "status_in",
]

T = TypeVar("T", bound=AsyncTask)
T_contra = TypeVar("T_contra", bound=AsyncTask, contravariant=True)


class Keep(enum.Enum):
    """Marker: leave the stored value of this field as it is."""

    KEEP = "KEEP"


KEEP = Keep.KEEP


@attrs.frozen(kw_only=True)
class Transition:
    """A change of lifecycle fields only; business fields are left as stored."""

    status: AsyncTaskStatus
    add_attempts: int = 0
    """Added to ``attempts`` (1 on a claim; -1 when a claim is put back unstarted)."""
    add_failures: int = 0
    """Added to ``failures`` (1 when an attempt failed, crashed or ran out of time)."""
    attempted_at: datetime | Literal[Keep.KEEP] | None = KEEP
    last_error: str | Literal[Keep.KEEP] | None = KEEP
    execute_after: datetime | Literal[Keep.KEEP] | None = KEEP
    lease_id: str | Literal[Keep.KEEP] | None = KEEP
    lease_until: datetime | Literal[Keep.KEEP] | None = KEEP
    result: str | Literal[Keep.KEEP] | None = KEEP
    """The logic's return value as JSON text (set when FULFILLED)."""
    final: bool = False
    """The task is done for good (FULFILLED, or FAILED with no attempts left):
    backends with retention let such records expire."""


@attrs.frozen(kw_only=True)
class MutexLock:
    """A lock on a mutex key, held by one task's attempt until ``expires_at``."""

    key: str
    """The mutex key, qualified by the task type."""
    owner: str
    """The ``lease_id`` of the attempt holding it (a fencing token: one per attempt)."""
    acquired_at: datetime
    expires_at: datetime

    def is_free_for(self, other: MutexLock) -> bool:
        """Whether ``other`` may take this key while this lock is stored."""
        return self.owner == other.owner or self.expires_at <= other.acquired_at


@attrs.frozen
class Page(Generic[T]):
    """One page of a listing; pass ``cursor`` back to get the next, None at the end."""

    items: list[T]
    cursor: str | None
    unreadable: list[str] = attrs.field(factory=list)
    """Uuids (or storage keys) of records on this page that could not be decoded into the
    task class (written by another version of it, or by hand): left out of ``items`` and
    logged, so one bad record never blocks a listing, a sweep or the other tasks."""


class TaskDao(Protocol[T]):
    """Stores the tasks of one task class.

    Implementations: ``InMemoryTaskDao``, ``DynamoTaskDao``.
    Every write stamps ``version`` (stored + 1), ``updated_at`` and, on first
    write, ``created_at``; a record's ``uuid`` and ``created_at`` never change,
    and ``attempts`` changes only through ``transition`` (whole-task writes
    keep the stored count), so it only grows.

    An implementation may set the class attribute ``parallel_claims = True``
    (``DynamoTaskDao`` does): a batch of deliveries is then claimed with one
    ``transition`` per task, issued concurrently, instead of one ``get_many``
    and one ``transition_many`` (see ``lifecycle.batch``). It may also have an
    ``indexed_statuses`` attribute: the statuses it lists and counts cheaply
    (see ``indexed_statuses``).
    """

    @property
    def task_class(self) -> type[T]:
        """The class of the tasks this DAO stores."""
        ...

    def unique_key(self, task: T) -> str:
        """The key a task is stored under."""
        ...

    def get(self, unique_key: str) -> T | None:
        """The stored task with this unique key (a consistent read), or None."""
        ...

    def get_many(self, unique_keys: Sequence[str]) -> dict[str, T]:
        """The stored tasks among these unique keys, by key (missing keys left out)."""
        ...

    def save(self, task: T, *, condition: Condition | None) -> T:
        """Write the whole task if ``condition`` holds (None: always); return the stored record.

        Raises:
            ConditionFailedError: the condition was false; ``.current`` is the stored record.
        """
        ...

    def upsert(self, task: T) -> T:
        """Write the whole task unconditionally (for business code that sets a status)."""
        ...

    def transition(
        self,
        unique_key: str,
        change: Transition,
        *,
        condition: Condition,
        acquire: MutexLock | None = None,
        release: MutexLock | None = None,
    ) -> T:
        """Apply ``change`` if ``condition`` holds, taking/releasing a mutex lock atomically.

        Raises:
            ConditionFailedError: the condition was false; ``.current`` is the stored record.
            MutexHeldError: ``acquire`` is held by another owner whose lock has not expired.
        """
        ...

    def transition_many(
        self, changes: Sequence[tuple[T, Transition]], *, condition: Condition
    ) -> list[T]:
        """Apply each change to its record, all or none, in one atomic write.

        Each stored record must still have the ``version`` of the record given
        with it, and meet ``condition``. Returns the new records, in order.
        At most 100 changes (DynamoDB's transaction limit).

        Raises:
            ConditionFailedError: some record did not qualify; nothing was written.
        """
        ...

    def release_mutex(self, lock: MutexLock) -> None:
        """Drop ``lock`` if ``lock.owner`` still holds it; otherwise do nothing."""
        ...

    def find_by_status(
        self, status: AsyncTaskStatus, *, limit: int = 100, cursor: str | None = None
    ) -> Page[T]:
        """Tasks in ``status``, at most ``limit`` per page (a page may hold fewer and still
        have a cursor): oldest ``updated_at`` first (``DynamoTaskDao`` lists QUEUED and
        ATTEMPTED oldest ``created_at`` first), and for SCHEDULED, earliest
        ``execute_after`` first (so a due-sweep stops at the first task not due)."""
        ...

    def count_by_status(self, status: AsyncTaskStatus) -> int:
        """How many tasks are in ``status`` (from the same index as ``find_by_status``)."""
        ...


def indexed_statuses(dao: TaskDao[T]) -> frozenset[AsyncTaskStatus]:
    """The statuses ``dao`` lists and counts from an index: its ``indexed_statuses`` when it
    has one (``DynamoTaskDao``: none with ``status_index=False``), else every status."""
    indexed: frozenset[AsyncTaskStatus] | None = getattr(dao, "indexed_statuses", None)
    return frozenset(AsyncTaskStatus) if indexed is None else indexed


class TaskQueue(Protocol[T_contra]):
    """Carries parcels to executors.

    Implementations: ``InMemoryTaskQueue``, ``SqsTaskQueue``. Limits are
    checked before anything is sent, raising ``QueueLimitError``.
    """

    @property
    def queue_type(self) -> str:
        """The kind of queue, written in each parcel's meta ("SQS", "MEMORY")."""
        ...

    @property
    def queue_url(self) -> str:
        """Where parcels go, written in each parcel's meta."""
        ...

    @property
    def max_delay(self) -> timedelta:
        """The longest delay a push accepts (SQS: 15 minutes)."""
        ...

    def check(self, parcel: TaskParcel[T_contra], *, delay: timedelta = timedelta(0)) -> None:
        """Raise ``QueueLimitError`` if pushing this parcel with this delay would be refused."""
        ...

    def push(self, parcel: TaskParcel[T_contra], *, delay: timedelta = timedelta(0)) -> None:
        """Send one parcel, visible after ``delay``."""
        ...

    def push_many(
        self, parcels: Sequence[TaskParcel[T_contra]], *, delay: timedelta = timedelta(0)
    ) -> None:
        """Send several parcels, batched where the queue allows."""
        ...


class SharedStore(Protocol):
    """A store a DAO and a queue can both write in one transaction (one SQLite file)."""

    def write(self) -> AbstractContextManager[object]:
        """A write transaction; inside another of the same thread, the block joins it."""
        ...


def joint_write(dao: object, queue: object) -> AbstractContextManager[object]:
    """One transaction for a DAO's writes and a queue's pushes when both live in one store
    that offers it (their ``db``: SQLite on one file), so the record and its message are
    stored together or not at all; else a block that does nothing (each write stands
    alone, and the sweeps repair what a crash between them leaves)."""
    store: SharedStore | None = getattr(dao, "db", None)
    if store is not None and id(store) == id(getattr(queue, "db", None)):
        return store.write()
    return nullcontext()


@attrs.frozen
class Delivery:
    """A message taken from a ``MessageSource``, with what the source needs to settle it."""

    message_id: str
    body: str
    handle: Any
    """The source's own handle (an SQS receipt handle, a SQLite row)."""


class MessageSource(Protocol):
    """Where a worker takes messages from: ``SqliteSource``, ``SqsSource``."""

    def take(self, max_messages: int, wait: timedelta) -> list[Delivery]:
        """Up to ``max_messages`` messages, waiting up to ``wait`` for one; first deletes
        what ``done`` left pending."""
        ...

    def done(self, delivery: Delivery) -> None:
        """The delivery is finished with: delete its message now, or with the next
        ``take`` or ``flush``."""
        ...

    def flush(self) -> None:
        """Delete the messages ``done`` left pending (the worker calls it as it stops)."""
        ...

    def later(self, delivery: Delivery, delay: timedelta) -> None:
        """Deliver the message again after ``delay``, unless it is deleted first: a failed
        task's backoff, or the visibility extended while its lease is renewed."""
        ...


@attrs.frozen
class DeadLetter:
    """One dead-lettered message: one a queue gave up on after too many receives."""

    message_id: str
    body: str
    receive_count: int | None
    """Receives before it was given up on (SQS: receives so far, listing included)."""
    dead_at: datetime | None
    """When it was moved aside (SQLite), or first sent (SQS)."""

    @property
    def task_type(self) -> str | None:
        """The task type its parcel names, or None when the body is not a parcel."""
        try:
            return parse_parcel(self.body).meta.task_type
        except ParcelDecodeError:
            return None


class DeadLetterBox(Protocol):
    """The dead letters of one queue: ``SqliteDeadLetters``, ``SqsDeadLetters``.

    Redriving puts messages back on their queue; the execute lifecycle still decides
    from the stored record, so a redriven message of a task that finished meanwhile is
    skipped, never run twice.
    """

    @property
    def location(self) -> str:
        """Where the dead letters are (for messages to a person)."""
        ...

    def list(self, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` dead letters, oldest first where the backend knows the order."""
        ...

    def redrive(self, limit: int | None = None) -> int:
        """Move up to ``limit`` (default: all) dead letters back to the queue; return how many."""
        ...


@attrs.frozen
class QueuedMessage:
    """A message held by ``InMemoryTaskQueue`` (what ``receive`` returns in tests)."""

    message_id: str
    body: str
    visible_at: datetime
    delay: timedelta


@attrs.frozen
class ReceivedMessage:
    """A message taken from a ``SqliteTaskQueue``; delete it when done, or let it become
    visible again."""

    message_id: str
    receipt: str
    body: str
    receive_count: int
