"""The execute lifecycle awaited: many attempts of ``async def`` logic on one event loop,
each the steps of the sync lifecycle (``TaskExecutor._claim_steps``, ``_run_steps``, a
batch's ``Plan``) with the logic awaited on the loop and every backend call awaited on
the store's native twin (DynamoDB and SQS on aiobotocore), called in place (memory), or
run on a worker thread (SQLite, boto3 without the ``aws-async`` extra).

What the worker's async lane and the Lambda handler run; the decisions stay in one
place: the same claims, the same lost-claim rules, the same outcome writes, fenced by the
same lease.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from ..errors import NotStartedError
from ..parcel import RawParcel, TaskParcel, structure_parcel
from ..task import AsyncTask
from .batch import Claims, Decoded, Outcome, Plan, claim_together, parts, put_back_steps
from .calling import await_logic
from .decisions import Attempt
from .effects import awaitable, run_async
from .execute import TaskExecutor
from .lease import KeepAlive, Lease
from .options import OnFailure
from .results import ExecuteResult

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")

__all__ = ["aclaim_batch", "aexecute", "aexecute_many", "aexecute_many_raw", "aexecute_raw"]


class _Awaited:
    """The logic of an executor, awaited on the running loop (a sync logic on a thread)."""

    __slots__ = ("_executor",)

    def __init__(self, executor: TaskExecutor[Any, Any]) -> None:
        self._executor = executor

    async def call(self, task: Any, lease: Lease) -> Any:
        executor = self._executor
        if not executor.is_async:
            return await asyncio.to_thread(executor.call, task, lease)
        return await await_logic(executor.logic(task), lease, executor.options.time_limit)


_targets: WeakKeyDictionary[TaskExecutor[Any, Any], dict[str, Any]] = WeakKeyDictionary()


def targets_of(executor: TaskExecutor[Any, Any]) -> dict[str, Any]:
    """What ``run_async`` drives an executor's steps on (made once per executor): the
    logic awaited, and the DAO and queue each as ``effects.awaitable`` makes them."""
    found = _targets.get(executor)
    if found is None:
        found = _targets.setdefault(
            executor,
            {
                "logic": _Awaited(executor),
                "dao": awaitable(executor.dao),
                "queue": awaitable(executor.queue),
            },
        )
    return found


async def _arun(
    executor: TaskExecutor[T, R],
    attempt: Attempt[T],
    on_failure: OnFailure,
    keep_alive: KeepAlive | None,
) -> ExecuteResult[T, R]:
    """``executor.run(attempt)``, awaited."""
    steps = executor._run_steps(attempt, on_failure, keep_alive)
    result: ExecuteResult[T, R] = await run_async(steps, targets_of(executor))
    return result


async def aexecute(
    executor: TaskExecutor[T, R],
    parcel: TaskParcel[T],
    *,
    on_failure: OnFailure = OnFailure.PUSH_RETRY,
    keep_alive: KeepAlive | None = None,
) -> ExecuteResult[T, R]:
    """``executor(parcel)``, awaited: the logic on this loop, the claim and the outcome's
    writes awaited on the store (``targets_of``: natively, in place, or on a thread).

    Raises:
        As ``TaskExecutor.__call__``.
    """
    claimed = await run_async(executor._claim_steps(parcel), targets_of(executor))
    if isinstance(claimed, ExecuteResult):
        return claimed
    return await _arun(executor, claimed, on_failure, keep_alive)


async def aexecute_raw(
    executor: TaskExecutor[T, R],
    raw: RawParcel,
    *,
    on_failure: OnFailure = OnFailure.PUSH_RETRY,
    keep_alive: KeepAlive | None = None,
) -> ExecuteResult[T, R]:
    """``executor.execute_raw(raw)``, awaited (see ``aexecute``).

    Raises:
        As ``TaskExecutor.execute_raw``.
    """
    parcel = structure_parcel(raw, executor.spec.cls, executor.converter)
    return await aexecute(executor, parcel, on_failure=on_failure, keep_alive=keep_alive)


async def aexecute_many(
    executor: TaskExecutor[T, R],
    parcels: Sequence[TaskParcel[T]],
    *,
    gate: asyncio.Semaphore,
    on_failure: OnFailure = OnFailure.PUSH_RETRY,
    keep_alive: Sequence[KeepAlive | None] | None = None,
    may_start: Callable[[], bool] = lambda: True,
) -> list[Outcome[T, R]]:
    """``lifecycle.batch.execute_many``, awaited: the same claims (``aclaim_batch``),
    then the attempts run concurrently on this loop, as many at once as ``gate`` lets
    (one gate can bound several batches); results in the order of ``parcels``.

    ``may_start`` is asked as each attempt gets its place: a claimed task it refuses is
    put back to QUEUED and its result is a ``NotStartedError``.
    """
    alive = list(keep_alive) if keep_alive is not None else [None] * len(parcels)
    out: list[Outcome[T, R]] = []
    for part in parts(executor, len(parcels)):
        claims = await aclaim_batch(executor, parcels[part])
        out += await _run_claims(
            executor,
            claims,
            parcels[part],
            alive[part],
            gate=gate,
            on_failure=on_failure,
            may_start=may_start,
        )
    return out


async def _run_claims(
    executor: TaskExecutor[T, R],
    claims: Claims[T, R],
    parcels: Sequence[TaskParcel[T]],
    alive: Sequence[KeepAlive | None],
    *,
    gate: asyncio.Semaphore,
    on_failure: OnFailure,
    may_start: Callable[[], bool],
) -> list[Outcome[T, R]]:
    async def run(index: int, attempt: Attempt[T]) -> Outcome[T, R]:
        async with gate:
            try:
                if not may_start():
                    return await run_async(put_back_steps(executor, attempt), targets_of(executor))
                return await _arun(executor, attempt, on_failure, alive[index])
            except Exception as error:
                return error

    ran = await asyncio.gather(*(run(index, attempt) for index, attempt in claims.attempts))
    for (index, _), outcome in zip(claims.attempts, ran, strict=True):
        claims.results[index] = outcome
    for index in claims.singles:
        async with gate:
            if not may_start():
                claims.results[index] = NotStartedError("the Lambda is running out of time")
                continue
            try:
                claims.results[index] = await aexecute(
                    executor, parcels[index], on_failure=on_failure, keep_alive=alive[index]
                )
            except Exception as error:
                claims.results[index] = error
    return claims.finished()


async def aclaim_batch(
    executor: TaskExecutor[T, R], parcels: Sequence[TaskParcel[T]]
) -> Claims[T, R]:
    """``lifecycle.batch.claim_batch``, awaited: on a ``parallel_claims`` DAO (DynamoDB)
    each first delivery's claim is its own write, all awaited at once; otherwise the one
    read and the one transaction of ``claim_together`` run on a worker thread."""
    claims: Claims[T, R] = Claims(len(parcels))
    plan = Plan(executor, parcels)
    if plan.one_by_one:
        claims.singles = list(range(len(parcels)))
        return claims
    if getattr(executor.dao, "parallel_claims", False):
        targets = targets_of(executor)

        async def claim(index: int) -> Attempt[T] | Outcome[T, R]:
            try:
                return await run_async(executor._claim_steps(parcels[index]), targets)
            except Exception as error:
                return error

        indexes = list(plan.first.values())
        claimed = await asyncio.gather(*map(claim, indexes))
        for index, outcome in zip(indexes, claimed, strict=True):
            if isinstance(outcome, Attempt):
                claims.attempts.append((index, outcome))
            else:
                claims.results[index] = outcome
    else:
        await asyncio.to_thread(claim_together, executor, parcels, plan, claims)
    claims.singles += plan.again
    return claims


async def aexecute_many_raw(
    executor: TaskExecutor[T, R],
    raws: Sequence[RawParcel],
    *,
    gate: asyncio.Semaphore,
    on_failure: OnFailure = OnFailure.PUSH_RETRY,
    keep_alive: Sequence[KeepAlive | None] | None = None,
    may_start: Callable[[], bool] = lambda: True,
) -> list[Outcome[T, R]]:
    """``executor.execute_many_raw(raws)``, awaited (see ``aexecute_many``)."""
    batch: Decoded[T, R] = Decoded(executor, raws, keep_alive)
    ran = await aexecute_many(
        executor,
        batch.parcels,
        gate=gate,
        on_failure=on_failure,
        keep_alive=batch.extends,
        may_start=may_start,
    )
    return batch.place(ran)
