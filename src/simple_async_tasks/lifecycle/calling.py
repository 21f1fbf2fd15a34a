"""Calling the business logic, sync or ``async def``, with an optional hard time limit.

Async logic is awaited on an event loop of the thread that runs the attempt (made on the
thread's first async attempt and reused), so the execute lifecycle around it (claim,
lease renewal by the heartbeat thread, the final fenced write) is the one sync logic
gets. Its time limit cancels the coroutine, where a sync function's thread can only be
abandoned.
"""

from __future__ import annotations

import contextvars
import inspect
import threading
import weakref
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from ..errors import TaskDefinitionError, TimeLimitExceededError
from ..task import AsyncTask
from .lease import Lease

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")


def call_logic(
    logic: Callable[[T], R],
    task: T,
    lease: Lease,
    time_limit: timedelta | None,
    *,
    awaited: bool | None = None,
) -> R:
    """``logic(task)``, awaited when it is a coroutine; sync logic runs on its own thread
    when there is a ``time_limit``.

    Raises:
        TimeLimitExceededError: the logic ran past ``time_limit``; its lease is marked
            lost (a coroutine is cancelled; a thread, which Python cannot stop, is left to
            end on its own).
        TaskDefinitionError: async logic called from a thread whose event loop is running.

    ``awaited`` is ``is_async(logic)`` when the caller knows it (an executor works it out
    once); None asks here.
    """
    if awaited if awaited is not None else is_async(logic):
        value: R = _await(logic(task), lease, time_limit)
        return value
    result = logic(task) if time_limit is None else _with_limit(logic, task, lease, time_limit)
    if inspect.isawaitable(result):  # a plain function that returned a coroutine
        late: R = _await(result, lease, time_limit)
        return late
    return result


def is_async(logic: object) -> bool:
    """An ``async def`` function, or an object whose ``__call__`` is one."""
    call = getattr(logic, "__call__", None)  # noqa: B004 - an object with an async __call__
    return inspect.iscoroutinefunction(logic) or inspect.iscoroutinefunction(call)


async def await_logic(awaitable: Any, lease: Lease, time_limit: timedelta | None) -> Any:
    """Await the logic's coroutine; past ``time_limit`` it is cancelled, its lease marked
    lost, and ``TimeLimitExceededError`` raised."""
    import asyncio

    if time_limit is None:
        return await awaitable
    try:
        return await asyncio.wait_for(awaitable, time_limit.total_seconds())
    except (asyncio.TimeoutError, TimeoutError):
        lease.lose(f"it ran past its time limit of {time_limit}")
        raise TimeLimitExceededError(
            f"{lease.task_type} {lease.task_uuid} ran past its time limit of "
            f"{time_limit}; it was cancelled, and the attempt is recorded FAILED"
        ) from None


def _await(awaitable: Any, lease: Lease, time_limit: timedelta | None) -> Any:
    import asyncio  # only for async logic: a sync app never loads an event loop

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        # the thread's own loop, kept for its next attempts (the worker's and the handler's
        # threads run many); the task it runs copies the context: current_lease() works
        return _thread_loop(asyncio).run_until_complete(await_logic(awaitable, lease, time_limit))
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()
    raise TaskDefinitionError(
        f"the logic of {lease.task_type} is async and was run from a thread whose event "
        "loop is running; run the executor from a worker thread (asyncio.to_thread)"
    )


_loops = threading.local()


def _thread_loop(asyncio: Any) -> Any:
    """This thread's event loop for async logic, made on its first async attempt and
    closed when the thread object goes."""
    loop = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loops.loop = asyncio.new_event_loop()
        weakref.finalize(threading.current_thread(), loop.close)
    return loop


def _with_limit(logic: Callable[[T], R], task: T, lease: Lease, limit: timedelta) -> R:
    outcome: list[R] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(logic(task))
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(
        target=contextvars.copy_context().run,  # current_lease() works on the thread
        args=(target,),
        name=f"{lease.task_type}-attempt",
        daemon=True,
    )
    thread.start()
    thread.join(limit.total_seconds())
    if thread.is_alive():
        lease.lose(f"it ran past its time limit of {limit}")
        raise TimeLimitExceededError(
            f"{lease.task_type} {lease.task_uuid} ran past its time limit of {limit}; the "
            "attempt is recorded FAILED and its late writes are refused"
        )
    if failure:
        raise failure[0]
    return outcome[0]
