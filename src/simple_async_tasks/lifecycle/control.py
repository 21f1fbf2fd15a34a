"""Operator actions: on one task cancel, halt, resume, retry, delete (each one conditional
write); on the FAILED tasks of a type, delete; on a queue, purge; on a mutex lock, break.

Because every change is conditional, an operator never races an executor into
a double run: a task that an executor has claimed (ATTEMPTED) cannot be
canceled or halted under it, and a canceled or halted task is skipped by any
delivery of a message still on the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar, cast

from ..clock import Clock, system_clock
from ..conditions import status_in
from ..contracts import MutexLock, TaskDao, TaskQueue, Transition
from ..definition import task_spec
from ..errors import (
    ConditionFailedError,
    ConfigurationError,
    InvalidTaskError,
    MutexHeldError,
    TaskNotFoundError,
)
from ..parcel import ParcelMeta, TaskParcel
from ..task import AsyncTask, AsyncTaskStatus
from .listing import locking

T = TypeVar("T", bound=AsyncTask)
S = AsyncTaskStatus


_PAST = {
    "cancel": "canceled",
    "delete": "deleted",
    "halt": "halted",
    "resume": "resumed",
    "retry": "retried",
}
_NOT_RUNNING = {S.SCHEDULED, S.QUEUED, S.HALTED, S.FAILED, S.FULFILLED, S.CANCELED}


def _change(dao: TaskDao[T], unique_key: str, change: Transition, allowed: set[S], verb: str) -> T:
    try:
        return dao.transition(unique_key, change, condition=status_in(allowed))
    except ConditionFailedError as lost:
        raise _refused(dao, unique_key, lost.current, allowed, verb) from None


def _refused(
    dao: TaskDao[T], unique_key: str, current: T | None, allowed: set[S], verb: str
) -> TaskNotFoundError | InvalidTaskError:
    """The error that says why ``verb`` did not apply to the task ``current`` (None: no
    record)."""
    task_type = task_spec(dao.task_class).task_type
    if current is None:
        hint = "check the key (tasks list shows the stored ones) and the backend"
        return TaskNotFoundError(task_type, unique_key, hint=hint)
    allowed_text = ", ".join(sorted(s.value for s in allowed))
    return InvalidTaskError(
        f"cannot {verb} {task_type} {current.uuid}: it is "
        f"{current.status.value}, and only {allowed_text} tasks can be {_PAST[verb]}"
        + (" (wait for the running attempt to end)" if current.status is S.ATTEMPTED else "")
    )


def cancel(dao: TaskDao[T], unique_key: str) -> T:
    """Mark a SCHEDULED, QUEUED, HALTED or FAILED task CANCELED: it will never run.

    Raises:
        TaskNotFoundError: no such task.
        InvalidTaskError: the task is running (ATTEMPTED) or already finished.
    """
    change = Transition(status=S.CANCELED, final=True)
    return _change(dao, unique_key, change, {S.SCHEDULED, S.QUEUED, S.HALTED, S.FAILED}, "cancel")


def halt(dao: TaskDao[T], unique_key: str) -> T:
    """Park a SCHEDULED, QUEUED or FAILED task as HALTED: deliveries skip it until resumed."""
    return _change(
        dao, unique_key, Transition(status=S.HALTED), {S.SCHEDULED, S.QUEUED, S.FAILED}, "halt"
    )


def _push(dao: TaskDao[T], queue: TaskQueue[T], task: T, clock: Clock) -> None:
    delay = timedelta(0)
    if task.execute_after is not None:
        delay = max(timedelta(0), min(task.execute_after - clock.now(), queue.max_delay))
    meta = ParcelMeta.for_queue(queue, task_spec(dao.task_class).task_type)
    queue.push(TaskParcel(task=task, meta=meta), delay=delay)


def resume(
    dao: TaskDao[T],
    queue: TaskQueue[T],
    unique_key: str,
    *,
    clock: Clock = system_clock,
) -> T:
    """Make a HALTED task QUEUED again and push it (SCHEDULED if it is due beyond the queue's
    longest delay: the scheduler enqueues it)."""
    current = dao.get(unique_key)
    later = (
        current is not None
        and current.execute_after is not None
        and current.execute_after - clock.now() > queue.max_delay
    )
    status = S.SCHEDULED if later else S.QUEUED
    task = _change(dao, unique_key, Transition(status=status), {S.HALTED}, "resume")
    if status is S.QUEUED:
        _push(dao, queue, task, clock)
    return task


def retry(
    dao: TaskDao[T],
    queue: TaskQueue[T],
    unique_key: str,
    *,
    clock: Clock = system_clock,
) -> T:
    """Put a FAILED task back to QUEUED (attempts kept, due now) and push it."""
    change = Transition(status=S.QUEUED, execute_after=None)
    task = _change(dao, unique_key, change, {S.FAILED}, "retry")
    _push(dao, queue, task, clock)
    return task


def _deleter(dao: TaskDao[T]) -> Callable[..., T]:
    delete = getattr(dao, "delete", None)
    if delete is None:
        raise ConfigurationError(
            f"{type(dao).__name__} cannot delete tasks: give it delete() and deleted_at() "
            "(see simple_async_tasks.contracts.DeletingDao)"
        )
    return cast("Callable[..., T]", delete)


def delete(dao: TaskDao[T], unique_key: str) -> T:
    """Delete a task that is not running (any status but ATTEMPTED); return the removed
    record.

    The record goes and a tombstone stays for 14 days (SQS's longest retention), in one
    write: a message of the task still on a queue is skipped when it is delivered, where
    a message for a task never stored is a permanent error. The unique key is free
    again at once: enqueueing under it stores a new task.

    Raises:
        TaskNotFoundError: no such task.
        InvalidTaskError: the task is running (cancel or wait for the attempt to end).
    """
    try:
        return _deleter(dao)(unique_key, condition=status_in(_NOT_RUNNING))
    except ConditionFailedError as lost:
        raise _refused(dao, unique_key, lost.current, _NOT_RUNNING, "delete") from None


def delete_failed(dao: TaskDao[T], *, page_size: int = 100, limit: int | None = None) -> int:
    """Delete the FAILED tasks of the DAO's type (retries pending included: their messages
    are skipped); return how many. Each is one conditional delete: a task retried while
    this runs is left alone. ``limit`` caps how many are deleted in this call.
    """
    remove = _deleter(dao)
    deleted, cursor = 0, None
    while limit is None or deleted < limit:
        size = page_size if limit is None else min(page_size, limit - deleted)
        page = dao.find_by_status(S.FAILED, limit=size, cursor=cursor)
        for task in page.items:
            try:
                remove(dao.unique_key(task), condition=status_in(S.FAILED))
            except ConditionFailedError:
                continue  # retried or deleted meanwhile
            deleted += 1
        cursor = page.cursor
        if cursor is None:
            break
    return deleted


def purge_queue(queue: object) -> int | None:
    """Drop every message of ``queue``; return how many (None on SQS, which does not say).

    Messages only: no task record changes. A QUEUED task whose message was dropped is
    pushed again by the requeue sweep once it is older than its ``requeue_after``, so a
    purge never loses a task; cancel tasks to stop them.

    Raises:
        ConfigurationError: ``queue`` cannot purge (a queue of your own without
            ``purge()``).
        BackendError: SQS refused (one purge per queue per 60 seconds).
    """
    purge = getattr(queue, "purge", None)
    if purge is None:
        raise ConfigurationError(
            f"{type(queue).__name__} cannot drop its messages: give it a purge() method "
            "(see simple_async_tasks.contracts.MeasuredQueue)"
        )
    dropped: int | None = purge()
    return dropped


def break_lock(
    dao: object, mutex_key: str, *, force: bool = False, clock: Clock = system_clock
) -> MutexLock | None:
    """Remove the lock of ``mutex_key`` (``TaskType#value``, as ``mutex_locks`` shows it);
    return what was removed, or None when there was none.

    A live lock (not yet expired) is refused unless ``force``: breaking it lets another
    task of the same mutex run beside the attempt that holds it (whose own release is
    then a no-op, fenced by its lease id). An expired lock needs no breaking, but may be.

    Raises:
        MutexHeldError: the lock is live and ``force`` is not set.
    """
    if not force:
        held: MutexLock | None = locking(dao, "mutex_holder")(mutex_key)
        now = clock.now()
        if held is not None and held.expires_at > now:
            raise MutexHeldError(mutex_key, held.owner, held.expires_at - now)
    removed: MutexLock | None = locking(dao, "break_mutex")(mutex_key)
    return removed
