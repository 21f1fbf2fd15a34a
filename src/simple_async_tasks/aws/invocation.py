"""The event loop of one Lambda invocation: where the handler runs ``async def`` logic.

A batch's records of async task types run concurrently on one loop, at most ``limit``
attempts at once (one semaphore over the whole invocation), beside the sync ones, which
run on the handler's threads as before; the loop is made when the first async record
needs it and closed at the invocation's end, its leftover tasks cancelled (so nothing a
coroutine left behind runs on in a frozen Lambda). Imported only when a handler routes
to async logic: a sync function's cold start loads no event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from ..lifecycle.async_execute import aexecute_many_raw, aexecute_raw
from ..lifecycle.effects import close_loop_resources
from ..lifecycle.execute import runs_on_loop
from ..lifecycle.options import OnFailure
from ..parcel import RawParcel
from ..routing import ExecuteResultLike, RawExecutor

X = TypeVar("X")

logger = logging.getLogger("simple_async_tasks.lambda")

Outcomes = Sequence[ExecuteResultLike | Exception]

__all__ = ["InvocationLoop"]


class InvocationLoop:
    """One event loop for one invocation, with its concurrency limit."""

    def __init__(self, limit: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._gate = asyncio.Semaphore(limit)

    def _run(self, coroutine: Coroutine[Any, Any, X]) -> X:
        return self._loop.run_until_complete(coroutine)

    def run_one(self, executor: RawExecutor, raw: RawParcel) -> ExecuteResultLike:
        """One record (a FIFO batch's, in order), awaited on the loop."""
        if not runs_on_loop(executor):
            raise TypeError(f"{executor!r} does not run async def logic on a loop")
        return self._run(aexecute_raw(executor, raw, on_failure=OnFailure.LEAVE_MESSAGE))

    def run_groups(
        self,
        groups: Sequence[tuple[RawExecutor, Sequence[RawParcel]]],
        *,
        may_start: Callable[[], bool],
        max_workers: int,
    ) -> list[Outcomes | None]:
        """Every task type's records at once: async ones on the loop under the limit, sync
        ones on a thread (``execute_many_raw`` with ``max_workers``). A group is None when
        the time guard refused it before its claims."""
        return self._run(self._groups(groups, may_start, max_workers))

    async def _groups(
        self,
        groups: Sequence[tuple[RawExecutor, Sequence[RawParcel]]],
        may_start: Callable[[], bool],
        max_workers: int,
    ) -> list[Outcomes | None]:
        async def one(executor: RawExecutor, raws: Sequence[RawParcel]) -> Outcomes | None:
            if not may_start():
                return None
            if runs_on_loop(executor):
                return await aexecute_many_raw(
                    executor,
                    raws,
                    gate=self._gate,
                    on_failure=OnFailure.LEAVE_MESSAGE,
                    may_start=may_start,
                )
            return await asyncio.to_thread(
                executor.execute_many_raw,
                raws,
                on_failure=OnFailure.LEAVE_MESSAGE,
                max_workers=max_workers,
                may_start=may_start,
            )

        return list(await asyncio.gather(*(one(executor, raws) for executor, raws in groups)))

    def close(self) -> None:
        """Cancel what the invocation's coroutines left running, then close the loop."""
        loop = self._loop
        try:
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                logger.warning("cancelled %d coroutines left running by the invocation", len(left))
                loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            loop.run_until_complete(close_loop_resources())  # aiobotocore's clients
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()
