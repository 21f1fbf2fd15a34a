"""Leases: what keeps a slow but alive attempt from being taken over.

A claim gives the attempt a lease (``lease_id``, ``lease_until`` on the record).
While the logic runs, one process-wide heartbeat thread renews every running
attempt's lease each ``lease / 3`` with a fenced conditional write (still
ATTEMPTED, still this ``lease_id``) and lets the caller extend its message's
visibility. A renewal refused because another attempt took over marks the
lease lost: the logic learns it from ``current_lease().check()`` or
``.renew()`` (``LeaseLostError``), and every later write of the attempt is
refused by the same fence.

Tasks shorter than ``lease / 3`` are never renewed: watching one costs a dict
insert and delete under a lock.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from ..errors import ConditionFailedError, LeaseLostError, SimpleAsyncTasksError

logger = logging.getLogger("simple_async_tasks.lease")

KeepAlive = Callable[[timedelta], None]
"""Called after each renewal with the lease's length: extend the message's visibility."""


class Lease:
    """The lease of one running attempt; ``current_lease()`` returns it inside the logic."""

    def __init__(
        self,
        *,
        task_type: str,
        task_uuid: str,
        lease_id: str,
        until: datetime,
        length: timedelta,
        renew: Callable[[], datetime],
        keep_alive: KeepAlive | None = None,
    ) -> None:
        self.task_type = task_type
        self.task_uuid = task_uuid
        self.lease_id = lease_id
        self.length = length
        self._until = until
        self._renew = renew
        self._keep_alive = keep_alive
        self._lost: str | None = None
        self._closed = False
        self._lock = threading.Lock()

    @property
    def renew_every(self) -> timedelta:
        """How often the heartbeat renews the lease: a third of its length."""
        return self.length / 3

    def close(self) -> None:
        """The attempt ended (the executor, before recording it): a renewal refused from
        now on is the attempt's own final write, not a takeover."""
        self._closed = True

    @property
    def until(self) -> datetime:
        """When the lease ends unless renewed (UTC)."""
        return self._until

    @property
    def lost(self) -> bool:
        """Whether another attempt may have taken the task over (stop working on it)."""
        return self._lost is not None

    def lose(self, reason: str) -> None:
        """Mark the lease lost (the executor does this; the logic reads ``lost``)."""
        with self._lock:
            if self._lost is None:
                self._lost = reason

    def check(self) -> None:
        """Raise ``LeaseLostError`` if the lease was lost; call it between steps of a long loop.

        Raises:
            LeaseLostError: another attempt took over; stop, nothing more will be recorded.
        """
        if self._lost is not None:
            raise self._lost_error()

    def _lost_error(self) -> LeaseLostError:
        return LeaseLostError(
            f"the lease of {self.task_type} {self.task_uuid} was lost ({self._lost}); "
            "another attempt may be running it: stop, this attempt's writes are refused"
        )

    def renew(self) -> None:
        """Renew the lease now (the heartbeat also does it every ``length / 3``).

        Raises:
            LeaseLostError: the task was taken over, or the attempt is over.
        """
        self.check()
        try:
            until = self._renew()
        except ConditionFailedError as refused:
            self.lose("a renewal was refused: the task was taken over or changed")
            raise self._lost_error() from refused
        with self._lock:
            self._until = max(self._until, until)
        if self._keep_alive is not None:
            self._keep_alive(self.length)

    def beat(self) -> None:
        """One renewal by the heartbeat: errors are logged, a lost lease stops the watch.

        A renewal racing the attempt's final write is refused once the task is finished;
        after ``close`` that is expected and nothing is reported.
        """
        if self._closed:
            return
        try:
            self.renew()
        except LeaseLostError as lost:
            heartbeats.forget(self)
            if not self._closed:
                logger.warning("%s", lost)
        except Exception as error:  # a backend hiccup: try again at the next beat
            if self._closed:
                return
            shown = error if isinstance(error, SimpleAsyncTasksError) else type(error).__name__
            logger.warning(
                "could not renew the lease of %s %s: %s; trying again in %.0fs",
                self.task_type,
                self.task_uuid,
                shown,
                self.renew_every.total_seconds(),
            )


_current: contextvars.ContextVar[Lease] = contextvars.ContextVar("simple_async_tasks_lease")


def current_lease() -> Lease:
    """The lease of the attempt whose logic is running in this context.

    Raises:
        LookupError: called outside a task's logic.
    """
    try:
        return _current.get()
    except LookupError:
        raise LookupError(
            "current_lease() is only available inside a task's logic, while an executor runs it"
        ) from None


def enter(lease: Lease) -> contextvars.Token[Lease]:
    """Make ``lease`` the current one (the executor, around the logic)."""
    return _current.set(lease)


def leave(token: contextvars.Token[Lease]) -> None:
    _current.reset(token)


class Heartbeats:
    """One daemon thread renewing every watched lease when its renewal is due."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._due: dict[Lease, float] = {}
        self._wake_at = float("inf")
        self._thread: threading.Thread | None = None

    def watch(self, lease: Lease) -> None:
        """Renew ``lease`` every ``lease.renew_every`` until it is forgotten."""
        due = time.monotonic() + lease.renew_every.total_seconds()
        with self._cond:
            self._due[lease] = due
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="simple-async-tasks-heartbeat", daemon=True
                )
                self._thread.start()
            elif due < self._wake_at:
                self._cond.notify()

    def forget(self, lease: Lease) -> None:
        with self._cond:
            self._due.pop(lease, None)

    def watching(self) -> int:
        """How many leases are watched now (for tests and diagnostics)."""
        with self._cond:
            return len(self._due)

    def _after_fork(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._due.clear()
        self._wake_at = float("inf")
        self._thread = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    ready = [lease for lease, at in self._due.items() if at <= now]
                    if ready:
                        for lease in ready:
                            self._due[lease] = now + lease.renew_every.total_seconds()
                        self._wake_at = min(self._due.values())
                        break
                    self._wake_at = min(self._due.values(), default=float("inf"))
                    self._cond.wait(None if self._due == {} else self._wake_at - now)
            for lease in ready:
                lease.beat()


heartbeats = Heartbeats()
"""The process's heartbeat (a thread started on the first watched lease)."""

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=heartbeats._after_fork)
