"""``with_execute_lifecycle``: claim a delivered task, run it once, record the outcome.

``TaskExecutor`` does the I/O of three named steps, each fenced by the attempt's
lease: ``claim`` (one conditional write, or the decision a lost claim carries),
``run`` (the logic, its lease renewed by the heartbeat) and ``record`` (the
outcome's transition). The decisions themselves live in ``decisions``; what a lost
or waiting claim does is in ``lost_claims``, how an attempt's end is written in
``outcomes`` (the two base classes of ``TaskExecutor``); a batch of deliveries is
``execute_many`` (``lifecycle.batch``) over the same steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeGuard, TypeVar, overload

import attrs
import cattrs

from ..clock import Clock, system_clock
from ..conditions import Condition
from ..contracts import TaskDao, TaskQueue, Transition
from ..definition import TaskSpec, task_spec
from ..errors import (
    ConditionFailedError,
    MutexHeldError,
    RetryLaterError,
)
from ..parcel import ParcelMeta, RawParcel, TaskParcel, structure_parcel
from ..serialization import default_converter
from ..task import AsyncTask, AsyncTaskStatus
from . import decisions as decide
from .calling import call_logic, is_async
from .decisions import Attempt
from .effects import Call, Steps
from .effects import run as drive
from .hooks import NO_HOOKS, ClaimEvent, Hooks, TaskHooks
from .lease import KeepAlive, Lease, enter, heartbeats, leave
from .options import ExecuteOptions, OnFailure
from .outcomes import Outcomes
from .results import ExecuteOutcome, ExecuteResult
from .retry import RetryPolicy, random_fraction

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")

logger = logging.getLogger("simple_async_tasks.execute")

S = AsyncTaskStatus


class TaskExecutor(Outcomes[T, R]):
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
        self._async = is_async(logic)
        """Whether the logic is a coroutine function (worked out once, not per attempt)."""
        self._io = {"dao": dao, "queue": queue}
        """What the sync shell drives the claim and the outcome writes on."""
        self._targets = {"logic": self, **self._io}
        """What the sync shell drives ``_run_steps`` on: ``call`` and the writes."""

    @property
    def task_class(self) -> type[T]:
        return self.spec.cls

    @property
    def task_type(self) -> str:
        return self.spec.task_type

    @property
    def is_async(self) -> bool:
        """Whether the logic is ``async def`` (run it on an event loop: ``async_execute``)."""
        return self._async

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
        from .batch import Decoded, execute_many  # threads: only for those who run batches

        batch: Decoded[T, R] = Decoded(self, raws, keep_alive)
        ran = execute_many(
            self,
            batch.parcels,
            on_failure=on_failure,
            keep_alive=batch.extends,
            max_workers=max_workers,
            may_start=may_start,
        )
        return batch.place(ran)

    # -- claim -------------------------------------------------------------

    def _bare(self, task: T) -> TaskParcel[T]:
        return TaskParcel(task=task, meta=ParcelMeta.for_queue(self.queue, self.spec.task_type))

    def key_of(self, parcel: TaskParcel[T]) -> str:
        return self.spec.unique_key(parcel.task, self.converter)

    def claimable(self, now: datetime) -> Condition:
        return decide.claim_condition(self._runnable, now)

    def claim(self, parcel: TaskParcel[T]) -> Attempt[T] | ExecuteResult[T, R]:
        """Claim the task with one conditional write; a lost claim's decision otherwise."""
        return drive(self._claim_steps(parcel), self._io)

    def _claim_steps(self, parcel: TaskParcel[T]) -> Steps[Attempt[T] | ExecuteResult[T, R]]:
        """``claim`` as steps (``effects``)."""
        key = self.key_of(parcel)
        now = self.clock.now()
        lease_id = decide.new_lease_id()
        lock = self.lock_for(parcel.task, lease_id, now)
        try:
            task: T = yield Call(
                "dao",
                "transition",
                (key, decide.claim(now, lease_id, self.options)),
                {"condition": self.claimable(now), "acquire": lock},
            )
        except ConditionFailedError as lost:
            current: T | None = lost.current
            return (yield from self._not_claimed_steps(parcel, key, current, now))
        except MutexHeldError as held:
            return (yield from self._mutex_held(parcel, key, held))
        return Attempt(parcel, key, task, lock)

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
        return drive(self._run_steps(attempt, on_failure, keep_alive), self._targets)

    def _run_steps(
        self, attempt: Attempt[T], on_failure: OnFailure, keep_alive: KeepAlive | None
    ) -> Steps[ExecuteResult[T, R]]:
        """``run`` as steps (``effects``): the logic is a ``logic`` call, each write of the
        outcome a ``dao`` or ``queue`` call, so a sync and an async shell drive the same
        code (the async one awaits the logic, and the writes on the store's async twin or
        on a thread)."""
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
        failure: tuple[Exception, float] | None = None
        later: RetryLaterError | None = None
        result: R | None = None
        try:
            if self.hooks:
                self._claimed(attempt)
                with self.hooks.attempt_span(
                    self.spec.task_type, attempt.task, attempt.parcel.meta.carried
                ):
                    result = yield Call("logic", "call", (attempt.task, lease))
            else:
                result = yield Call("logic", "call", (attempt.task, lease))
        except RetryLaterError as asked:
            later = asked
        except Exception as error:
            failure = (error, time.monotonic() - started)
        finally:
            lease.close()
            heartbeats.forget(lease)
            leave(token)
        if later is not None:
            return (yield from self._logic_retry_later(attempt, later))
        if failure is not None:
            raised, took = failure
            return (yield from self._logic_failed(attempt, raised, on_failure, took))
        ran = time.monotonic() - started
        final, _ = yield from self._record_steps(attempt, self._fulfilled(attempt, result))
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

    def call(self, task: T, lease: Lease) -> R:
        """The logic on ``task`` (the sync shell's ``logic`` call)."""
        value: R = call_logic(
            self.logic, task, lease, self.options.time_limit, awaited=self._async
        )
        return value

    def _claimed(self, attempt: Attempt[T]) -> None:
        self.hooks.claimed(
            ClaimEvent(
                task_type=self.spec.task_type,
                task=attempt.task,
                requeue_depth=attempt.parcel.meta.requeue_depth,
            )
        )


