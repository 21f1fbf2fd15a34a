"""``with_execute_lifecycle``: claim a delivered task, run it once, record the outcome.

``TaskExecutor`` does the I/O of three named steps, each fenced by the attempt's
lease: ``claim`` (one conditional write, or the decision a lost claim carries),
``run`` (the logic, its lease renewed by the heartbeat) and ``record`` (the
outcome's transition). The decisions themselves live in ``decisions``; a batch
of deliveries is ``execute_many`` (``lifecycle.batch``) over the same steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import attrs
import cattrs

from ..clock import Clock, system_clock
from ..conditions import Condition, VersionEquals, status_in
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
from . import decisions as decide
from .calling import call_logic, refuse_async
from .decisions import Attempt
from .hooks import NO_HOOKS, ClaimEvent, FinishEvent, Hooks, RetryEvent, SkipEvent, TaskHooks
from .lease import KeepAlive, Lease, enter, heartbeats, leave
from .options import ExecuteOptions, OnFailure
from .results import ExecuteOutcome, ExecuteResult, describe_error, encode_result
from .retry import RetryPolicy, random_fraction

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")

logger = logging.getLogger("simple_async_tasks.execute")

S = AsyncTaskStatus


class TaskExecutor(Generic[T, R]):
    """Runs delivered parcels of one task class through the execute lifecycle.

    Built by ``with_execute_lifecycle``; call it with a ``TaskParcel`` or a
    bare task. Safe to call from many threads and processes at once: every
    state change is a conditional write, so a task runs once per claim, a
    claim is won by one caller only, and a claim's later writes are fenced by
    its lease.
    """

    def __init__(
        self,
        logic: Callable[[T], R],
        *,
        spec: TaskSpec[T],
        dao: TaskDao[T],
        queue: TaskQueue[T],
        options: ExecuteOptions,
        clock: Clock,
        converter: cattrs.Converter,
        rand: Callable[[], float],
        hooks: Hooks = NO_HOOKS,
    ) -> None:
        refuse_async(logic, spec.task_type)
        self.hooks = hooks
        self.logic = logic
        self.spec = spec
        self.dao = dao
        self.queue = queue
        self.options = options
        self.clock = clock
        self.converter = converter
        self.rand = rand
        self._runnable = decide.runnable(options)

    @property
    def task_class(self) -> type[T]:
        return self.spec.cls

    @property
    def task_type(self) -> str:
        return self.spec.task_type

    @property
    def retry(self) -> RetryPolicy:
        return self.options.retry

    def __call__(
        self,
        item: TaskParcel[T] | T,
        *,
        on_failure: OnFailure = OnFailure.PUSH_RETRY,
        keep_alive: KeepAlive | None = None,
    ) -> ExecuteResult[T, R]:
        """Run one delivery of a parcel (or a bare task) through the lifecycle.

        ``on_failure`` says who brings a failed attempt back (see ``OnFailure``);
        ``keep_alive`` is called at each lease renewal to extend the message's
        visibility.

        Raises:
            TaskNotFoundError: no record is stored for the task (a permanent error).
            RequeueDepthExceededError: the parcel was put back too often.
            Exception: the logic's own error, re-raised after its last allowed attempt.
        """
        parcel = item if isinstance(item, TaskParcel) else self._bare(item)
        claimed = self.claim(parcel)
        if isinstance(claimed, ExecuteResult):
            return claimed
        return self.run(claimed, on_failure=on_failure, keep_alive=keep_alive)

    def execute_raw(
        self,
        raw: RawParcel,
        *,
        on_failure: OnFailure = OnFailure.PUSH_RETRY,
        keep_alive: KeepAlive | None = None,
    ) -> ExecuteResult[T, R]:
        """Build the typed parcel from parsed JSON and run it (used by routers)."""
        parcel = structure_parcel(raw, self.spec.cls, self.converter)
        return self(parcel, on_failure=on_failure, keep_alive=keep_alive)

    def execute_many_raw(
        self,
        raws: Sequence[RawParcel],
        *,
        on_failure: OnFailure = OnFailure.PUSH_RETRY,
        keep_alive: Sequence[KeepAlive | None] | None = None,
        max_workers: int = 1,
        may_start: Callable[[], bool] = lambda: True,
    ) -> list[ExecuteResult[T, R] | Exception]:
        """Run a batch of parsed parcels: one read, one claim, each finished alone.

        See ``lifecycle.batch.execute_many``; a parcel whose task data is
        invalid gets its ``ParcelDecodeError`` as its result.
        """
        alive = list(keep_alive) if keep_alive is not None else [None] * len(raws)
        results: list[ExecuteResult[T, R] | Exception | None] = []
        parcels: list[TaskParcel[T]] = []
        extends: list[KeepAlive | None] = []
        slots: list[int] = []
        for raw, extend in zip(raws, alive, strict=True):
            try:
                parcels.append(structure_parcel(raw, self.spec.cls, self.converter))
            except Exception as error:
                results.append(error)
            else:
                extends.append(extend)
                slots.append(len(results))
                results.append(None)
        from .batch import execute_many  # threads: only for those who run batches

        ran = execute_many(
            self,
            parcels,
            on_failure=on_failure,
            keep_alive=extends,
            max_workers=max_workers,
            may_start=may_start,
        )
        for slot, outcome in zip(slots, ran, strict=True):
            results[slot] = outcome
        return [r if r is not None else RuntimeError("not run") for r in results]

    # -- claim -------------------------------------------------------------

    def _bare(self, task: T) -> TaskParcel[T]:
        return TaskParcel(task=task, meta=ParcelMeta.for_queue(self.queue, self.spec.task_type))

    def key_of(self, parcel: TaskParcel[T]) -> str:
        return self.spec.unique_key(parcel.task, self.converter)

    def lock_for(self, task: T, lease_id: str, now: datetime) -> MutexLock | None:
        """The mutex lock an attempt holds, fenced by its lease id, or None."""
        mutex_key = self.spec.mutex_key(task, self.converter)
        if mutex_key is None:
            return None
        return MutexLock(
            key=mutex_key,
            owner=lease_id,
            acquired_at=now,
            expires_at=now + self.options.lease + self.options.clock_skew,
        )

    def claimable(self, now: datetime) -> Condition:
        return decide.claim_condition(self._runnable, now)

    def claim(self, parcel: TaskParcel[T]) -> Attempt[T] | ExecuteResult[T, R]:
        """Claim the task with one conditional write; a lost claim's decision otherwise."""
        key = self.key_of(parcel)
        now = self.clock.now()
        lease_id = decide.new_lease_id()
        lock = self.lock_for(parcel.task, lease_id, now)
        try:
            task = self.dao.transition(
                key,
                decide.claim(now, lease_id, self.options),
                condition=self.claimable(now),
                acquire=lock,
            )
        except ConditionFailedError as lost:
            current: T | None = lost.current
            return self.not_claimed(parcel, key, current, now)
        except MutexHeldError as held:
            return self._mutex_held(parcel, key, held)
        return Attempt(parcel, key, task, lock)

    def _mutex_held(
        self, parcel: TaskParcel[T], key: str, held: MutexHeldError
    ) -> ExecuteResult[T, R]:
        stored = self.dao.get(key) or parcel.task
        delay = min(max(held.expires_in, decide.ONE_SECOND), self.options.mutex_retry_delay)
        return self._requeue(parcel, stored, delay, reason="mutex held")

    def not_claimed(
        self,
        parcel: TaskParcel[T],
        key: str,
        current: T | None,
        now: datetime,
        *,
        may_take_over: bool = True,
    ) -> Attempt[T] | ExecuteResult[T, R]:
        """Act on what a lost claim means (``decisions.lost_claim``)."""
        decision = decide.lost_claim(current, now, self.options)
        if isinstance(decision, decide.NotFound) or current is None:
            raise TaskNotFoundError(self.spec.task_type, key, uuid=parcel.task.uuid)
        if isinstance(decision, decide.Skip):
            return self._skip(current, decision.reason)
        if isinstance(decision, decide.RetryIn):
            return self._requeue(parcel, current, decision.delay, reason=decision.reason)
        if isinstance(decision, decide.GiveUp):
            return self._give_up(key, current)
        if not may_take_over:
            return self._requeue(parcel, current, decide.ONE_SECOND, reason="claim raced")
        return self._take_over(parcel, key, current, now)

    def _take_over(
        self, parcel: TaskParcel[T], key: str, current: T, now: datetime
    ) -> Attempt[T] | ExecuteResult[T, R]:
        lease_id = decide.new_lease_id()
        lock = self.lock_for(current, lease_id, now)
        try:
            task = self.dao.transition(
                key,
                decide.take_over(now, lease_id, current, self.options),
                condition=status_in(S.ATTEMPTED) & VersionEquals(current.version),
                acquire=lock,
            )
        except ConditionFailedError as lost:
            again: T | None = lost.current
            return self.not_claimed(parcel, key, again, now, may_take_over=False)
        except MutexHeldError as held:
            return self._mutex_held(parcel, key, held)
        logger.warning(
            "%s %s: attempt %d stopped renewing its lease; taken over by attempt %d",
            self.spec.task_type,
            current.uuid,
            current.attempts,
            task.attempts,
        )
        return Attempt(parcel, key, task, lock)

    def _skip(self, task: T, reason: str) -> ExecuteResult[T, R]:
        logger.info("skipped %s %s: %s", self.spec.task_type, task.uuid, reason)
        if self.hooks:
            self.hooks.skipped(SkipEvent(task_type=self.spec.task_type, task=task, reason=reason))
        return ExecuteResult(task=task, outcome=ExecuteOutcome.SKIPPED)

    def _give_up(self, key: str, current: T) -> ExecuteResult[T, R]:
        release = None
        if current.lease_id is not None and current.attempted_at is not None:
            release = self.lock_for(current, current.lease_id, current.attempted_at)
        try:
            failed = self.dao.transition(
                key,
                decide.give_up(current),
                condition=status_in(S.ATTEMPTED) & VersionEquals(current.version),
                release=release,
            )
        except ConditionFailedError as lost:
            failed = lost.current or current
        logger.warning(
            "%s %s failed for good: its last allowed attempt stopped renewing its lease",
            self.spec.task_type,
            current.uuid,
        )
        return ExecuteResult(task=failed, outcome=ExecuteOutcome.FAILED)

    def _requeue(
        self, parcel: TaskParcel[T], task: T, delay: timedelta, *, reason: str
    ) -> ExecuteResult[T, R]:
        depth = parcel.meta.requeue_depth + 1
        if depth > self.options.max_requeue_depth:
            raise RequeueDepthExceededError(
                self.spec.task_type, task.uuid, depth - 1, self.options.max_requeue_depth
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
        if self.hooks:
            self.hooks.retrying(
                RetryEvent(task_type=self.spec.task_type, task=task, delay=delay, reason=reason)
            )
        return ExecuteResult(task=task, outcome=ExecuteOutcome.RETRY_LATER, retry_in=delay)

    # -- run -----------------------------------------------------------------

    def renew(self, attempt: Attempt[T]) -> datetime:
        """Extend ``attempt``'s lease (and its mutex lock) with a fenced write.

        Raises:
            ConditionFailedError: the attempt no longer holds the task.
        """
        now = self.clock.now()
        until = now + self.options.lease
        lock = None
        if attempt.lock is not None:
            lock = self.lock_for(attempt.task, attempt.lease_id, now)
        try:
            self.dao.transition(
                attempt.key,
                Transition(status=S.ATTEMPTED, lease_until=until),
                condition=decide.held_by(attempt.lease_id),
                acquire=lock,
            )
        except MutexHeldError as held:  # our lock lapsed and another task took it
            raise ConditionFailedError(None, str(held)) from held
        return until

    def lease_of(self, attempt: Attempt[T], keep_alive: KeepAlive | None) -> Lease:
        assert attempt.task.lease_until is not None  # set by every claim
        return Lease(
            task_type=self.spec.task_type,
            task_uuid=attempt.task.uuid,
            lease_id=attempt.lease_id,
            until=attempt.task.lease_until,
            length=self.options.lease,
            renew=lambda: self.renew(attempt),
            keep_alive=keep_alive,
        )

    def run(
        self,
        attempt: Attempt[T],
        *,
        on_failure: OnFailure = OnFailure.PUSH_RETRY,
        keep_alive: KeepAlive | None = None,
    ) -> ExecuteResult[T, R]:
        """Run the logic of a claimed attempt, its lease renewed meanwhile; record the outcome."""
        logger.info(
            "running %s %s (attempt %d)",
            self.spec.task_type,
            attempt.task.uuid,
            attempt.task.attempts,
        )
        lease = self.lease_of(attempt, keep_alive)
        heartbeats.watch(lease)
        token = enter(lease)
        started = time.monotonic()
        try:
            if self.hooks:
                result = self._call_hooked(attempt, lease)
            else:
                result = call_logic(self.logic, attempt.task, lease, self.options.time_limit)
        except RetryLaterError as later:
            return self._logic_retry_later(attempt, later)
        except Exception as error:
            return self._logic_failed(attempt, error, on_failure, time.monotonic() - started)
        finally:
            lease.close()
            heartbeats.forget(lease)
            leave(token)
        ran = time.monotonic() - started
        final, _ = self.record(attempt, self._fulfilled(attempt, result))
        if self.hooks:
            self._finished(final, ExecuteOutcome.EXECUTED, ran)
        logger.info(
            "executed %s %s (attempt %d), now %s",
            self.spec.task_type,
            attempt.task.uuid,
            attempt.task.attempts,
            final.status.value,
        )
        return ExecuteResult(task=final, outcome=ExecuteOutcome.EXECUTED, result=result)

    def _finished(
        self,
        task: T,
        outcome: ExecuteOutcome,
        ran: float,
        error: BaseException | None = None,
        *,
        final: bool = False,
    ) -> None:
        self.hooks.finished(
            FinishEvent(
                task_type=self.spec.task_type,
                task=task,
                outcome=outcome,
                duration=timedelta(seconds=ran),
                error=error,
                final=final,
            )
        )

    def _call_hooked(self, attempt: Attempt[T], lease: Lease) -> R:
        """The logic inside the hooks' attempt spans, after the claim event."""
        task = attempt.task
        self.hooks.claimed(
            ClaimEvent(
                task_type=self.spec.task_type,
                task=task,
                requeue_depth=attempt.parcel.meta.requeue_depth,
            )
        )
        with self.hooks.attempt_span(self.spec.task_type, task, attempt.parcel.meta.carried):
            return call_logic(self.logic, task, lease, self.options.time_limit)

    # -- record --------------------------------------------------------------

    def _fulfilled(self, attempt: Attempt[T], result: object) -> Transition:
        if result is None or not self.options.keep_result:
            return decide.FULFILLED
        where = f"{self.spec.task_type} {attempt.task.uuid}"
        text = encode_result(result, self.converter, self.options.max_result_bytes, where)
        return decide.FULFILLED if text is None else decide.fulfilled_with(text)

    def record(self, attempt: Attempt[T], change: Transition) -> tuple[T, bool]:
        """Write the end of ``attempt`` if it still holds the task; release its lock.

        A status the logic set itself stands. Returns the stored task and whether
        our write was applied.
        """
        try:
            stored = self.dao.transition(
                attempt.key,
                change,
                condition=decide.held_by(attempt.lease_id),
                release=attempt.lock,
            )
        except ConditionFailedError as lost:
            if attempt.lock is not None:  # fenced: a no-op unless this attempt still holds it
                self.dao.release_mutex(attempt.lock)
            current: T | None = lost.current
            if current is not None and current.lease_id != attempt.lease_id:
                logger.warning(
                    "%s %s: attempt %d ended after its lease was taken over; its outcome "
                    "is not recorded",
                    self.spec.task_type,
                    attempt.task.uuid,
                    attempt.task.attempts,
                )
            return (current if current is not None else attempt.task), False
        return stored, True

    def _logic_retry_later(
        self, attempt: Attempt[T], later: RetryLaterError
    ) -> ExecuteResult[T, R]:
        parcel = attempt.parcel
        if parcel.meta.requeue_depth + 1 > self.options.max_requeue_depth:
            exceeded = RequeueDepthExceededError(
                self.spec.task_type,
                attempt.task.uuid,
                parcel.meta.requeue_depth,
                self.options.max_requeue_depth,
            )
            self.record(attempt, decide.given_up(attempt.task, exceeded, self.options))
            raise exceeded from later
        stored, ours = self.record(attempt, decide.retry_later(self.clock.now() + later.delay))
        if not ours:
            return ExecuteResult(task=stored, outcome=ExecuteOutcome.EXECUTED)
        return self._requeue(parcel, stored, later.delay, reason=later.reason or "asked by logic")

    def _logic_failed(
        self, attempt: Attempt[T], error: Exception, on_failure: OnFailure, ran: float
    ) -> ExecuteResult[T, R]:
        task = attempt.task
        failed = decide.failure(
            task, describe_error(error), self.clock.now(), self.options, self.rand
        )
        stored, ours = self.record(attempt, failed.change)
        if self.hooks:
            self._finished(stored, ExecuteOutcome.FAILED, ran, error, final=failed.final)
            if not failed.final and failed.delay is not None:
                self.hooks.retrying(
                    RetryEvent(
                        task_type=self.spec.task_type,
                        task=stored,
                        delay=failed.delay,
                        reason=f"attempt failed ({type(error).__name__})",
                    )
                )
        if failed.final:
            logger.error(
                "%s %s failed for good after %d failed attempts (%s)",
                self.spec.task_type,
                task.uuid,
                task.failures + 1,
                type(error).__name__,
            )
            raise error
        assert failed.delay is not None
        logger.warning(
            "%s %s attempt %d failed (%s); retry in %.0fs",
            self.spec.task_type,
            task.uuid,
            task.attempts,
            type(error).__name__,
            failed.delay.total_seconds(),
        )
        if not ours or on_failure is OnFailure.LEAVE_MESSAGE:
            return ExecuteResult(task=stored, outcome=ExecuteOutcome.FAILED)
        delay = self._push_later(TaskParcel(task=stored, meta=attempt.parcel.meta), failed.delay)
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
    options: ExecuteOptions | None = None,
    retry: RetryPolicy | None = None,
    lease: timedelta | None = None,
    clock: Clock = system_clock,
    converter: cattrs.Converter = default_converter,
    rand: Callable[[], float] = random_fraction,
    hooks: Sequence[TaskHooks] = (),
) -> TaskExecutor[T, R]:
    """Wrap business ``logic`` into an executor of delivered parcels.

    Per delivery: claim the task with one conditional write (QUEUED, due
    FAILED or SCHEDULED -> ATTEMPTED with a new lease, taking the mutex lock in
    the same write); if the claim is lost, decide from the record the conflict
    carries: skip finished, canceled or halted tasks, retry later the ones
    running elsewhere under a live lease, not yet due or blocked by a mutex,
    take over an attempt whose lease lapsed. Run ``logic`` while a heartbeat
    renews the lease, and record FULFILLED, or FAILED with the error and a
    backoff retry, or QUEUED again for ``RetryLaterError``, each write fenced by
    the attempt's lease. A status the logic set itself stands.

    ``options`` holds the settings (``ExecuteOptions``); ``retry`` and ``lease``
    are shortcuts that replace the ones in ``options``. ``hooks`` are called at claim,
    finish, retry and skip, and around each run of the logic (``TaskHooks``).

    Raises:
        TaskDefinitionError: at wrap time, if the DAO's task class is invalid or
            ``logic`` is an async function.
    """
    chosen = options or ExecuteOptions()
    if retry is not None:
        chosen = attrs.evolve(chosen, retry=retry)
    if lease is not None:
        chosen = attrs.evolve(chosen, lease=lease)
    return TaskExecutor(
        logic,
        spec=task_spec(dao.task_class),
        dao=dao,
        queue=queue,
        options=chosen,
        clock=clock,
        converter=converter,
        rand=rand,
        hooks=Hooks(hooks),
    )
