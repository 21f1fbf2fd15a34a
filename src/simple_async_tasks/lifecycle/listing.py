"""Inspection over any ``TaskDao``: what is queued, what failed and why, counts per status.

Read-only; to change a task use ``cancel_task``, ``halt_task``, ``resume_task``
and ``retry_task``, each one conditional write.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from ..contracts import MutexLock, Page, QueueDepth, TaskDao, indexed_statuses
from ..errors import ConfigurationError
from ..task import AsyncTask, AsyncTaskStatus

T = TypeVar("T", bound=AsyncTask)


def list_tasks(
    dao: TaskDao[T], status: AsyncTaskStatus, *, limit: int = 100, cursor: str | None = None
) -> Page[T]:
    """One page of the tasks in ``status``, oldest first; pass ``page.cursor`` for the next."""
    return dao.find_by_status(status, limit=limit, cursor=cursor)


def show_task(dao: TaskDao[T], unique_key: str) -> T | None:
    """The stored task with this unique key (a consistent read), or None."""
    return dao.get(unique_key)


def count_tasks(
    dao: TaskDao[T], statuses: Iterable[AsyncTaskStatus] | None = None
) -> dict[AsyncTaskStatus, int]:
    """How many tasks of the DAO's type are in each status.

    By default every status the DAO counts from an index: all of them on memory and
    SQLite; on DynamoDB all but FULFILLED and CANCELED, which only a scan of the whole
    table can count (name them in ``statuses`` to pay for it).
    """
    if statuses is None:
        indexed = indexed_statuses(dao)
        statuses = [s for s in AsyncTaskStatus if s in indexed]
    return {status: dao.count_by_status(status) for status in statuses}


def find_task_by_uuid(dao: TaskDao[T], task_uuid: str, *, page_size: int = 500) -> T | None:
    """The stored task whose ``uuid`` is ``task_uuid`` (the id logs name tasks by), or None.

    Tasks are stored by unique key, so this pages through every status of the task type
    (``find_by_status``): on DynamoDB that is one index ``Query`` per page, billed for
    what it reads. Meant for an operator following a log line, not for a hot path.
    """
    for status in AsyncTaskStatus:
        cursor: str | None = None
        while True:
            page = dao.find_by_status(status, limit=page_size, cursor=cursor)
            for task in page.items:
                if task.uuid == task_uuid:
                    return task
            cursor = page.cursor
            if cursor is None:
                break
    return None


def queue_depth(queue: object) -> QueueDepth:
    """How many messages ``queue`` holds: visible, in flight, delayed (and dead, on
    SQLite). Exact in memory and on SQLite; SQS's approximate counts.

    Raises:
        ConfigurationError: ``queue`` cannot count its messages (a queue of your own
            without ``depth()``).
    """
    depth = getattr(queue, "depth", None)
    if depth is None:
        raise ConfigurationError(
            f"{type(queue).__name__} cannot count its messages: give it a depth() method "
            "returning a QueueDepth (see simple_async_tasks.contracts.MeasuredQueue)"
        )
    found: QueueDepth = depth()
    return found


def locking(dao: object, method: str) -> Any:
    """``dao``'s lock method ``method``, or a ConfigurationError saying it has none."""
    found = getattr(dao, method, None)
    if found is None:
        raise ConfigurationError(
            f"{type(dao).__name__} cannot list or break mutex locks: give it mutex_locks() "
            "and break_mutex() (see simple_async_tasks.contracts.LockedDao)"
        )
    return found


def mutex_locks(dao: object) -> list[MutexLock]:
    """The mutex locks stored for the DAO's task type, held or expired (an expired lock
    is free: the next claim takes it). On DynamoDB a filtered ``Scan`` of the table."""
    found: list[MutexLock] = locking(dao, "mutex_locks")()
    return found
