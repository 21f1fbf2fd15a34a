"""``with_execute_lifecycle``: claim a delivered task, run it once, record the outcome."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import cattrs

from ..clock import Clock, system_clock
from ..conditions import (
    AllOf,
    AnyOf,
    AttemptedBefore,
    AttemptsBelow,
    AttemptsEqual,
    Condition,
    DueBy,
    status_in,
)
from ..contracts import MutexLock, TaskDao, TaskQueue, Transition
from ..definition import TaskSpec, task_spec
from ..errors import (
    ConditionFailedError,
    MutexHeldError,
    RequeueDepthExceededError,
    RetryLaterError,
    TaskNotFoundError,
)
from ..parcel import ParcelMeta, RawParcel, TaskParcel, structure_parcel
from ..serialization import default_converter
from ..task import AsyncTask, AsyncTaskStatus
from .results import ExecuteOutcome, ExecuteResult, describe_error
from .retry import RetryPolicy

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")

logger = logging.getLogger("simple_async_tasks.execute")

S = AsyncTaskStatus
_ONE_SECOND = timedelta(seconds=1)


class TaskExecutor(Generic[T, R]):
    """Runs delivered parcels of one task class through the execute lifecycle.

    Built by ``with_execute_lifecycle``; call it with a ``TaskParcel`` or a
    bare task. Safe to call from many threads and processes at once: every
    state change is a conditional write, so a task runs once per claim and a
    claim is won by one caller only.
    """

    def __init__(
        self,
        logic: Callable[[T], R],
        *,
        spec: TaskSpec[T],
        dao: TaskDao[T],
        queue: TaskQueue[T],
        attempt_timeout: timedelta,
        retry: RetryPolicy,
        clock: Clock,
        converter: cattrs.Converter,
        max_requeue_depth: int,
        mutex_retry_delay: timedelta,
        rand: Callable[[], float],
    ) -> None:
        if attempt_timeout <= timedelta(0):
            raise ValueError(f"attempt_timeout must be positive, got {attempt_timeout}")
        if max_requeue_depth < 0:
            raise ValueError(f"max_requeue_depth must be >= 0, got {max_requeue_depth}")
        self.logic = logic
        self.spec = spec
        self.dao = dao
        self.queue = queue
        self.attempt_timeout = attempt_timeout
        self.retry = retry
        self.clock = clock
        self.converter = converter
        self.max_requeue_depth = max_requeue_depth
        self.mutex_retry_delay = mutex_retry_delay
        self.rand = rand
        below_limit = AttemptsBelow(retry.max_attempts)
        self._claim_parts = (
            status_in(S.QUEUED, S.SCHEDULED) | (status_in(S.FAILED) & below_limit),
            status_in(S.ATTEMPTED),
            below_limit,
        )

    @property
    def task_class(self) -> type[T]:
        return self.spec.cls

    @property
    def task_type(self) -> str:
        return self.spec.task_type

    def __call__(
        self, item: TaskParcel[T] | T, *, leave_failures_on_queue: bool = False
    ) -> ExecuteResult[T, R]:
        """Run one delivery of a parcel (or a bare task) through the lifecycle.

        With ``leave_failures_on_queue``, a failed attempt that has attempts
        left is recorded (FAILED, ``execute_after`` = now + backoff) but not
        pushed again: the caller reports the delivery as failed and the queue
        redelivers the same message (the Lambda handler does this, so failures
        show in the batch response and the queue's redrive policy applies).

        Raises:
            TaskNotFoundError: no record is stored for the task (a permanent error).
            RequeueDepthExceededError: the parcel was put back too often.
            Exception: the logic's own error, re-raised after its last allowed attempt.
        """
        parcel = item if isinstance(item, TaskParcel) else self._bare(item)
        key = self.spec.unique_key(parcel.task, self.converter)
        now = self.clock.now()
        lock = self._lock_for(parcel.task, now)
        try:
            task = self.dao.transition(
                key,
                Transition(status=S.ATTEMPTED, add_attempt=True, attempted_at=now),
                condition=self._claimable(now),
                acquire=lock,
            )
        except ConditionFailedError as lost:
            current: T | None = lost.current
            return self._not_claimed(parcel, key, current, now)
        except MutexHeldError as held:
            stored = self.dao.get(key) or parcel.task
            delay = min(max(held.expires_in, _ONE_SECOND), self.mutex_retry_delay)
            return self._requeue(parcel, stored, delay, reason="mutex held")
        return self._run(parcel, key, task, lock, push_retry=not leave_failures_on_queue)

    def execute_raw(
        self, raw: RawParcel, *, leave_failures_on_queue: bool = False
    ) -> ExecuteResult[T, R]:
        """Build the typed parcel from parsed JSON and run it (used by routers)."""
        parcel = structure_parcel(raw, self.spec.cls, self.converter)
        return self(parcel, leave_failures_on_queue=leave_failures_on_queue)

    def execute_many_raw(
        self,
        raws: Sequence[RawParcel],
        *,
        leave_failures_on_queue: bool = False,
        max_workers: int = 1,
        may_start: Callable[[], bool] = lambda: True,
    ) -> list[ExecuteResult[T, R] | Exception]:
        """Run a batch of parsed parcels: one read, one claim, each finished alone.

        See ``lifecycle.batch.execute_many``; a parcel whose task data is
        invalid gets its ``ParcelDecodeError`` as its result.
        """
        from .batch import execute_many

        results: list[ExecuteResult[T, R] | Exception | None] = []
        parcels: list[TaskParcel[T]] = []
        slots: list[int] = []
        for raw in raws:
            try:
                parcels.append(structure_parcel(raw, self.spec.cls, self.converter))
            except Exception as error:
                results.append(error)
            else:
                slots.append(len(results))
                results.append(None)
        ran = execute_many(
            self,
            parcels,
            leave_failures_on_queue=leave_failures_on_queue,
            max_workers=max_workers,
            may_start=may_start,
        )
        for slot, outcome in zip(slots, ran, strict=False):
            results[slot] = outcome
        return [r if r is not None else RuntimeError("not run") for r in results]

    # -- claim -------------------------------------------------------------

    def _bare(self, task: T) -> TaskParcel[T]:
        return TaskParcel(task=task, meta=ParcelMeta.for_queue(self.queue, self.spec.task_type))

    def _lock_for(self, task: T, now: datetime) -> MutexLock | None:
        mutex_key = self.spec.mutex_key(task, self.converter)
        if mutex_key is None:
            return None
        return MutexLock(
            key=mutex_key, owner=task.uuid, acquired_at=now, expires_at=now + self.attempt_timeout
        )

    def _claimable(self, now: datetime) -> Condition:
        runnable, attempted, below_limit = self._claim_parts
        stale = AllOf((attempted, AttemptedBefore(now - self.attempt_timeout), below_limit))
        return AnyOf((AllOf((runnable, DueBy(now))), stale))

    def _not_claimed(
        self, parcel: TaskParcel[T], key: str, current: T | None, now: datetime
    ) -> ExecuteResult[T, R]:
        if current is None:
            raise TaskNotFoundError(self.spec.task_type, key)
        status = current.status
        if status in (S.FULFILLED, S.CANCELED, S.HALTED):
            return self._skip(current, f"already {status.value}")
        if status is S.SCHEDULED:
            return self._skip(current, "scheduled for later; the scheduler enqueues it when due")
        if status is S.FAILED and current.attempts >= self.retry.max_attempts:
            return self._skip(current, "failed after its last allowed attempt")
        if status is S.ATTEMPTED and current.attempted_at is not None:
            stale_at = current.attempted_at + self.attempt_timeout
            if stale_at <= now and current.attempts >= self.retry.max_attempts:
                return self._time_out(key, current, now)
            return self._requeue(parcel, current, stale_at - now, reason="attempt in progress")
        if current.execute_after is not None and current.execute_after > now:
            return self._requeue(parcel, current, current.execute_after - now, reason="not due")
        return self._requeue(parcel, current, _ONE_SECOND, reason="claim raced")

    def _skip(self, task: T, reason: str) -> ExecuteResult[T, R]:
        logger.info("skipped %s %s: %s", self.spec.task_type, task.uuid, reason)
        return ExecuteResult(task=task, outcome=ExecuteOutcome.SKIPPED)

    def _time_out(self, key: str, current: T, now: datetime) -> ExecuteResult[T, R]:
        error = (
            f"AttemptTimedOut: attempt {current.attempts} did not finish within "
            f"{self.attempt_timeout} (the executor crashed or ran out of time)"
        )
        try:
            failed = self.dao.transition(
                key,
                Transition(status=S.FAILED, last_error=error, execute_after=None, final=True),
                condition=status_in(S.ATTEMPTED) & AttemptsEqual(current.attempts),
            )
        except ConditionFailedError as lost:
            failed = lost.current or current
        logger.warning("%s %s failed: last attempt timed out", self.spec.task_type, current.uuid)
        return ExecuteResult(task=failed, outcome=ExecuteOutcome.FAILED)

    def _requeue(
        self, parcel: TaskParcel[T], task: T, delay: timedelta, *, reason: str
    ) -> ExecuteResult[T, R]:
        depth = parcel.meta.requeue_depth + 1
        if depth > self.max_requeue_depth:
            raise RequeueDepthExceededError(
                self.spec.task_type,
                self.spec.unique_key(task, self.converter),
                depth - 1,
                self.max_requeue_depth,
            )
        delay = self._push_later(TaskParcel(task=task, meta=parcel.meta.requeued()), delay)
        logger.info(
            "retry later %s %s in %.0fs (%s, requeue depth %d)",
            self.spec.task_type,
            task.uuid,
            delay.total_seconds(),
            reason,
            depth,
        )
        return ExecuteResult(task=task, outcome=ExecuteOutcome.RETRY_LATER, retry_in=delay)

    # -- run and record ----------------------------------------------------

    def _run(
        self, parcel: TaskParcel[T], key: str, task: T, lock: MutexLock | None, *, push_retry: bool
    ) -> ExecuteResult[T, R]:
        try:
            result = self.logic(task)
        except RetryLaterError as later:
            return self._logic_retry_later(parcel, key, task, lock, later)
        except Exception as error:
            return self._logic_failed(parcel, key, task, lock, error, push_retry=push_retry)
        final, _ = self._finish(key, task, Transition(status=S.FULFILLED, final=True), lock)
        logger.info(
            "executed %s %s (attempt %d), now %s",
            self.spec.task_type,
            task.uuid,
            task.attempts,
            final.status.value,
        )
        return ExecuteResult(task=final, outcome=ExecuteOutcome.EXECUTED, result=result)

    def _finish(
        self, key: str, task: T, change: Transition, lock: MutexLock | None
    ) -> tuple[T, bool]:
        """Record the end of our attempt, unless the logic set a status itself.

        Returns the stored task and whether our write was applied.
        """
        try:
            stored = self.dao.transition(
                key,
                change,
                condition=status_in(S.ATTEMPTED) & AttemptsEqual(task.attempts),
                release=lock,
            )
        except ConditionFailedError as lost:
            if lock is not None:
                self.dao.release_mutex(lock)
            current: T | None = lost.current
            return (current if current is not None else task), False
        return stored, True

    def _logic_retry_later(
        self,
        parcel: TaskParcel[T],
        key: str,
        task: T,
        lock: MutexLock | None,
        later: RetryLaterError,
    ) -> ExecuteResult[T, R]:
        delay = later.delay
        if parcel.meta.requeue_depth + 1 > self.max_requeue_depth:
            exceeded = RequeueDepthExceededError(
                self.spec.task_type, key, parcel.meta.requeue_depth, self.max_requeue_depth
            )
            change = Transition(status=S.FAILED, last_error=describe_error(exceeded), final=True)
            self._finish(key, task, change, lock)
            raise exceeded from later
        due = self.clock.now() + delay
        stored, ours = self._finish(
            key, task, Transition(status=S.QUEUED, execute_after=due), lock
        )
        if not ours:
            return ExecuteResult(task=stored, outcome=ExecuteOutcome.EXECUTED)
        return self._requeue(parcel, stored, delay, reason=later.reason or "asked by the logic")

    def _logic_failed(
        self,
        parcel: TaskParcel[T],
        key: str,
        task: T,
        lock: MutexLock | None,
        error: Exception,
        *,
        push_retry: bool,
    ) -> ExecuteResult[T, R]:
        text = describe_error(error)
        if task.attempts >= self.retry.max_attempts:
            change = Transition(status=S.FAILED, last_error=text, execute_after=None, final=True)
            self._finish(key, task, change, lock)
            logger.error(
                "%s %s failed for good after %d attempts (%s)",
                self.spec.task_type,
                task.uuid,
                task.attempts,
                type(error).__name__,
            )
            raise error
        delay = self.retry.delay_for(task.attempts, self.rand)
        due = self.clock.now() + delay
        change = Transition(status=S.FAILED, last_error=text, execute_after=due)
        stored, ours = self._finish(key, task, change, lock)
        logger.warning(
            "%s %s attempt %d failed (%s); retry in %.0fs",
            self.spec.task_type,
            task.uuid,
            task.attempts,
            type(error).__name__,
            delay.total_seconds(),
        )
        if not ours or not push_retry:
            return ExecuteResult(task=stored, outcome=ExecuteOutcome.FAILED)
        delay = self._push_later(TaskParcel(task=stored, meta=parcel.meta), delay)
        return ExecuteResult(task=stored, outcome=ExecuteOutcome.FAILED, retry_in=delay)

    def _push_later(self, parcel: TaskParcel[T], delay: timedelta) -> timedelta:
        """Push ``parcel`` again after ``delay`` (capped at the queue's longest delay).

        A queue that cannot delay messages (SQS FIFO) gets nothing: pushing at
        once would spin. The delivery raises instead, so the message stays on
        the queue and comes back after its visibility timeout, in order.
        """
        delay = max(delay, timedelta(0))
        if delay > timedelta(0) and self.queue.max_delay <= timedelta(0):
            raise RetryLaterError(
                f"{self.spec.task_type} {parcel.task.uuid} must wait {delay}, and "
                f"{self.queue.queue_url} cannot delay messages; leaving the message for "
                "redelivery after its visibility timeout",
                delay=delay,
            )
        delay = min(delay, self.queue.max_delay)
        self.queue.push(parcel, delay=delay)
        return delay


def with_execute_lifecycle(
    logic: Callable[[T], R],
    *,
    dao: TaskDao[T],
    queue: TaskQueue[T],
    attempt_timeout: timedelta = timedelta(minutes=15),
    retry: RetryPolicy | None = None,
    clock: Clock = system_clock,
    converter: cattrs.Converter = default_converter,
    max_requeue_depth: int = 100,
    mutex_retry_delay: timedelta = timedelta(seconds=10),
    rand: Callable[[], float] = random.random,
) -> TaskExecutor[T, R]:
    """Wrap business ``logic`` into an executor of delivered parcels.

    Per delivery: claim the task with one conditional write (QUEUED, due
    FAILED or SCHEDULED, or ATTEMPTED longer ago than ``attempt_timeout`` ->
    ATTEMPTED, attempts + 1, taking the mutex lock in the same write); if the
    claim is lost, decide from the record the conflict carries: skip finished,
    canceled or halted tasks, retry later the ones running elsewhere, not yet
    due or blocked by a mutex. Run ``logic`` on the claimed task and record
    FULFILLED, or FAILED with the error and a backoff retry, or QUEUED again
    for ``RetryLaterError``. A status the logic set itself stands.

    Raises:
        TaskDefinitionError: at wrap time, if the DAO's task class is invalid.
    """
    return TaskExecutor(
        logic,
        spec=task_spec(dao.task_class),
        dao=dao,
        queue=queue,
        attempt_timeout=attempt_timeout,
        retry=retry or RetryPolicy(),
        clock=clock,
        converter=converter,
        max_requeue_depth=max_requeue_depth,
        mutex_retry_delay=mutex_retry_delay,
        rand=rand,
    )
