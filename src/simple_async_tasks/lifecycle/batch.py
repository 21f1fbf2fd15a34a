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
from typing import TYPE_CHECKING, Generic, TypeVar

from ..conditions import evaluate
from ..errors import NotStartedError
from ..parcel import RawParcel, TaskParcel, structure_parcel
from ..task import AsyncTask
from . import decisions as decide
from ._pools import pool_map
from .decisions import Attempt
from .effects import Steps
from .effects import run as drive
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


Outcome = ExecuteResult[T, R] | Exception


class Claims(Generic[T, R]):
    """A batch's claim phase: the attempts won (run them), the parcels to run one by
    one after them (a mutex, a second delivery of a task, a refused batch claim), and
    every other parcel's result already decided (skipped, retry later, an error)."""

    __slots__ = ("attempts", "results", "singles")

    def __init__(self, size: int) -> None:
        self.results: list[Outcome[T, R] | None] = [None] * size
        self.attempts: list[tuple[int, Attempt[T]]] = []
        self.singles: list[int] = []

    def finished(self) -> list[Outcome[T, R]]:
        return [r if r is not None else RuntimeError("not run") for r in self.results]


class Decoded(Generic[T, R]):
    """A batch of parsed parcels structured into the task class: the parcels that decoded
    (with their keep-alives) to run, the ``ParcelDecodeError`` of the others in their
    places."""

    __slots__ = ("_results", "_slots", "extends", "parcels")

    def __init__(
        self,
        executor: TaskExecutor[T, R],
        raws: Sequence[RawParcel],
        keep_alive: Sequence[KeepAlive | None] | None,
    ) -> None:
        alive = list(keep_alive) if keep_alive is not None else [None] * len(raws)
        self._results: list[Outcome[T, R] | None] = []
        self.parcels: list[TaskParcel[T]] = []
        self.extends: list[KeepAlive | None] = []
        self._slots: list[int] = []
        for raw, extend in zip(raws, alive, strict=True):
            try:
                self.parcels.append(structure_parcel(raw, executor.spec.cls, executor.converter))
            except Exception as error:
                self._results.append(error)
            else:
                self.extends.append(extend)
                self._slots.append(len(self._results))
                self._results.append(None)

    def place(self, ran: Sequence[Outcome[T, R]]) -> list[Outcome[T, R]]:
        """Every raw parcel's result, in order: ``ran`` are those of ``parcels``."""
        results = list(self._results)
        for slot, outcome in zip(self._slots, ran, strict=True):
            results[slot] = outcome
        return [r if r is not None else RuntimeError("not run") for r in results]


def parts(executor: TaskExecutor[T, R], size: int) -> list[slice]:
    """The batch cut in claimable parts: a transactional claim takes at most 100 items,
    and Lambda hands up to 10,000 records; a ``parallel_claims`` DAO claims any number."""
    if size <= MAX_BATCH or getattr(executor.dao, "parallel_claims", False):
        return [slice(0, size)]
    return [slice(start, start + MAX_BATCH) for start in range(0, size, MAX_BATCH)]


class Plan:
    """Who claims how in a part of a batch: one by one (a mutex, a lone parcel), else the
    first delivery of each task together and the later ones (``again``) one by one after."""

    __slots__ = ("again", "first", "keys", "one_by_one")

    def __init__(self, executor: TaskExecutor[T, R], parcels: Sequence[TaskParcel[T]]) -> None:
        self.one_by_one = executor.spec.mutex is not None or len(parcels) <= 1
        self.keys: list[str] = []
        self.first: dict[str, int] = {}
        self.again: list[int] = []
        if self.one_by_one:
            return
        self.keys = [executor.key_of(parcel) for parcel in parcels]
        for index, key in enumerate(self.keys):
            if key in self.first:
                self.again.append(index)
            else:
                self.first[key] = index


def claim_batch(executor: TaskExecutor[T, R], parcels: Sequence[TaskParcel[T]]) -> Claims[T, R]:
    """Claim a part of a batch (see the module's docstring); nothing is run here."""
    claims: Claims[T, R] = Claims(len(parcels))
    plan = Plan(executor, parcels)
    if plan.one_by_one:
        claims.singles = list(range(len(parcels)))
        return claims
    if getattr(executor.dao, "parallel_claims", False):
        claims.attempts = _claim_each(executor, parcels, plan.first, claims.results)
    else:
        claim_together(executor, parcels, plan, claims)
    claims.singles += plan.again  # after the first delivery of their task has run
    return claims


