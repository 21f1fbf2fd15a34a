"""Sweeps that keep nothing stuck: re-push tasks whose message was lost.

A message can go missing without any error reaching the caller: a process
dies between the enqueue's save and its push, a push fails for good, or a
failed attempt's message is moved to the dead-letter queue before the task
used its attempts. ``requeue_stale`` finds such tasks by status and age and
pushes them again, one conditional write each, so sweeps running at the same
time (or again and again) push each task once per threshold. A task pushed
twice is harmless: its second delivery is skipped.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Generic, TypeVar

import attrs
import cattrs

from ..clock import Clock, system_clock
from ..conditions import UpdatedBefore, VersionEquals, status_in
from ..contracts import TaskDao, TaskQueue, Transition
from ..definition import task_spec
from ..errors import ConditionFailedError
from ..parcel import ParcelMeta, TaskParcel
from ..serialization import default_converter
from ..task import AsyncTask, AsyncTaskStatus
from .decisions import lease_free_at
from .options import ExecuteOptions
from .retry import RetryPolicy

T = TypeVar("T", bound=AsyncTask)
S = AsyncTaskStatus

logger = logging.getLogger("simple_async_tasks.sweeps")


@attrs.define
class SweepReport(Generic[T]):
    """What one sweep did."""

    requeued: list[T] = attrs.field(factory=list)
    """Tasks pushed again by this sweep."""
    stuck: list[T] = attrs.field(factory=list)
    """ATTEMPTED tasks whose lease lapsed (a delivery will take them over; those whose
    lease lapsed ``older_than`` ago are pushed again, and are in ``requeued`` too)."""
    examined: int = 0


def requeue_stale(
    *,
    dao: TaskDao[T],
    queue: TaskQueue[T],
    older_than: timedelta = timedelta(minutes=15),
    options: ExecuteOptions | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock = system_clock,
    converter: cattrs.Converter = default_converter,
    page_size: int = 100,
    max_tasks: int = 10_000,
) -> SweepReport[T]:
    """Push again the tasks whose message was probably lost.

    Re-pushes QUEUED tasks not written for ``older_than`` and due, and FAILED
    tasks with failures left (under the task type's ``options.retry``, or
    ``retry`` when given) whose backoff ended ``older_than`` ago, and ATTEMPTED
    tasks whose lease lapsed ``older_than`` ago (their runner died and their message
    did not come back: dead-lettered, or a queue without redelivery), which the
    next delivery takes over; every ATTEMPTED task with a lapsed lease is listed in
    ``stuck``. Pass the task type's own ``ExecuteOptions``
    (``TaskApp.scheduler`` does): a sweep with another retry policy would push
    tasks that failed for good, or leave behind ones with failures left. Each re-push is a
    conditional write (same version, unchanged since the listing) followed by
    the push, so concurrent sweeps push each task once. Choose ``older_than``
    longer than a message normally waits in the queue: a re-push of a task
    whose message is merely slow costs one skipped delivery, nothing more.
    """
    spec = task_spec(dao.task_class)
    settings = options or ExecuteOptions()
    policy = retry or settings.retry
    now = clock.now()
    cutoff = now - older_than
    report: SweepReport[T] = SweepReport()
    meta = ParcelMeta.for_queue(queue, spec.task_type)

    def due_and_stale(task: T) -> bool:
        if task.updated_at is None or task.updated_at >= cutoff:
            return False
        if task.status is S.ATTEMPTED:
            free_at = lease_free_at(task, settings)
            return free_at is None or free_at <= cutoff
        if task.status is S.FAILED:
            if task.failures >= policy.max_attempts:
                return False
            return task.execute_after is None or task.execute_after <= cutoff
        return task.execute_after is None or task.execute_after <= now

    seen: set[str] = set()
    for status in (S.QUEUED, S.FAILED, S.ATTEMPTED):
        # listings are oldest first (by change, or by creation on DynamoDB's OPEN group): a
        # task created after the horizon ends the scan, one changed after it is passed over.
        # A task renewed within the last lease still holds it.
        horizon = now - settings.lease if status is S.ATTEMPTED else cutoff
        cursor: str | None = None
        done = False
        while not done and report.examined < max_tasks:
            page = dao.find_by_status(status, limit=page_size, cursor=cursor)
            for task in page.items:
                if task.created_at is not None and task.created_at >= horizon:
                    done = True
                    break
                if task.updated_at is not None and task.updated_at >= horizon:
                    continue
                key = spec.unique_key(task, converter)
                if key in seen:  # touched by this sweep: it moved to the end of the listing
                    continue
                seen.add(key)
                report.examined += 1
                if status is S.ATTEMPTED:
                    free_at = lease_free_at(task, settings)
                    if free_at is None or free_at <= now:
                        report.stuck.append(task)
                if not due_and_stale(task):
                    continue
                try:
                    touched = dao.transition(
                        key,
                        Transition(status=status),
                        condition=status_in(status)
                        & VersionEquals(task.version)
                        & UpdatedBefore(cutoff),
                    )
                except ConditionFailedError:
                    continue  # changed since the listing: another sweep or an executor has it
                queue.push(TaskParcel(task=touched, meta=meta))
                report.requeued.append(touched)
                logger.info("requeued stale %s %s (%s)", spec.task_type, task.uuid, status.value)
            cursor = page.cursor
            if cursor is None:
                done = True
    if report.stuck:
        logger.warning(
            "%d %s task(s) ATTEMPTED with a lapsed lease; the next delivery takes each over",
            len(report.stuck),
            spec.task_type,
        )
    return report


def promote_due(
    *,
    dao: TaskDao[T],
    queue: TaskQueue[T],
    clock: Clock = system_clock,
    converter: cattrs.Converter = default_converter,
    page_size: int = 100,
    max_tasks: int = 10_000,
) -> list[T]:
    """Enqueue the SCHEDULED tasks that come due within the queue's longest delay.

    SCHEDULED tasks are listed earliest ``execute_after`` first, so the sweep
    stops at the first one not yet due. Each is moved to QUEUED with one
    conditional write (still SCHEDULED, same version) before its parcel is
    pushed with the delay left, so sweeps running at the same time enqueue
    each task once. Returns the tasks this sweep enqueued.
    """
    spec = task_spec(dao.task_class)
    now = clock.now()
    horizon = now + queue.max_delay
    meta = ParcelMeta.for_queue(queue, spec.task_type)
    promoted: list[T] = []
    examined = 0
    cursor: str | None = None
    while examined < max_tasks:
        page = dao.find_by_status(S.SCHEDULED, limit=page_size, cursor=cursor)
        for task in page.items:
            if task.execute_after is not None and task.execute_after > horizon:
                return promoted
            examined += 1
            try:
                queued = dao.transition(
                    spec.unique_key(task, converter),
                    Transition(status=S.QUEUED),
                    condition=status_in(S.SCHEDULED) & VersionEquals(task.version),
                )
            except ConditionFailedError:
                continue  # another sweep, a cancel or an enqueue got there first
            delay = timedelta(0)
            if queued.execute_after is not None:
                delay = max(timedelta(0), queued.execute_after - now)
            queue.push(TaskParcel(task=queued, meta=meta), delay=min(delay, queue.max_delay))
            promoted.append(queued)
            logger.info("promoted %s %s: due", spec.task_type, queued.uuid)
        cursor = page.cursor
        if cursor is None:
            break
    return promoted
