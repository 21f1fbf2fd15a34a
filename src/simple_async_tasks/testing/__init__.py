"""Helpers for tests: a clock you move by hand, and ``drain`` to run a queue dry."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import cast

import attrs

from ..app import TaskApp
from ..backends.memory import InMemoryTaskQueue
from ..contracts import QueuedMessage
from ..errors import ConfigurationError
from ..routing import ExecuteResultLike, Executors, Router

__all__ = ["DrainFailure", "DrainReport", "FakeClock", "adrain", "drain"]


class FakeClock:
    """A clock that moves only when told to. Thread-safe.

    Starts at 2026-01-01T00:00:00Z unless given ``start`` (timezone-aware).
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        if start.tzinfo is None:
            raise ValueError("FakeClock start must be timezone-aware (tzinfo=timezone.utc)")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        """Move forward by ``delta`` (a timedelta or seconds); return the new time."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError(f"a clock does not go back: advance({delta!r})")
        with self._lock:
            self._now += step
            return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (not earlier than now)."""
        with self._lock:
            if moment < self._now:
                raise ValueError(f"a clock does not go back: {moment} < {self._now}")
            self._now = moment


@attrs.frozen
class DrainFailure:
    """A message whose delivery raised."""

    message: QueuedMessage
    error: Exception


@attrs.define
class DrainReport:
    """What ``drain`` did."""

    results: list[ExecuteResultLike] = attrs.field(factory=list)
    failures: list[DrainFailure] = attrs.field(factory=list)

    @property
    def delivered(self) -> int:
        return len(self.results) + len(self.failures)


def drain(
    queue: InMemoryTaskQueue | TaskApp,
    executors: Executors | None = None,
    *,
    advance_clock: bool = True,
    max_deliveries: int = 1_000_000,
    raise_errors: bool = False,
) -> DrainReport:
    """Deliver every message of ``queue`` to its executor until the queue is empty.

    Pass a ``TaskApp`` bound to ``memory://`` instead of a queue to drain its
    queues through its executors, in priority order (``queue_names()``). Messages
    pushed while draining (retries, next steps) are delivered too.
    When only delayed messages are left and the queue's clock is a
    ``FakeClock``, the clock is moved to the next one (``advance_clock``).
    A delivery that raises is recorded in ``failures`` (its message is
    dropped, as a dead-letter queue would take it) unless ``raise_errors``.

    Raises:
        RuntimeError: more than ``max_deliveries`` deliveries (an endless loop).
        ConfigurationError: an app whose queue is not in memory.
    """
    queues: list[InMemoryTaskQueue]
    if isinstance(queue, TaskApp):
        app = queue
        found = [app.backend.named_queue(name) for name in app.queue_names() or ["default"]]
        if not all(isinstance(q, InMemoryTaskQueue) for q in found):
            raise ConfigurationError(
                f"drain runs in-memory queues, and this app uses {app.backend!r}: call "
                "app.use('memory://') first, or run a worker (simple-async-tasks worker)"
            )
        queues = cast("list[InMemoryTaskQueue]", found)
        executors = app.executors() if executors is None else executors
    elif executors is None:
        raise TypeError("drain(queue, executors): give the executors of the queue's tasks")
    else:
        queues = [queue]
    router = Router(executors)
    report = DrainReport()
    clock = queues[0].clock
    while True:
        if len(queues) == 1:
            batch = queues[0].receive(1)
        else:  # by priority: the first queue that has a message
            batch = next((b for b in (q.receive(1) for q in queues) if b), [])
        if not batch:
            times = [t for t in (q.next_visible_at() for q in queues) if t is not None]
            if not times or not advance_clock or not isinstance(clock, FakeClock):
                return report
            clock.set(max(min(times), clock.now()))
            continue
        if report.delivered >= max_deliveries:
            raise RuntimeError(
                f"drain delivered {max_deliveries} messages and the queue is not empty; "
                "a task is probably requeueing itself forever"
            )
        message = batch[0]
        try:
            executor, raw = router.route(message.body)
            report.results.append(executor.execute_raw(raw))
        except Exception as error:
            if raise_errors:
                raise
            report.failures.append(DrainFailure(message, error))


async def adrain(
    queue: InMemoryTaskQueue | TaskApp,
    executors: Executors | None = None,
    *,
    advance_clock: bool = True,
    max_deliveries: int = 1_000_000,
    raise_errors: bool = False,
) -> DrainReport:
    """``drain``, awaited from a coroutine (an async test): the deliveries run on a worker
    thread, so the event loop stays free and ``async def`` logic, which the executor
    awaits on a loop of its own, can run. Same arguments, same report::

        @pytest.mark.anyio
        async def test_receipt_is_sent():
            await send_receipt.aenqueue(order_id="o-1", email="a@x")
            assert (await adrain(app)).delivered == 1
    """
    import asyncio  # only for async tests: a sync program never loads an event loop

    return await asyncio.to_thread(
        drain,
        queue,
        executors,
        advance_clock=advance_clock,
        max_deliveries=max_deliveries,
        raise_errors=raise_errors,
    )
