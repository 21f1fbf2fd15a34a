"""Running a batch of deliveries: claims, then each task run and finished alone.

A Lambda batch is the unit AWS hands us, so claims are made per batch, in one
of two ways chosen by the DAO:

* a DAO whose ``parallel_claims`` is true (DynamoDB) gets one conditional
  write per task, issued concurrently, with no read first: a lost claim's
  failed condition returns the stored record, which decides (skip, retry,
  take over). On DynamoDB that is 1 write unit per claim, half of a
  transactional one, and a redelivered finished task costs one failed
  conditional write and changes nothing;
* any other DAO gets one read of every record and one transactional claim of
  all the claimable ones (falling back to one claim per task when the
  transaction is cancelled); finished tasks are skipped with no write.

Each task's final status is written right after its own business function
returns, never batched, so a crash cannot lose a finished task's record and
run it twice. Every step is one of ``TaskExecutor``'s own (``claim``,
``not_claimed``, ``run``, ``record``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from ..conditions import evaluate
from ..errors import NotStartedError
from ..parcel import TaskParcel
from ..task import AsyncTask
from . import decisions as decide
from ._pools import pool_map
from .decisions import Attempt
from .lease import KeepAlive
from .options import OnFailure
from .results import ExecuteOutcome, ExecuteResult

if TYPE_CHECKING:
    from .execute import TaskExecutor

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")

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
    on_failure: OnFailure = OnFailure.PUSH_RETRY,
    keep_alive: Sequence[KeepAlive | None] | None = None,
    max_workers: int = 1,
    may_start: Callable[[], bool] = lambda: True,
) -> list[ExecuteResult[T, R] | Exception]:
    """Run a batch of deliveries of one task class; results in the order of ``parcels``.

    ``keep_alive``, one per parcel, extends each message's visibility at each renewal.

    Tasks with a mutex, and a second delivery of the same task within the
    batch, take the one-by-one path. ``may_start`` is asked before each
    business function starts; a claimed task it refuses is put back to QUEUED
    (its run not counted) and its result is a ``NotStartedError``.
    """

    alive = list(keep_alive) if keep_alive is not None else [None] * len(parcels)
    parallel: bool = getattr(executor.dao, "parallel_claims", False)
    if len(parcels) > MAX_BATCH and not parallel:
        # a transactional claim takes at most 100 items; Lambda hands up to 10,000 records
        out: list[ExecuteResult[T, R] | Exception] = []
        for start in range(0, len(parcels), MAX_BATCH):
            out += execute_many(
                executor,
                parcels[start : start + MAX_BATCH],
                on_failure=on_failure,
                keep_alive=alive[start : start + MAX_BATCH],
                max_workers=max_workers,
                may_start=may_start,
            )
        return out

    def single(index: int) -> ExecuteResult[T, R] | Exception:
        if not may_start():
            return NotStartedError("the Lambda is running out of time")
        parcel, extend = parcels[index], alive[index]
        return _guarded(lambda: executor(parcel, on_failure=on_failure, keep_alive=extend))

    if executor.spec.mutex is not None or len(parcels) <= 1:
        return [single(i) for i in range(len(parcels))]

    keys = [executor.key_of(parcel) for parcel in parcels]
    results: list[ExecuteResult[T, R] | Exception | None] = [None] * len(parcels)
    first: dict[str, int] = {}
    again: list[int] = []
    for index, key in enumerate(keys):
        if key in first:
            again.append(index)
        else:
            first[key] = index

    if parallel:
        attempts = _claim_each(executor, parcels, first, results)
    else:
        to_claim, attempts, now = _sort_out(executor, parcels, keys, first, results)
        if to_claim:
            changes = [
                (record, decide.claim(now, decide.new_lease_id(), executor.options))
                for _, record in to_claim
            ]
            try:
                claimed = executor.dao.transition_many(changes, condition=executor.claimable(now))
            except Exception as error:
                logger.info(
                    "batch claim of %d tasks failed (%s); claiming one by one",
                    len(to_claim),
                    type(error).__name__,
                )
                for index, _ in to_claim:
                    results[index] = single(index)
            else:
                attempts.extend(
                    (index, Attempt(parcels[index], keys[index], task, None))
                    for (index, _), task in zip(to_claim, claimed, strict=True)
                )

    def run(pair: tuple[int, Attempt[T]]) -> ExecuteResult[T, R] | Exception:
        index, attempt = pair
        if not may_start():
            return _put_back(executor, attempt)
        extend = alive[index]
        return _guarded(lambda: executor.run(attempt, on_failure=on_failure, keep_alive=extend))

    if max_workers > 1 and len(attempts) > 1:
        outcomes = pool_map(max_workers, run, attempts)
    else:
        outcomes = [run(pair) for pair in attempts]
    for (index, _), outcome in zip(attempts, outcomes, strict=True):
        results[index] = outcome

    for index in again:
        results[index] = single(index)
    return [r if r is not None else RuntimeError("not run") for r in results]


MAX_BATCH = 100
"""The most deliveries claimed in one ``transition_many`` (DynamoDB's transaction limit)."""

MAX_CONCURRENT_CLAIMS = 10
"""Claims in flight at once on a ``parallel_claims`` DAO (an SQS batch's size)."""


def _claim_each(
    executor: TaskExecutor[T, R],
    parcels: Sequence[TaskParcel[T]],
    first: dict[str, int],
    results: list[ExecuteResult[T, R] | Exception | None],
) -> list[tuple[int, Attempt[T]]]:
    """Claim every task with its own conditional write, concurrently; return the attempts.
    A lost claim's result (skipped, retry later, an error) goes in ``results``."""
    indexes = list(first.values())

    def claim(index: int) -> Attempt[T] | ExecuteResult[T, R] | Exception:
        try:
            return executor.claim(parcels[index])
        except Exception as error:
            return error

    if len(indexes) > 1:
        claimed = pool_map(MAX_CONCURRENT_CLAIMS, claim, indexes)
    else:
        claimed = [claim(index) for index in indexes]
    attempts: list[tuple[int, Attempt[T]]] = []
    for index, outcome in zip(indexes, claimed, strict=True):
        if isinstance(outcome, Attempt):
            attempts.append((index, outcome))
        else:
            results[index] = outcome
    return attempts


def _sort_out(
    executor: TaskExecutor[T, R],
    parcels: Sequence[TaskParcel[T]],
    keys: list[str],
    first: dict[str, int],
    results: list[ExecuteResult[T, R] | Exception | None],
) -> tuple[list[tuple[int, T]], list[tuple[int, Attempt[T]]], datetime]:
    """Read the batch's records in one call; return the claimable ones, the attempts
    taken over from lapsed leases, and the reading's time. Other results go in ``results``."""
    records = executor.dao.get_many(list(first))
    now = executor.clock.now()
    claimable = executor.claimable(now)
    to_claim: list[tuple[int, T]] = []
    taken_over: list[tuple[int, Attempt[T]]] = []
    for key, index in first.items():
        record = records.get(key)
        if record is not None and evaluate(claimable, record):
            to_claim.append((index, record))
            continue
        try:
            decided = executor.not_claimed(parcels[index], key, record, now)
        except Exception as error:
            results[index] = error
            continue
        if isinstance(decided, Attempt):
            taken_over.append((index, decided))
        else:
            results[index] = decided
    return to_claim, taken_over, now


def _put_back(executor: TaskExecutor[T, R], attempt: Attempt[T]) -> Exception:
    executor.record(attempt, decide.put_back())
    return NotStartedError("the Lambda is running out of time; the task is QUEUED again")


__all__ = ["ExecuteOutcome", "NotStartedError", "execute_many"]
