"""In-memory backends: first-class, thread-safe, for tests and single-process use."""

from __future__ import annotations

import heapq
import itertools
import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Literal, TypeVar

import cattrs

from .._limits import MAX_BODY_BYTES
from ..clock import Clock, system_clock
from ..contracts import MutexLock, Page, QueueDepth, QueuedMessage
from ..serialization import default_converter
from ..task import AsyncTask, AsyncTaskStatus
from ._local_queue import LocalQueue
from ._locked_dao import LockedDao
from ._records import TOMBSTONE_RETENTION, order_key, split_cursor

T = TypeVar("T", bound=AsyncTask)


class InMemoryTaskDao(LockedDao[T, None]):
    """Holds the tasks of one class in a dict, guarded by one lock.

    Conditions are checked and writes applied under the lock, so each write
    is atomic exactly like a conditional write on a database.
    """

    never_blocks = True
    """Its calls wait on no I/O: the async lifecycles call it in the event loop."""

    def __init__(
        self,
        task_class: type[T],
        *,
        clock: Clock = system_clock,
        converter: cattrs.Converter = default_converter,
    ) -> None:
        super().__init__(task_class, clock, converter)
        self._lock = threading.Lock()
        self._tasks: dict[str, T] = {}
        self._by_status: dict[AsyncTaskStatus, dict[str, None]] = {s: {} for s in AsyncTaskStatus}
        self._mutexes: dict[str, MutexLock] = {}
        self._tombstones: dict[str, datetime] = {}
        """Deleted keys, oldest first (a key deleted again moves to the end)."""

    def __len__(self) -> int:
        return len(self._tasks)

    def all(self) -> list[T]:
        """Every stored task (a snapshot), for tests and inspection."""
        with self._lock:
            return list(self._tasks.values())

    def mutex_holder(self, mutex_key: str) -> MutexLock | None:
        """The lock stored for ``mutex_key`` (expired or not), or None."""
        with self._lock:
            return self._mutexes.get(mutex_key)

    def mutex_locks(self) -> list[MutexLock]:
        """The stored locks of this task type's mutex keys (expired ones included)."""
        prefix = f"{self._spec.task_type}#"
        with self._lock:
            return sorted(
                (lock for key, lock in self._mutexes.items() if key.startswith(prefix)),
                key=lambda lock: lock.key,
            )

    def break_mutex(self, mutex_key: str) -> MutexLock | None:
        """Remove the lock of ``mutex_key`` whoever holds it; return it (None if none)."""
        with self._lock:
            return self._mutexes.pop(mutex_key, None)

    def get(self, unique_key: str) -> T | None:
        return self._tasks.get(unique_key)

    def get_many(self, unique_keys: Sequence[str]) -> dict[str, T]:
        with self._lock:
            return {k: self._tasks[k] for k in unique_keys if k in self._tasks}

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        with self._lock:
            yield None

    def _read(self, session: None, unique_key: str) -> T | None:
        return self._tasks.get(unique_key)

    def _write(self, session: None, unique_key: str, old: T | None, new: T) -> None:
        if old is not None and old.status is not new.status:
            del self._by_status[old.status][unique_key]
        self._by_status[new.status][unique_key] = None
        self._tasks[unique_key] = new

    def _remove(self, session: None, unique_key: str, old: T) -> None:
        del self._by_status[old.status][unique_key]
        del self._tasks[unique_key]

    def _bury(self, session: None, unique_key: str, at: datetime) -> None:
        self._tombstones.pop(unique_key, None)
        self._tombstones[unique_key] = at
        oldest = at - TOMBSTONE_RETENTION
        while (first := next(iter(self._tombstones.items()))) and first[1] < oldest:
            del self._tombstones[first[0]]

    def _tombstone(self, session: None, unique_key: str) -> datetime | None:
        return self._tombstones.get(unique_key)

    def _lock_of(self, session: None, mutex_key: str) -> MutexLock | None:
        return self._mutexes.get(mutex_key)

    def _hold(self, session: None, lock: MutexLock) -> None:
        self._mutexes[lock.key] = lock

    def _release(self, session: None, lock: MutexLock) -> None:
        held = self._mutexes.get(lock.key)
        if held is not None and held.owner == lock.owner:
            del self._mutexes[lock.key]

    def count_by_status(self, status: AsyncTaskStatus) -> int:
        with self._lock:
            return len(self._by_status[status])

    def find_by_status(
        self, status: AsyncTaskStatus, *, limit: int = 100, cursor: str | None = None
    ) -> Page[T]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        with self._lock:
            rows = sorted(
                (order_key(t), k, t)
                for k, t in ((k, self._tasks[k]) for k in self._by_status[status])
            )
        if cursor is not None:
            after = split_cursor(cursor)
            rows = [r for r in rows if (r[0], r[1]) > after]
        page = rows[:limit]
        more = len(rows) > limit
        next_cursor = f"{page[-1][0]}|{page[-1][1]}" if more and page else None
        return Page(items=[r[2] for r in page], cursor=next_cursor)


