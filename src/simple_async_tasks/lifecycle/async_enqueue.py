"""``with_async_queue_lifecycle``: the enqueue lifecycle awaited from a coroutine, without
blocking the event loop, on the same decisions as the sync one (``Enqueuer.enqueue_steps``).

How the I/O runs depends on the backend:

- in memory, the steps are driven by the async driver (``effects.run_async``) on the
  DAO and queue made awaitable in place: their calls never block;
- on a backend whose client blocks (SQLite, boto3 for DynamoDB and SQS), the whole sync
  enqueue runs on a worker thread (``asyncio.to_thread``, which carries the context:
  trace spans follow), so the loop serves other coroutines while it waits. A SQLite
  enqueue keeps its single transaction over the record and the message.
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
from .effects import Inline, run_async
from .enqueue import Enqueuer, OnMismatch
from .hooks import TaskHooks

P = ParamSpec("P")
T = TypeVar("T", bound=AsyncTask)

__all__ = ["AsyncEnqueuer", "with_async_queue_lifecycle"]


def _never_blocks(backend: object) -> bool:
    """Whether the backend says its calls never wait on I/O (``never_blocks = True``: the
    in-memory DAO and queue); anything else is run on a worker thread."""
    return getattr(backend, "never_blocks", False) is True


class AsyncEnqueuer(Generic[T]):
    """An ``Enqueuer`` awaited: ``await AsyncEnqueuer(enqueuer).enqueue(task)``."""

    def __init__(self, enqueuer: Enqueuer[T]) -> None:
        self.enqueuer = enqueuer
        self.targets: Mapping[str, Any] | None = None
        """Awaitable DAO and queue for the async driver; None: run on a worker thread."""
        if _never_blocks(enqueuer.dao) and _never_blocks(enqueuer.queue):
            self.targets = {"dao": Inline(enqueuer.dao), "queue": Inline(enqueuer.queue)}

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
