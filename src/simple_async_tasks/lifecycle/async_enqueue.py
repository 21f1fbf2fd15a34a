"""``with_async_queue_lifecycle``: the enqueue lifecycle awaited from a coroutine, without
blocking the event loop, on the same decisions as the sync one (``Enqueuer.enqueue_steps``).

How the I/O runs depends on the backend:

- in memory, the steps are driven by the async driver (``effects.run_async``) on the
  DAO and queue made awaitable in place: their calls never block;
- a backend with a native async twin (``backend.aio()``: DynamoDB and SQS on aiobotocore,
  with the ``aws-async`` extra) is awaited by the same driver, no thread involved;
- on a backend whose client blocks and has no twin (SQLite; DynamoDB and SQS without
  the extra), the whole sync enqueue runs on a worker thread (``asyncio.to_thread``,
  which carries the context: trace spans follow), so the loop serves other coroutines
  while it waits. A SQLite enqueue keeps its single transaction over the record and
  the message.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

import cattrs

from ..clock import Clock, system_clock
from ..contracts import TaskDao, TaskQueue
from ..serialization import default_converter
from ..task import AsyncTask
from .effects import awaitable, native, never_blocks, run_async
from .enqueue import Enqueuer, OnMismatch
from .hooks import TaskHooks

P = ParamSpec("P")
T = TypeVar("T", bound=AsyncTask)

__all__ = ["AsyncEnqueuer", "with_async_queue_lifecycle"]


class AsyncEnqueuer(Generic[T]):
    """An ``Enqueuer`` awaited: ``await AsyncEnqueuer(enqueuer).enqueue(task)``."""

    def __init__(self, enqueuer: Enqueuer[T]) -> None:
        self.enqueuer = enqueuer
        self.targets: Mapping[str, Any] | None = None
        """Awaitable DAO and queue for the async driver; None: run on a worker thread."""
        dao, queue = enqueuer.dao, enqueuer.queue
        twins = (native(dao), native(queue))
        if (never_blocks(dao) and never_blocks(queue)) or twins != (None, None):
            # one twin is enough to go native; a blocking partner runs its calls on a thread
            self.targets = {"dao": awaitable(dao, twins[0]), "queue": awaitable(queue, twins[1])}

    async def enqueue(self, candidate: T) -> T:
        """As ``Enqueuer.enqueue``, awaited."""
        enqueuer = self.enqueuer
        if self.targets is None:
            return await asyncio.to_thread(enqueuer.enqueue, candidate)
        meta = enqueuer.meta()
        fresh, delay = enqueuer.prepare(candidate, meta)
        stored, event = await run_async(enqueuer.enqueue_steps(fresh, meta, delay), self.targets)
        if event is not None:
            enqueuer.hooks.enqueued(event)
        return stored


def with_async_queue_lifecycle(
    *,
    get_new: Callable[P, T],
    dao: TaskDao[T],
    queue: TaskQueue[T],
    clock: Clock = system_clock,
    converter: cattrs.Converter = default_converter,
    on_mismatch: OnMismatch = "warn",
    hooks: Sequence[TaskHooks] = (),
) -> Callable[P, Awaitable[T]]:
    """``with_queue_lifecycle`` for coroutines: the wrapped ``get_new`` returns an awaitable
    of the stored task, and the event loop is never blocked by the backend.

    The same rules, checks and errors as ``with_queue_lifecycle`` (the same code decides:
    ``Enqueuer.enqueue_steps``).
    """
    enqueuer = AsyncEnqueuer(
        Enqueuer.of(
            dao, queue, clock=clock, converter=converter, on_mismatch=on_mismatch, hooks=hooks
        )
    )

    @functools.wraps(get_new)
    async def enqueue(*args: P.args, **kwargs: P.kwargs) -> T:
        return await enqueuer.enqueue(get_new(*args, **kwargs))

    return enqueue
