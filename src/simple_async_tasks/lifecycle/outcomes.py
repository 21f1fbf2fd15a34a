"""How an attempt ends: the write of its outcome (FULFILLED with its result, FAILED with
a backoff or for good, QUEUED again for a retry-later), each fenced by the attempt's
lease, and the hooks' finish and retry events.

``Outcomes`` is a part of ``TaskExecutor`` (its base class), kept apart so that each
module does one job: ``execute`` claims and runs, this module records.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TypeVar

from ..contracts import Transition
from ..errors import ConditionFailedError, RequeueDepthExceededError, RetryLaterError
from ..parcel import TaskParcel
from ..task import AsyncTask
from . import decisions as decide
from .decisions import Attempt
from .effects import Call, Steps
from .effects import run as drive
from .hooks import FinishEvent, RetryEvent
from .lost_claims import LostClaims
from .options import OnFailure
from .results import ExecuteOutcome, ExecuteResult, describe_error, encode_result

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")

logger = logging.getLogger("simple_async_tasks.execute")


class Outcomes(LostClaims[T, R]):
    """The end of an attempt, for ``TaskExecutor``."""

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
        return drive(self._record_steps(attempt, change), self._io)

    def _record_steps(self, attempt: Attempt[T], change: Transition) -> Steps[tuple[T, bool]]:
        """``record`` as steps (``effects``)."""
        try:
            stored: T = yield Call(
                "dao",
                "transition",
                (attempt.key, change),
                {"condition": decide.held_by(attempt.lease_id), "release": attempt.lock},
            )
        except ConditionFailedError as lost:
            if attempt.lock is not None:  # fenced: a no-op unless this attempt still holds it
                yield Call("dao", "release_mutex", (attempt.lock,))
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
    ) -> Steps[ExecuteResult[T, R]]:
        parcel = attempt.parcel
        if parcel.meta.requeue_depth + 1 > self.options.max_requeue_depth:
            exceeded = RequeueDepthExceededError(
                self.spec.task_type,
                attempt.task.uuid,
                parcel.meta.requeue_depth,
                self.options.max_requeue_depth,
            )
            yield from self._record_steps(
                attempt, decide.given_up(attempt.task, exceeded, self.options)
            )
            raise exceeded from later
        again = decide.retry_later(self.clock.now() + later.delay)
        stored, ours = yield from self._record_steps(attempt, again)
        if not ours:
            return ExecuteResult(task=stored, outcome=ExecuteOutcome.EXECUTED)
        reason = later.reason or "asked by logic"
        return (yield from self._requeue(parcel, stored, later.delay, reason=reason))

    def _logic_failed(
        self, attempt: Attempt[T], error: Exception, on_failure: OnFailure, ran: float
    ) -> Steps[ExecuteResult[T, R]]:
        task = attempt.task
        failed = decide.failure(
            task, describe_error(error), self.clock.now(), self.options, self.rand
        )
        stored, ours = yield from self._record_steps(attempt, failed.change)
        if self.hooks:
            self._finished(stored, ExecuteOutcome.FAILED, ran, error, final=failed.final)
            if not failed.final and failed.delay is not None:
                self.hooks.retrying(
                    RetryEvent(
                        task_type=self.spec.task_type,
                        task=stored,
                        delay=failed.delay,
                        reason=f"attempt failed ({type(error).__name__})",
                        after_failure=True,
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
        again = TaskParcel(task=stored, meta=attempt.parcel.meta)
        delay = yield from self._push_later(again, failed.delay)
        return ExecuteResult(task=stored, outcome=ExecuteOutcome.FAILED, retry_in=delay)