def claim_together(
    executor: TaskExecutor[T, R],
    parcels: Sequence[TaskParcel[T]],
    plan: Plan,
    claims: Claims[T, R],
) -> None:
    """One read of every record and one transactional claim of the claimable ones (one
    by one if the transaction is refused); into ``claims``."""
    to_claim, claims.attempts, now = _sort_out(
        executor, parcels, plan.keys, plan.first, claims.results
    )
    if not to_claim:
        return
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
        claims.singles += [index for index, _ in to_claim]
    else:
        claims.attempts.extend(
            (index, Attempt(parcels[index], plan.keys[index], task, None))
            for (index, _), task in zip(to_claim, claimed, strict=True)
        )


def execute_many(
    executor: TaskExecutor[T, R],
    parcels: Sequence[TaskParcel[T]],
    *,
    on_failure: OnFailure = OnFailure.PUSH_RETRY,
    keep_alive: Sequence[KeepAlive | None] | None = None,
    max_workers: int = 1,
    may_start: Callable[[], bool] = lambda: True,
) -> list[Outcome[T, R]]:
    """Run a batch of deliveries of one task class; results in the order of ``parcels``.

    ``keep_alive``, one per parcel, extends each message's visibility at each renewal.

    Tasks with a mutex, and a second delivery of the same task within the
    batch, take the one-by-one path. ``may_start`` is asked before each
    business function starts; a claimed task it refuses is put back to QUEUED
    (its run not counted) and its result is a ``NotStartedError``.
    """
    alive = list(keep_alive) if keep_alive is not None else [None] * len(parcels)
    out: list[Outcome[T, R]] = []
    for part in parts(executor, len(parcels)):
        out += _execute_part(
            executor,
            parcels[part],
            alive[part],
            on_failure=on_failure,
            max_workers=max_workers,
            may_start=may_start,
        )
    return out


def _execute_part(
    executor: TaskExecutor[T, R],
    parcels: Sequence[TaskParcel[T]],
    alive: Sequence[KeepAlive | None],
    *,
    on_failure: OnFailure,
    max_workers: int,
    may_start: Callable[[], bool],
) -> list[Outcome[T, R]]:
    claims: Claims[T, R] = claim_batch(executor, parcels)

    def run(pair: tuple[int, Attempt[T]]) -> Outcome[T, R]:
        index, attempt = pair
        if not may_start():
            return put_back(executor, attempt)
        extend = alive[index]
        return _guarded(lambda: executor.run(attempt, on_failure=on_failure, keep_alive=extend))

    if max_workers > 1 and len(claims.attempts) > 1:
        outcomes = pool_map(max_workers, run, claims.attempts)
    else:
        outcomes = [run(pair) for pair in claims.attempts]
    for (index, _), outcome in zip(claims.attempts, outcomes, strict=True):
        claims.results[index] = outcome
    for index in claims.singles:
        if not may_start():
            claims.results[index] = NotStartedError("the Lambda is running out of time")
            continue
        parcel, extend = parcels[index], alive[index]
        claims.results[index] = _guarded(
            lambda: executor(parcel, on_failure=on_failure, keep_alive=extend)  # noqa: B023
        )
    return claims.finished()


MAX_BATCH = 100
"""The most deliveries claimed in one ``transition_many`` (DynamoDB's transaction limit)."""

MAX_CONCURRENT_CLAIMS = 10
"""Claims in flight at once on a ``parallel_claims`` DAO (an SQS batch's size)."""


def _claim_each(
    executor: TaskExecutor[T, R],
    parcels: Sequence[TaskParcel[T]],
    first: dict[str, int],
    results: list[Outcome[T, R] | None],
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
    results: list[Outcome[T, R] | None],
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


def put_back(executor: TaskExecutor[T, R], attempt: Attempt[T]) -> Exception:
    return drive(put_back_steps(executor, attempt), executor._io)


def put_back_steps(executor: TaskExecutor[T, R], attempt: Attempt[T]) -> Steps[Exception]:
    """A claimed attempt given back unstarted (the time guard); its result."""
    yield from executor._record_steps(attempt, decide.put_back())
    return NotStartedError("the Lambda is running out of time; the task is QUEUED again")


__all__ = [
    "Claims",
    "Decoded",
    "ExecuteOutcome",
    "NotStartedError",
    "Plan",
    "claim_batch",
    "claim_together",
    "execute_many",
    "parts",
]
