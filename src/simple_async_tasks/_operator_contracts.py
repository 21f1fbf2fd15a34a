"""The contracts of what operators look at and act on, beyond the task lifecycle: queue
depth and purge, mutex locks, deletes, and the named documents (worker heartbeats, stored
schedules) a backend keeps beside the tasks. Re-exported by ``contracts``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import attrs

from .conditions import Condition
from .task import AsyncTask

if TYPE_CHECKING:
    from .contracts import MutexLock


@attrs.frozen(kw_only=True)
class QueueDepth:
    """How many messages a queue holds, by state (``operations.queue_depth``)."""

    visible: int
    """Ready to be received now."""
    in_flight: int
    """Received and not yet deleted (running, or hidden for a retry's backoff)."""
    delayed: int
    """Sent with a delay that has not passed yet."""
    dead: int | None = None
    """In the queue's dead-letter store, where the backend keeps one it can count
    (SQLite); None where it does not (memory, SQS: ``dlq list`` looks there)."""
    exact: bool = True
    """False for SQS, whose counts are approximate (eventually consistent)."""


class MeasuredQueue(Protocol):
    """A queue that can say how many messages it holds, and drop them all (every queue of
    this library)."""

    def depth(self) -> QueueDepth:
        """The messages held now, by state; one cheap call (SQS: GetQueueAttributes)."""
        ...

    def purge(self) -> int | None:
        """Drop every message; how many (None where the backend does not say: SQS)."""
        ...


class LockedDao(Protocol):
    """A DAO that can list and break its task type's mutex locks (every DAO of this
    library: ``operations.mutex_locks``, ``operations.break_lock``)."""

    def mutex_locks(self) -> list[MutexLock]:
        """The stored locks of the DAO's task type (expired ones included)."""
        ...

    def break_mutex(self, mutex_key: str) -> MutexLock | None:
        """Remove the lock of ``mutex_key`` whoever holds it; return it, or None."""
        ...


class DeletingDao(Protocol):
    """A DAO that can delete a task and remember it did (every DAO of this library:
    ``operations.delete_task``, ``operations.delete_failed``).

    A deleted task may still have a message on a queue; its delivery finds no record. The
    tombstone a delete leaves tells that delivery to skip, where a missing record is
    otherwise a permanent error (a message for a task that was never stored).
    """

    def delete(self, unique_key: str, *, condition: Condition) -> AsyncTask:
        """Remove the record if it meets ``condition`` and leave a tombstone, atomically;
        return the removed record. ``ConditionFailedError`` (with the current record, or
        None) when it does not."""
        ...

    def deleted_at(self, unique_key: str) -> datetime | None:
        """When the task under ``unique_key`` was last deleted, while its tombstone is kept
        (14 days); None if it was not."""
        ...


ANY_VERSION = -1
"""``put_document``'s ``expected_version`` that writes whatever is stored."""


@attrs.frozen(kw_only=True)
class StoredDocument:
    """A named JSON document of one kind, as a ``DocumentStore`` holds it."""

    kind: str
    """What it is: ``worker``, ``schedule``."""
    name: str
    """Unique within its kind."""
    version: int
    """1 when created, one more at each write: the fence of a conditional write."""
    data: Mapping[str, object]
    updated_at: datetime
    expires_at: datetime | None = None
    """When the store may forget it (DynamoDB's time-to-live; the others drop it when
    they list); None: kept until deleted."""


class DocumentStore(Protocol):
    """Named JSON documents kept in the task store beside the tasks (a dict in memory, a
    table on SQLite, items under ``DOC#<kind>#<name>`` on DynamoDB): what the worker
    registry and the stored schedules are written in.

    Writes are conditional on the version read, so two operators editing one schedule
    never lose an update: the second gets ``ConditionFailedError`` with the current
    document.
    """

    def get_document(self, kind: str, name: str) -> StoredDocument | None:
        """The document (a consistent read), or None (also once it expired)."""
        ...

    def list_documents(self, kind: str) -> list[StoredDocument]:
        """Every unexpired document of ``kind``, by name."""
        ...

    def put_document(
        self,
        kind: str,
        name: str,
        data: Mapping[str, object],
        *,
        expected_version: int,
        expires_at: datetime | None = None,
    ) -> StoredDocument:
        """Write the document if the stored one is at ``expected_version`` (0: none is
        stored; ``ANY_VERSION``: whatever is); return it as stored."""
        ...

    def delete_document(self, kind: str, name: str, *, expected_version: int) -> bool:
        """Remove the document if it is at ``expected_version`` (``ANY_VERSION``: at any);
        False if there was none."""
        ...
