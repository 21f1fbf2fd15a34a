"""What a delivery does when its claim is lost or must wait: the I/O of the decisions of
``decisions.lost_claim`` (skip, retry later, take over a lapsed attempt, give up), the
mutex lock an attempt takes, and the push of a parcel that comes back later.

``LostClaims`` is a part of ``TaskExecutor`` (its base class), kept apart so that each
module does one job: this one, the claims that did not simply win. Each step that
writes is a generator of backend calls (``effects``): the sync executor drives them with
its DAO and queue, the async one awaits them (``async_execute``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import cattrs

from ..clock import Clock
from ..conditions import VersionEquals, status_in
from ..contracts import MutexLock, TaskDao, TaskQueue
from ..definition import TaskSpec
from ..errors import (
    ConditionFailedError,
    MutexHeldError,
    RequeueDepthExceededError,
    RetryLaterError,
    TaskNotFoundError,
)
from ..parcel import TaskParcel
from ..task import AsyncTask, AsyncTaskStatus
from . import decisions as decide
from .decisions import Attempt
from .effects import Call, Steps
from .effects import run as drive
from .hooks import Hooks, RetryEvent, SkipEvent
from .options import ExecuteOptions
from .results import ExecuteOutcome, ExecuteResult

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")

logger = logging.getLogger("simple_async_tasks.execute")

S = AsyncTaskStatus


class LostClaims(Generic[T, R]):
    """The lost and waiting claims of ``TaskExecutor`` (whose ``__init__`` sets these)."""

    spec: TaskSpec[T]
    dao: TaskDao[T]
    queue: TaskQueue[T]
    options: ExecuteOptions
    clock: Clock
    converter: cattrs.Converter
    hooks: Hooks
    rand: Callable[[], float]
    _io: Mapping[str, Any]
    """The sync driver's targets: ``{"dao": dao, "queue": queue}``."""

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

    def _mutex_held(
        self, parcel: TaskParcel[T], key: str, held: MutexHeldError
    ) -> Steps[ExecuteResult[T, R]]:
        stored = (yield Call("dao", "get", (key,))) or parcel.task
        delay = min(max(held.expires_in, decide.ONE_SECOND), self.options.mutex_retry_delay)
        return (yield from self._requeue(parcel, stored, delay, reason="mutex held"))

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
        steps = self._not_claimed_steps(parcel, key, current, now, may_take_over=may_take_over)
        return drive(steps, self._io)

    def _not_claimed_steps(
        self,
        parcel: TaskParcel[T],
        key: str,
        current: T | None,
        now: datetime,
        *,
        may_take_over: bool = True,
    ) -> Steps[Attempt[T] | ExecuteResult[T, R]]:
        """``not_claimed`` as steps (``effects``)."""
        decision = decide.lost_claim(current, now, self.options)
        if isinstance(decision, decide.NotFound) or current is None:
            deleted = yield from self._deleted_at(key)
            if deleted is not None:
                return self._skip(parcel.task, f"deleted at {deleted.isoformat()}")
            raise TaskNotFoundError(self.spec.task_type, key, uuid=parcel.task.uuid)
        if isinstance(decision, decide.Skip):
            return self._skip(current, decision.reason)
        if isinstance(decision, decide.RetryIn):
            return (
                yield from self._requeue(parcel, current, decision.delay, reason=decision.reason)
            )
        if isinstance(decision, decide.GiveUp):
            return (yield from self._give_up(key, current))
        if not may_take_over:
            return (
                yield from self._requeue(parcel, current, decide.ONE_SECOND, reason="claim raced")
            )
        return (yield from self._take_over(parcel, key, current, now))

    def _deleted_at(self, key: str) -> Steps[datetime | None]:
        """When the task was deleted (its tombstone: ``contracts.DeletingDao``), or None:
        read only when a delivery finds no record."""
        if getattr(self.dao, "deleted_at", None) is None:
            return None
        found: datetime | None = yield Call("dao", "deleted_at", (key,))
        return found

    def _take_over(
        self, parcel: TaskParcel[T], key: str, current: T, now: datetime
    ) -> Steps[Attempt[T] | ExecuteResult[T, R]]:
        lease_id = decide.new_lease_id()
        lock = self.lock_for(current, lease_id, now)
        try:
            task: T = yield Call(
                "dao",
                "transition",
                (key, decide.take_over(now, lease_id, current, self.options)),
                {
                    "condition": status_in(S.ATTEMPTED) & VersionEquals(current.version),
                    "acquire": lock,
                },
            )
        except ConditionFailedError as lost:
            again: T | None = lost.current
            return (
                yield from self._not_claimed_steps(parcel, key, again, now, may_take_over=False)
            )
        except MutexHeldError as held:
            return (yield from self._mutex_held(parcel, key, held))
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

    def _give_up(self, key: str, current: T) -> Steps[ExecuteResult[T, R]]:
        release = None
        if current.lease_id is not None and current.attempted_at is not None:
            release = self.lock_for(current, current.lease_id, current.attempted_at)
        try:
            failed: T = yield Call(
                "dao",
                "transition",
                (key, decide.give_up(current)),
                {
                    "condition": status_in(S.ATTEMPTED) & VersionEquals(current.version),
                    "release": release,
                },
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
    ) -> Steps[ExecuteResult[T, R]]:
        depth = parcel.meta.requeue_depth + 1
        if depth > self.options.max_requeue_depth:
            raise RequeueDepthExceededError(
                self.spec.task_type, task.uuid, depth - 1, self.options.max_requeue_depth
            )
        delay = yield from self._push_later(
            TaskParcel(task=task, meta=parcel.meta.requeued()), delay
        )
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

    def _push_later(self, parcel: TaskParcel[T], delay: timedelta) -> Steps[timedelta]:
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
        yield Call("queue", "push", (parcel,), {"delay": delay})
        return delay
