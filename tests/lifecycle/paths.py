"""The two paths the lifecycle tests run on (issue 16): ``sync`` (the wrappers called in
place, sync logic) and ``async`` (the enqueue awaited with ``with_async_queue_lifecycle``,
the logic an ``async def`` awaited by ``aexecute``: what the worker's lane and the Lambda
handler run), each call on a fresh event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from simple_async_tasks import with_execute_lifecycle, with_queue_lifecycle
from simple_async_tasks.aio import close_clients, with_async_queue_lifecycle
from simple_async_tasks.lifecycle.async_execute import aexecute
from simple_async_tasks.parcel import TaskParcel

PATHS = ["sync", "async"]


def enqueuer(path: str, **options: Any) -> Callable[..., Any]:
    """``with_queue_lifecycle(**options)`` on ``path``."""
    if path == "sync":
        return with_queue_lifecycle(**options)
    enqueue = with_async_queue_lifecycle(**options)
    return lambda *args, **kwargs: asyncio.run(enqueue(*args, **kwargs))


def as_logic(path: str, fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn`` as the logic of ``path``: itself, or an ``async def`` calling it."""
    if path == "sync":
        return fn

    @functools.wraps(fn)
    async def logic(task: Any) -> Any:
        await asyncio.sleep(0)  # a real suspension: other attempts on the loop run here
        return fn(task)

    return logic


class Awaited:
    """An executor called like one (a parcel or a bare task), each call awaited on a
    fresh loop by ``aexecute``."""

    def __init__(self, executor: Any) -> None:
        self.executor = executor

    def __call__(self, item: Any, **options: Any) -> Any:
        async def call() -> Any:
            try:
                return await self.acall(item, **options)
            finally:
                await close_clients()  # aiobotocore's, on DynamoDB and SQS

        return asyncio.run(call())

    async def acall(self, item: Any, **options: Any) -> Any:
        parcel = item if isinstance(item, TaskParcel) else self.executor._bare(item)
        return await aexecute(self.executor, parcel, **options)


def executor(path: str, logic: Callable[[Any], Any], **options: Any) -> Any:
    """``with_execute_lifecycle(logic, **options)`` on ``path``."""
    built = with_execute_lifecycle(as_logic(path, logic), **options)
    return built if path == "sync" else Awaited(built)
