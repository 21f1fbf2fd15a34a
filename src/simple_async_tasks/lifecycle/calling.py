"""Calling the business logic: synchronous logic only, and an optional hard time limit."""

from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from ..errors import TaskDefinitionError, TimeLimitExceededError
from ..task import AsyncTask
from .lease import Lease

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")

_SYNC_ONLY = (
    "executors run synchronous logic only: wrap it, e.g. `lambda task: asyncio.run(logic(task))`"
)


def refuse_async(logic: object, task_type: str) -> None:
    """Raise ``TaskDefinitionError`` if ``logic`` is an async function: its coroutine would
    never be awaited, and the task recorded FULFILLED without running."""
    call = getattr(logic, "__call__", None)  # noqa: B004 - an object with an async __call__
    if inspect.iscoroutinefunction(logic) or inspect.iscoroutinefunction(call):
        raise TaskDefinitionError(f"the logic of {task_type} is an async function; {_SYNC_ONLY}")


def call_logic(logic: Callable[[T], R], task: T, lease: Lease, time_limit: timedelta | None) -> R:
    """``logic(task)``, on its own thread when there is a ``time_limit``.

    Raises:
        TimeLimitExceededError: the logic ran past ``time_limit``; its lease is marked
            lost and its thread, which Python cannot stop, is left to end on its own.
        TaskDefinitionError: the logic returned an awaitable (it is closed unawaited).
    """
    result = logic(task) if time_limit is None else _with_limit(logic, task, lease, time_limit)
    if inspect.isawaitable(result):
        close = getattr(result, "close", None)
        if callable(close):
            close()
        raise TaskDefinitionError(
            f"the logic of {lease.task_type} returned an awaitable; {_SYNC_ONLY}"
        )
    return result


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
