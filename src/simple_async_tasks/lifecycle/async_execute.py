"""The execute lifecycle awaited: many attempts of ``async def`` logic on one event loop,
each the steps of the sync lifecycle (``TaskExecutor.claim``, ``_run_steps``) with the
logic awaited on the loop and every backend write run on a worker thread.

What the worker's async lane runs (``worker``); the decisions stay in one place: the
same claim, the same lost-claim rules, the same outcome writes, fenced by the same lease.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from ..parcel import RawParcel, structure_parcel
from ..task import AsyncTask
from .calling import await_logic
from .effects import OnThread, run_async
from .execute import TaskExecutor
from .lease import KeepAlive, Lease
from .options import OnFailure
from .results import ExecuteResult

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")

__all__ = ["aexecute_raw"]


class _Awaited:
    """The logic of an executor, awaited on the running loop (a sync logic on a thread)."""

    __slots__ = ("_executor",)

    def __init__(self, executor: TaskExecutor[Any, Any]) -> None:
        self._executor = executor

    async def call(self, task: Any, lease: Lease) -> Any:
        executor = self._executor
        if not executor._async:
            return await asyncio.to_thread(executor.call, task, lease)
        return await await_logic(executor.logic(task), lease, executor.options.time_limit)


async def aexecute_raw(
    executor: TaskExecutor[T, R],
    raw: RawParcel,
    *,
    on_failure: OnFailure = OnFailure.PUSH_RETRY,
    keep_alive: KeepAlive | None = None,
) -> ExecuteResult[T, R]:
    """``executor.execute_raw(raw)``, awaited: the claim and the outcome's writes on a
    worker thread, the logic on this loop.

    Raises:
        As ``TaskExecutor.execute_raw``.
    """
    parcel = structure_parcel(raw, executor.spec.cls, executor.converter)
    claimed = await asyncio.to_thread(executor.claim, parcel)
    if isinstance(claimed, ExecuteResult):
        return claimed
    targets = {"logic": _Awaited(executor), "io": OnThread(executor)}
    result: ExecuteResult[T, R] = await run_async(
        executor._run_steps(claimed, on_failure, keep_alive), targets
    )
    return result
