"""The worker's async lane: one event loop on a thread of its own, running the attempts of
``async def`` logic, at most ``limit`` at once (a semaphore), beside the thread pool that
runs sync logic. An attempt waiting for its turn has not started: a stopping worker
cancels it and hands its message back; a started one runs to its end."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["AsyncLane"]


class AsyncLane:
    """An event loop thread that runs coroutines, ``limit`` at a time."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"async_concurrency must be at least 1, got {limit}")
        self.limit = limit
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="async-lane", daemon=True
        )
        self._thread.start()
        self._gate = asyncio.run_coroutine_threadsafe(self._make_gate(), self.loop).result()
        self._started: dict[Future[Any], threading.Event] = {}
        self._lock = threading.Lock()

    async def _make_gate(self) -> asyncio.Semaphore:
        return asyncio.Semaphore(self.limit)  # made on the loop it guards

    def submit(self, make: Callable[[], Awaitable[None]]) -> Future[None]:
        """Run ``make()`` on the loop once a place is free."""
        started = threading.Event()

        async def gated() -> None:
            async with self._gate:
                started.set()
                await make()

        future: Future[None] = asyncio.run_coroutine_threadsafe(gated(), self.loop)
        with self._lock:
            self._started[future] = started
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._started.pop(future, None)

    def owns(self, future: Future[Any]) -> bool:
        """Whether ``future`` is an attempt of this lane not finished yet."""
        with self._lock:
            return future in self._started

    def cancel_if_waiting(self, future: Future[Any]) -> bool:
        """Cancel ``future`` if its attempt has not started; whether it was cancelled."""
        with self._lock:
            started = self._started.get(future)
        if started is None or started.is_set():
            return False
        return future.cancel()

    def close(self) -> None:
        """Stop the loop once its work is done (call after waiting for the futures); the
        native async clients it opened are closed first."""
        from ..lifecycle.effects import close_loop_resources

        asyncio.run_coroutine_threadsafe(close_loop_resources(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