class InMemoryTaskQueue(LocalQueue):
    """A thread-safe queue of JSON message bodies, FIFO or LIFO, with delays.

    Parcels are stored encoded, exactly as they would travel on SQS, so the
    wire format is exercised in every test. Delays are honoured against the
    injected clock: advance a ``FakeClock`` to make delayed messages visible.
    """

    queue_type = "MEMORY"
    never_blocks = True
    """Its calls wait on no I/O: the async lifecycles call it in the event loop."""

    def __init__(
        self,
        *,
        name: str = "memory",
        order: Literal["FIFO", "LIFO"] = "FIFO",
        clock: Clock = system_clock,
        converter: cattrs.Converter = default_converter,
        max_delay: timedelta = timedelta(minutes=15),
        max_body_bytes: int = MAX_BODY_BYTES,
        keep_history: bool = False,
    ) -> None:
        if order not in ("FIFO", "LIFO"):
            raise ValueError(f"order must be 'FIFO' or 'LIFO', got {order!r}")
        self.order = order
        self._url = f"memory://{name}"
        self._clock = clock
        self._converter = converter
        self._max_delay = max_delay
        self._max_body_bytes = max_body_bytes
        self._lock = threading.Lock()
        self._ready: deque[QueuedMessage] = deque()
        self._delayed: list[tuple[datetime, int, QueuedMessage]] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(6).hex()
        self.history: list[QueuedMessage] | None = [] if keep_history else None
        """Every message ever pushed, in order, with ``keep_history=True`` (for tests that
        assert on delays and requeues); None by default, so that a long-running app does
        not keep every message it ever sent."""

    @property
    def clock(self) -> Clock:
        return self._clock

    def push_bodies(self, bodies: Sequence[str], *, delay: timedelta = timedelta(0)) -> None:
        for body in bodies:
            self.push_body(body, delay=delay)

    def push_body(self, body: str, *, delay: timedelta = timedelta(0)) -> None:
        """Put a raw message body on the queue (tests use it to send malformed input)."""
        now = self._clock.now()
        message = QueuedMessage(f"{self._id_prefix}-{next(self._ids)}", body, now + delay, delay)
        with self._lock:
            if self.history is not None:
                self.history.append(message)
            if delay > timedelta(0):
                heapq.heappush(self._delayed, (message.visible_at, next(self._seq), message))
            else:
                self._ready.append(message)

    def _promote(self, now: datetime) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            self._ready.append(heapq.heappop(self._delayed)[2])

    def receive(self, max_messages: int = 1) -> list[QueuedMessage]:
        """Take up to ``max_messages`` visible messages off the queue."""
        with self._lock:
            self._promote(self._clock.now())
            pop = self._ready.popleft if self.order == "FIFO" else self._ready.pop
            return [pop() for _ in range(min(max_messages, len(self._ready)))]

    def next_visible_at(self) -> datetime | None:
        """When the next delayed message becomes visible, or None if none is delayed."""
        with self._lock:
            return self._delayed[0][0] if self._delayed else None

    def visible_count(self) -> int:
        """How many messages could be received now."""
        with self._lock:
            self._promote(self._clock.now())
            return len(self._ready)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ready) + len(self._delayed)

    def purge(self) -> int:
        """Drop every message (visible and delayed); return how many."""
        with self._lock:
            dropped = len(self._ready) + len(self._delayed)
            self._ready.clear()
            self._delayed.clear()
            return dropped

    def depth(self) -> QueueDepth:
        """Exact: a received message leaves this queue, so none is ever in flight."""
        with self._lock:
            self._promote(self._clock.now())
            return QueueDepth(visible=len(self._ready), in_flight=0, delayed=len(self._delayed))
