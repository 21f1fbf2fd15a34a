"""A local worker: polls a queue, runs the executors, settles messages as the Lambda handler does.

For people who run containers or a single machine instead of Lambda. Messages
come from a ``SqliteTaskQueue`` or from SQS (long polling); a message is
deleted when its delivery is done with (executed, skipped or put back) and
left for redelivery when it failed: made visible again when the task's
backoff ends, or after the visibility timeout when the failure has no
retry (a bad body, a backend error). SIGTERM and SIGINT stop it gracefully:
no new message is taken, the running tasks finish, the messages taken ahead
and not started are handed back, and ``run`` returns.

Messages are taken in batches: a worker holds up to ``concurrency`` running
and ``prefetch`` waiting for a free slot, and takes more when a whole batch
of slots is free. Deletes of finished messages are sent with the next take
(one transaction on SQLite, one ``DeleteMessageBatch`` per 10 on SQS): a
crash before then redelivers them, and their records make that a skip.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from ..backends.sqlite_queue import SqliteSource
from ..backends.sqs import SqsSource
from ..clock import Clock, system_clock
from ..contracts import Delivery, MessageSource
from ..lifecycle.execute import runs_on_loop
from ..lifecycle.options import OnFailure
from ..lifecycle.scheduler import Scheduler
from ..lifecycle.workers import Heartbeat, WorkerRegistry, new_worker_id
from ..routing import (
    ExecuteResultLike,
    Executors,
    RawExecutor,
    Router,
    backoff_of,
    failure_reason,
    flush_hooks,
    settle,
)

if TYPE_CHECKING:
    from ..lifecycle.execute import TaskExecutor
    from ..lifecycle.lease import KeepAlive
    from ..parcel import RawParcel
    from .lane import AsyncLane

Routed = tuple[RawExecutor, "RawParcel"]
"""A delivery's executor and its parsed parcel."""

__all__ = ["Delivery", "MessageSource", "SqliteSource", "SqsSource", "Worker", "WorkerSummary"]

logger = logging.getLogger("simple_async_tasks.worker")

FLUSH_EVERY = 60.0
"""Seconds between flushes of the hooks that buffer (``EmfMetrics``)."""


@attrs.define
class WorkerSummary:
    """What a worker did before it stopped."""

    delivered: int = 0
    succeeded: int = 0
    failed: int = 0
    scheduler_runs: int = 0
    scheduler_errors: int = 0
    """Scheduler runs that failed (logged; the next run tries again)."""
    poll_errors: int = 0
    """Polls of the queue that failed (logged; the worker waits and polls again)."""


