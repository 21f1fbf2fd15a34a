"""Running a batch of deliveries: one read, one transactional claim, each task finished alone.

A Lambda batch is the unit AWS hands us, so the work is done per batch: the
stored state of every record is read in one call, every claimable task is
claimed in one transactional write (falling back to one claim per task when
the transaction is cancelled), and each task's final status is written right
after its own business function returns, never batched, so a crash cannot
lose a finished task's record and run it twice. Finished tasks are skipped on
redelivery without any write.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from ..conditions import AttemptsEqual, evaluate, status_in
from ..contracts import Transition
from ..errors import ConditionFailedError, NotStartedError
from ..parcel import TaskParcel
from ..task import AsyncTask, AsyncTaskStatus
from .results import ExecuteOutcome, ExecuteResult

if TYPE_CHECKING:
    from .execute import TaskExecutor

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")
S = AsyncTaskStatus

logger = logging.getLogger("simple_async_tasks.execute")


def _guarded(fn: Callable[[], ExecuteResult[T, R]]) -> ExecuteResult[T, R] | Exception:
    try:
        return fn()
    except Exception as error:
        return error


def execute_many(
    executor: TaskExecutor[T, R],
    parcels: Sequence[TaskParcel[T]],
    *,
    leave_failures_on_queue: bool = False,
    max_workers: int = 1,
    may_start: Callable[[], bool] = lambda: True,
) -> list[ExecuteResult[T, R] | Exception]:
    """Run a batch of deliveries of one task class; results in the order of ``parcels``.

    Tasks with a mutex, and a second delivery of the same task within the
    batch, take the one-by-one path. ``may_start`` is asked before each
    business function starts; a claimed task it refuses is put back to QUEUED
    and its result is a ``NotStartedError``.
    """

    def single(parcel: TaskParcel[T]) -> ExecuteResult[T, R] | Exception:
        if not may_start():
            return NotStartedError("the Lambda is running out of time")
        return _guarded(lambda: executor(parcel, leave_failures_on_queue=leave_failures_on_queue))

    if executor.spec.mutex is not None or len(parcels) <= 1:
        return [single(p) for p in parcels]

    conv = executor.converter
    keys = [executor.spec.unique_key(p.task, conv) for p in parcels]
    results: list[ExecuteResult[T, R] | Exception | None] = [None] * len(parcels)
    first: dict[str, int] = {}
    again: list[int] = []
    for index, key in enumerate(keys):
        if key in first:
            again.append(index)
        else:
            first[key] = index

    records = executor.dao.get_many(list(first))
    now = executor.clock.now()
    claimable = executor._claimable(now)
    to_claim: list[int] = []
    for key, index in first.items():
        record = records.get(key)
        if record is not None and evaluate(claimable, record):
            to_claim.append(index)
        else:
            try:
                results[index] = executor._not_claimed(parcels[index], key, record, now)
            except Exception as error:
                results[index] = error

    if to_claim:
        change = Transition(status=S.ATTEMPTED, add_attempt=True, attempted_at=now)
        try:
            claimed = executor.dao.transition_many(
                [(records[keys[i]], change) for i in to_claim], condition=claimable
            )
        except ConditionFailedError:
            logger.info("batch claim of %d tasks cancelled; claiming one by one", len(to_claim))
            for index in to_claim:
                results[index] = single(parcels[index])
        else:

            def run(pair: tuple[int, T]) -> ExecuteResult[T, R] | Exception:
                index, task = pair
                if not may_start():
                    return _put_back(executor, keys[index], task)
                return _guarded(
                    lambda: executor._run(
                        parcels[index],
                        keys[index],
                        task,
                        None,
                        push_retry=not leave_failures_on_queue,
                    )
                )

            pairs = list(zip(to_claim, claimed, strict=False))
            if max_workers > 1 and len(pairs) > 1:
                with ThreadPoolExecutor(min(max_workers, len(pairs))) as pool:
                    outcomes = list(pool.map(run, pairs))
            else:
                outcomes = [run(pair) for pair in pairs]
            for (index, _), outcome in zip(pairs, outcomes, strict=False):
                results[index] = outcome

    for index in again:
        results[index] = single(parcels[index])
    return [r if r is not None else RuntimeError("not run") for r in results]


def _put_back(executor: TaskExecutor[Any, Any], key: str, task: AsyncTask) -> Exception:
    with contextlib.suppress(ConditionFailedError):
        executor.dao.transition(
            key,
            Transition(status=S.QUEUED),
            condition=status_in(S.ATTEMPTED) & AttemptsEqual(task.attempts),
        )
    return NotStartedError("the Lambda is running out of time; the task is QUEUED again")


__all__ = ["ExecuteOutcome", "NotStartedError", "execute_many"]