def runs_on_loop(executor: object) -> TypeGuard[TaskExecutor[Any, Any]]:
    """Whether ``executor`` is one of ours with ``async def`` logic, whose attempts the
    worker's lane and the Lambda handler await on their event loop (anything else,
    a user's wrapper included, runs through its own ``execute_raw`` on a thread)."""
    return isinstance(executor, TaskExecutor) and executor.is_async


@overload
def with_execute_lifecycle(
    logic: Callable[[T], Coroutine[Any, Any, R]],
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
) -> TaskExecutor[T, R]: ...


@overload
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
) -> TaskExecutor[T, R]: ...


def with_execute_lifecycle(
    logic: Callable[[T], Any],
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
) -> TaskExecutor[T, Any]:
    """Wrap business ``logic`` into an executor of delivered parcels.

    Per delivery: claim the task with one conditional write (QUEUED, due
    FAILED or SCHEDULED -> ATTEMPTED with a new lease, taking the mutex lock in
    the same write); if the claim is lost, decide from the record the conflict
    carries: skip finished, canceled or halted tasks, retry later the ones
    running elsewhere under a live lease, not yet due or blocked by a mutex,
    take over an attempt whose lease lapsed. Run ``logic`` while a heartbeat
    renews the lease, and record FULFILLED, or FAILED with the error and a
    backoff retry, or QUEUED again for ``RetryLaterError``, each write fenced by
    the attempt's lease. A status the logic set itself stands. ``async def`` logic is
    awaited (on the event loop of the thread that runs the attempt), and its
    result is the awaited value.

    ``options`` holds the settings (``ExecuteOptions``); ``retry`` and ``lease``
    are shortcuts that replace the ones in ``options``. ``hooks`` are called at claim,
    finish, retry and skip, and around each run of the logic (``TaskHooks``).

    Raises:
        TaskDefinitionError: at wrap time, if the DAO's task class is invalid.
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
