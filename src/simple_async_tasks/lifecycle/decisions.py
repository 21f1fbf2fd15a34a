"""The decisions of the execute lifecycle, without I/O.

Which condition claims a task, what a lost claim means, which transition an
outcome makes: pure functions of the stored record, the clock reading and
the task type's ``ExecuteOptions``. ``TaskExecutor`` does the I/O around them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import attrs

from ..conditions import Condition, DueBy, FailuresBelow, LeaseIs, StatusIn, status_in
from ..contracts import MutexLock, Transition
from ..parcel import TaskParcel
from ..task import AsyncTask, AsyncTaskStatus
from .options import ExecuteOptions
from .results import describe_error

S = AsyncTaskStatus
T = TypeVar("T", bound=AsyncTask)
ONE_SECOND = timedelta(seconds=1)


class Attempt(Generic[T]):
    """A claimed delivery: the task as claimed (with its lease) and its mutex lock."""

    __slots__ = ("key", "lock", "parcel", "task")

    def __init__(self, parcel: TaskParcel[T], key: str, task: T, lock: MutexLock | None) -> None:
        self.parcel = parcel
        self.key = key
        self.task = task
        self.lock = lock

    @property
    def lease_id(self) -> str:
        assert self.task.lease_id is not None  # set by every claim
        return self.task.lease_id


def new_lease_id() -> str:
    """A fencing token for one attempt: 128 random bits (``os.urandom``, a tenth of
    ``uuid4``'s cost)."""
    return os.urandom(16).hex()


def runnable(options: ExecuteOptions) -> Condition:
    """Statuses a delivery may claim: QUEUED, SCHEDULED, or FAILED with failures left."""
    return status_in(S.QUEUED, S.SCHEDULED) | (
        status_in(S.FAILED) & FailuresBelow(options.retry.max_attempts)
    )


def claim_condition(runnable: Condition, now: datetime) -> Condition:
    """The condition of a claim: runnable and due."""
    return runnable & DueBy(now)


def claim(now: datetime, lease_id: str, options: ExecuteOptions) -> Transition:
    """The claim of a fresh attempt: ATTEMPTED, one more run, a new lease."""
    return Transition(
        status=S.ATTEMPTED,
        add_attempts=1,
        attempted_at=now,
        lease_id=lease_id,
        lease_until=now + options.lease,
    )


_HELD: StatusIn = status_in(S.ATTEMPTED)


def held_by(lease_id: str) -> Condition:
    """The fence of every write an attempt makes after its claim."""
    return _HELD & LeaseIs(lease_id)


def lease_free_at(task: AsyncTask, options: ExecuteOptions) -> datetime | None:
    """When another delivery may take over ``task``'s attempt (None: at once)."""
    if task.lease_until is None:
        return None
    return task.lease_until + options.clock_skew


# The decisions are plain classes, not attrs ones: a few of them are built per lost
# claim, and creating attrs classes at import costs the Lambda cold start.


class Skip:
    """Not run: finished, canceled, halted, scheduled, or failed for good."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class RetryIn:
    """Put the parcel back for ``delay``."""

    __slots__ = ("delay", "reason")

    def __init__(self, delay: timedelta, reason: str) -> None:
        self.delay = delay
        self.reason = reason


class TakeOver:
    """The attempt's lease lapsed and failures are left: count it failed, run again."""

    __slots__ = ()


class GiveUp:
    """The attempt's lease lapsed and it was the last allowed: record FAILED for good."""

    __slots__ = ()


class NotFound:
    """No record is stored for the parcel's task."""

    __slots__ = ()


LostClaim = Skip | RetryIn | TakeOver | GiveUp | NotFound


def lost_claim(current: AsyncTask | None, now: datetime, options: ExecuteOptions) -> LostClaim:
    """What a claim that did not apply means, from the record its conflict carried."""
    if current is None:
        return NotFound()
    status = current.status
    if status in (S.FULFILLED, S.CANCELED, S.HALTED):
        return Skip(f"already {status.value}")
    if status is S.SCHEDULED:
        return Skip("scheduled for later; the scheduler enqueues it when due")
    if status is S.FAILED and current.failures >= options.retry.max_attempts:
        return Skip("failed after its last allowed attempt")
    if status is S.ATTEMPTED:
        free_at = lease_free_at(current, options)
        if free_at is not None and free_at > now:
            return RetryIn(free_at - now, "attempt in progress")
        if current.failures + 1 >= options.retry.max_attempts:
            return GiveUp()
        return TakeOver()
    if current.execute_after is not None and current.execute_after > now:
        return RetryIn(current.execute_after - now, "not due")
    return RetryIn(ONE_SECOND, "claim raced")


def lost_attempt_error(task: AsyncTask) -> str:
    return (
        f"AttemptLost: attempt {task.attempts} stopped renewing its lease (its runner "
        "crashed, was stopped or lost its connection) and was taken over"
    )


def take_over(
    now: datetime, lease_id: str, current: AsyncTask, options: ExecuteOptions
) -> Transition:
    """A new attempt in place of one whose lease lapsed: that one counts as failed."""
    return attrs.evolve(
        claim(now, lease_id, options), add_failures=1, last_error=lost_attempt_error(current)
    )


def give_up(current: AsyncTask) -> Transition:
    return Transition(
        status=S.FAILED,
        add_failures=1,
        last_error=lost_attempt_error(current),
        execute_after=None,
        lease_until=None,
        final=True,
    )


FULFILLED = Transition(status=S.FULFILLED, lease_until=None, final=True)


def fulfilled_with(result: str) -> Transition:
    """FULFILLED, keeping the logic's result (JSON text)."""
    return Transition(status=S.FULFILLED, lease_until=None, result=result, final=True)


def retry_later(due: datetime) -> Transition:
    """Back to QUEUED, due later; no failure is counted."""
    return Transition(status=S.QUEUED, execute_after=due, lease_until=None)


def put_back() -> Transition:
    """A claim given back before its logic started: the run is not counted."""
    return Transition(status=S.QUEUED, add_attempts=-1, lease_until=None)


def given_up(task: AsyncTask, error: BaseException, options: ExecuteOptions) -> Transition:
    """FAILED for good without a failure of the logic (the parcel was put back too often):
    the failure count is raised to the retry limit, so no delivery or sweep runs it again
    (``retry_task`` does, by hand)."""
    return Transition(
        status=S.FAILED,
        add_failures=max(1, options.retry.max_attempts - task.failures),
        last_error=describe_error(error),
        execute_after=None,
        lease_until=None,
        final=True,
    )


class Failure:
    """The record of a failed attempt, whether it was the last allowed, and the backoff."""

    __slots__ = ("change", "delay", "final")

    def __init__(self, change: Transition, final: bool, delay: timedelta | None) -> None:
        self.change = change
        self.final = final
        self.delay = delay


def failure(
    task: AsyncTask,
    error_text: str,
    now: datetime,
    options: ExecuteOptions,
    rand: Callable[[], float],
) -> Failure:
    """The record of a failed attempt: FAILED, due after the backoff, or for good."""
    failures = task.failures + 1
    if failures >= options.retry.max_attempts:
        change = Transition(
            status=S.FAILED,
            add_failures=1,
            last_error=error_text,
            execute_after=None,
            lease_until=None,
            final=True,
        )
        return Failure(change, True, None)
    delay = options.retry.delay_for(failures, rand)
    change = Transition(
        status=S.FAILED,
        add_failures=1,
        last_error=error_text,
        execute_after=now + delay,
        lease_until=None,
    )
    return Failure(change, False, delay)
