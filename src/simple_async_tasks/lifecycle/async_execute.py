"""The execute lifecycle awaited: many attempts of ``async def`` logic on one event loop,
each the steps of the sync lifecycle (``TaskExecutor.claim``, ``_run_steps``, a batch's
``claim_batch``) with the logic awaited on the loop and every backend write run on a
worker thread.

What the worker's async lane and the Lambda handler run; the decisions stay in one
place: the same claims, the same lost-claim rules, the same outcome writes, fenced by the
same lease.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..errors import NotStartedError
from ..parcel import RawParcel, TaskParcel, structure_parcel
from ..task import AsyncTask
from .batch import Claims, Decoded, Outcome, claim_batch, parts, put_back
from .calling import await_logic
from .decisions import Attempt
from .effects import OnThread, run_async
from .execute import TaskExecutor
from .lease import KeepAlive, Lease
from .options import OnFailure
from .results import ExecuteResult

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")

__all__ = ["aexecute", "aexecute_many", "aexecute_many_raw", "aexecute_raw"]


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


async def _arun(
    executor: TaskExecutor[T, R],
    attempt: Attempt[T],
    on_failure: OnFailure,
    keep_alive: KeepAlive | None,
) -> ExecuteResult[T, R]:
    """``executor.run(attempt)``, awaited."""
    targets = {"logic": _Awaited(executor), "io": OnThread(executor)}
    result: ExecuteResult[T, R] = await run_async(
        executor._run_steps(attempt, on_failure, keep_alive), targets
    )
    return result


async def aexecute(
    executor: TaskExecutor[T, R],
    parcel: TaskParcel[T],
    *,
    on_failure: OnFailure = OnFailure.PUSH_RETRY,
    keep_alive: KeepAlive | None = None,
) -> ExecuteResult[T, R]:
    """``executor(parcel)``, awaited: the claim and the outcome's writes on a worker
    thread, the logic on this loop.

    Raises:
        As ``TaskExecutor.__call__``.
    """
    claimed = await asyncio.to_thread(executor.claim, parcel)
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
    """``lifecycle.batch.execute_many``, awaited: the same claims (on a worker thread),
    then the attempts run concurrently on this loop, as many at once as ``gate`` lets
    (one gate can bound several batches); results in the order of ``parcels``.

    ``may_start`` is asked as each attempt gets its place: a claimed task it refuses is
    put back to QUEUED and its result is a ``NotStartedError``.
    """
    alive = list(keep_alive) if keep_alive is not None else [None] * len(parcels)
    out: list[Outcome[T, R]] = []
    for part in parts(executor, len(parcels)):
        claims: Claims[T, R] = await asyncio.to_thread(claim_batch, executor, parcels[part])
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
                    return await asyncio.to_thread(put_back, executor, attempt)
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