class Worker:
    """Runs executors on messages from a source, ``concurrency`` tasks at a time."""

    def __init__(
        self,
        executors: Executors,
        source: MessageSource,
        *,
        concurrency: int = 4,
        scheduler: Scheduler | None = None,
        schedule_every: timedelta = timedelta(minutes=1),
        poll_wait: timedelta = timedelta(seconds=1),
        on_progress: Callable[[WorkerSummary], None] | None = None,
        clock: Clock = system_clock,
        prefetch: int | None = None,
        registry: WorkerRegistry | None = None,
        heartbeat_every: timedelta = timedelta(seconds=10),
        async_concurrency: int = 100,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if prefetch is not None and prefetch < 0:
            raise ValueError(f"prefetch must be 0 or more, got {prefetch}")
        self.prefetch = concurrency if prefetch is None else prefetch
        """Messages held waiting for a free slot, beyond the running ones (default: as many
        as ``concurrency``); 0 takes one message per free slot. Long tasks with several
        workers: 0, so that no message waits behind a long task while another worker idles."""
        self.router = Router(executors)
        self.source = source
        self.concurrency = concurrency
        self.scheduler = scheduler
        self.schedule_every = schedule_every
        self.poll_wait = poll_wait
        self.on_progress = on_progress
        self.clock = clock
        self.summary = WorkerSummary()
        self._stop = threading.Event()
        self._wake = threading.Event()
        """Set when a delivery finishes or the worker is stopped: the loop waits on it."""
        self._lock = threading.Lock()
        self.long_task_every: timedelta | None = timedelta(seconds=30)
        """Log (INFO) each task still running this often; None: never."""
        self._running: dict[str, list[Any]] = {}
        """Message id -> [started (monotonic), last reported, "TaskType uuid"]."""
        self._next_report = 0.0
        self.registry = registry
        """Where this worker's heartbeat is written (``workers list``); None: nowhere."""
        self.heartbeat_every = heartbeat_every
        self.worker_id = new_worker_id()
        self.async_concurrency = async_concurrency
        """Attempts of ``async def`` logic run at once on the worker's one event loop (its
        async lane), beside the ``concurrency`` threads of sync logic."""
        self._lane: AsyncLane | None = None
        self.queue_names: list[str] = []
        """The queues named in the heartbeat (``TaskApp.worker`` sets them)."""

    def _heartbeat(self) -> AbstractContextManager[object]:
        if self.registry is None:
            return nullcontext()
        return Heartbeat(
            self.registry,
            self.worker_id,
            running=self.running,
            every=self.heartbeat_every,
            queues=self.queue_names,
            concurrency=self.concurrency,
        )

    def running(self) -> list[str]:
        """What runs now: ``TaskType uuid`` each."""
        return [entry[2] for entry in list(self._running.values())]

    def stop(self) -> None:
        """Take no new message; ``run`` returns once the running tasks finish."""
        self._stop.set()
        self._wake.set()

    def _route(self, delivery: Delivery) -> Routed | None:
        """The delivery's executor and parsed parcel; None (logged) when it has none."""
        try:
            return self.router.route(delivery.body)
        except Exception as error:
            logger.warning("message %s failed: %s", delivery.message_id, failure_reason(error))
            return None

    def _begin(self, delivery: Delivery, routed: Routed) -> KeepAlive:
        """Note the attempt as running (for the heartbeat and the long-task lines); the
        keep-alive that extends its message's visibility at each lease renewal."""
        executor, raw = routed
        started = time.monotonic()
        name = f"{executor.task_type} {raw.task.get('uuid', '?')}"
        self._running[delivery.message_id] = [started, started, name]  # atomic: no lock
        return lambda lease: self.source.later(delivery, lease)

    def _deliver(self, delivery: Delivery, routed: Routed | None = None) -> None:
        routed = routed or self._route(delivery)
        outcome: ExecuteResultLike | Exception | None = None
        if routed is not None:
            keep_alive = self._begin(delivery, routed)
            try:
                outcome = routed[0].execute_raw(
                    routed[1], on_failure=OnFailure.LEAVE_MESSAGE, keep_alive=keep_alive
                )
            except Exception as error:
                outcome = error
        self._finish(delivery, routed, outcome)

    async def _adeliver(
        self, delivery: Delivery, routed: Routed, executor: TaskExecutor[Any, Any]
    ) -> None:
        """``_deliver`` on the async lane: the logic awaited on its loop (``aexecute_raw``)."""
        import asyncio

        from ..lifecycle.async_execute import aexecute_raw

        keep_alive = self._begin(delivery, routed)
        outcome: ExecuteResultLike | Exception
        try:
            outcome = await aexecute_raw(
                executor,
                routed[1],
                on_failure=OnFailure.LEAVE_MESSAGE,
                keep_alive=keep_alive,
            )
        except Exception as error:
            outcome = error
        await asyncio.to_thread(self._finish, delivery, routed, outcome)

    def _finish(
        self,
        delivery: Delivery,
        routed: Routed | None,
        outcome: ExecuteResultLike | Exception | None,
    ) -> None:
        """Settle the delivery's message (done, or back after its backoff) and count it."""
        ok = False
        try:
            if routed is not None and outcome is not None:
                ok = settle(delivery.message_id, routed[0], outcome, logger)
        except Exception as error:
            logger.warning("message %s failed: %s", delivery.message_id, failure_reason(error))
        finally:
            self._running.pop(delivery.message_id, None)
        try:
            if ok:
                self.source.done(delivery)
            else:
                delay = backoff_of(outcome, self.clock.now())
                if delay is not None:
                    self.source.later(delivery, delay)
        except Exception as error:
            # The message comes back after its visibility timeout; its task's record
            # decides then (a finished task is skipped).
            logger.warning(
                "message %s: could not settle it: %s", delivery.message_id, failure_reason(error)
            )
        with self._lock:
            self.summary.delivered += 1
            if ok:
                self.summary.succeeded += 1
            else:
                self.summary.failed += 1
        if self.on_progress is not None:
            self.on_progress(self.summary)

    def _run_scheduler(self, scheduler: Scheduler) -> None:
        try:
            scheduler.run_once(may_continue=lambda: not self._stop.is_set())
        except Exception as error:  # a backend hiccup must not stop the worker
            self.summary.scheduler_errors += 1
            logger.warning("scheduler run failed: %s", failure_reason(error))
        else:
            self.summary.scheduler_runs += 1

    def _take(self, free: int) -> list[Delivery]:
        try:
            return self.source.take(free, self.poll_wait)
        except Exception as error:  # keep polling, but not in a tight loop
            self.summary.poll_errors += 1
            logger.warning("polling the queue failed: %s: %s", type(error).__name__, error)
            self._stop.wait(max(self.poll_wait.total_seconds(), 1.0))
            return []

    def _wanted(self, held: int) -> int:
        """How many messages to take while ``held`` are running or waiting: none until a
        batch of slots (``min(concurrency, prefetch)``, at least 1) is free."""
        lane = self.async_concurrency if self._lane is not None else 0
        room = self.concurrency + lane + self.prefetch - held
        return room if room >= max(1, min(self.concurrency, self.prefetch)) else 0

    def _report_long_tasks(self) -> None:
        """Log the tasks that have run longer than ``long_task_every`` (once per period)."""
        every = self.long_task_every
        now = time.monotonic()
        if every is None or now < self._next_report:
            return
        self._next_report = now + 1.0  # looked at once a second, not on every loop
        running = list(self._running.values())  # one C call: safe while threads add and pop
        due = [entry for entry in running if now - entry[1] >= every.total_seconds()]
        for entry in due:
            entry[1] = now
        for started, _, name in due:
            logger.info("still running %s after %.0fs", name, now - started)

    def _wait_for_a_slot(self, next_schedule: float) -> None:
        """Sleep until a delivery finishes, the worker stops or the scheduler is due."""
        timeout = 1.0
        if self.scheduler is not None:
            timeout = min(timeout, max(next_schedule - time.monotonic(), 0.0))
        self._wake.wait(timeout)

    def _hand_back(self, held: dict[Future[None], Delivery]) -> None:
        """Stopping: give back the messages taken ahead and not started, visible at once."""
        lane = self._lane
        for future, delivery in held.items():
            # a lane attempt is cancelled only while it waits for its turn: a started one
            # runs to its end, as a running thread does
            if lane is not None and lane.owns(future):
                cancelled = lane.cancel_if_waiting(future)
            else:
                cancelled = future.cancel()
            if not cancelled:
                continue
            try:
                self.source.later(delivery, timedelta(0))
            except Exception as error:  # it comes back after its visibility timeout
                logger.warning(
                    "message %s: could not hand it back: %s",
                    delivery.message_id,
                    failure_reason(error),
                )

    def _open_lane(self) -> AsyncLane | None:
        """The async lane, when an executor runs ``async def`` logic (else no event loop)."""
        if not any(runs_on_loop(e) for e in self.router.by_type.values()):
            return None
        from .lane import AsyncLane

        return AsyncLane(self.async_concurrency)

    def _dispatch(self, pool: ThreadPoolExecutor, delivery: Delivery) -> Future[None]:
        """Run the delivery: async logic on the lane, everything else on the pool."""
        if self._lane is not None:
            routed = self._route(delivery)
            executor = routed[0] if routed is not None else None
            if routed is not None and runs_on_loop(executor):
                return self._lane.submit(lambda: self._adeliver(delivery, routed, executor))
            return pool.submit(self._deliver, delivery, routed)
        return pool.submit(self._deliver, delivery)

    def _close_lane(self, held: dict[Future[None], Delivery]) -> None:
        """Wait for the lane's running attempts, then stop its loop."""
        lane, self._lane = self._lane, None
        if lane is None:
            return
        wait(list(held))
        lane.close()

    def _wind_down(self, held: dict[Future[None], Delivery]) -> None:
        """After the loop: the lane's attempts finished, deletes sent, metrics flushed."""
        self._close_lane(held)
        self._flush()
        flush_hooks(self.router, logger)

    def _flush(self) -> None:
        try:
            self.source.flush()
        except Exception as error:  # redelivered later, and skipped: their tasks are done
            logger.warning("could not delete finished messages: %s", failure_reason(error))

    def run(
        self, *, handle_signals: bool = True, max_idle: timedelta | None = None
    ) -> WorkerSummary:
        """Work until stopped (SIGTERM, SIGINT, ``stop()``) or idle for ``max_idle``."""
        previous: dict[signal.Signals, Any] = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, lambda *_: self.stop())
        held: dict[Future[None], Delivery] = {}
        next_schedule = time.monotonic()
        idle_since = time.monotonic()
        next_flush = time.monotonic() + FLUSH_EVERY
        wake = lambda _: self._wake.set()  # noqa: E731
        beats = self._heartbeat()
        beats.__enter__()
        self._lane = self._open_lane()
        try:
            with ThreadPoolExecutor(self.concurrency) as pool:
                while not self._stop.is_set():
                    self._wake.clear()
                    self._report_long_tasks()
                    if time.monotonic() >= next_flush:
                        flush_hooks(self.router, logger)
                        next_flush = time.monotonic() + FLUSH_EVERY
                    if self.scheduler is not None and time.monotonic() >= next_schedule:
                        self._run_scheduler(self.scheduler)
                        next_schedule = time.monotonic() + self.schedule_every.total_seconds()
                    held = {f: d for f, d in held.items() if not f.done()}
                    wanted = self._wanted(len(held))
                    if not wanted:
                        self._wait_for_a_slot(next_schedule)
                        continue
                    deliveries = self._take(wanted)
                    if not deliveries:
                        if held:
                            idle_since = time.monotonic()
                        elif max_idle is not None and (
                            time.monotonic() - idle_since >= max_idle.total_seconds()
                        ):
                            break
                        self._stop.wait(min(self.poll_wait.total_seconds(), 0.2))
                        continue
                    idle_since = time.monotonic()
                    for delivery in deliveries:
                        future = self._dispatch(pool, delivery)
                        future.add_done_callback(wake)
                        held[future] = delivery
                self._hand_back(held)
                if any(not f.done() for f in held):
                    logger.info("stopping: waiting for the running task(s)")
            self._wind_down(held)
        finally:
            beats.__exit__(None, None, None)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        logger.info("worker stopped: %s", attrs.asdict(self.summary))
        return self.summary
