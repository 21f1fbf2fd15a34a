"""Recurring schedules: one task per occurrence of a cron expression or a fixed interval.

The task built for an occurrence must carry the occurrence in its unique key,
so enqueueing it twice is a duplicate: any number of schedulers may run at the
same moment and each occurrence is enqueued once. Schedulers keep no state;
each run makes sure the most recent due occurrences (``catch_up`` of them)
are enqueued.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, Generic, TypeVar

import cattrs

from ..clock import Clock, system_clock
from ..contracts import TaskDao, TaskQueue
from ..definition import task_spec
from ..errors import TaskDefinitionError
from ..serialization import default_converter
from ..task import AsyncTask
from .enqueue import enqueue_many

T = TypeVar("T", bound=AsyncTask)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def croniter_class() -> Any:
    try:
        from croniter import croniter
    except ImportError as error:  # pragma: no cover - depends on the install
        raise TaskDefinitionError(
            "cron schedules need croniter: pip install 'simple-async-tasks[cron]' "
            "(or use every=timedelta(...))"
        ) from error
    return croniter


class RecurringSchedule(Generic[T]):
    """A task to enqueue at every occurrence of a schedule (see ``recurring_schedule``)."""

    def __init__(
        self,
        *,
        name: str,
        get_new: Callable[[datetime], T],
        dao: TaskDao[T],
        queue: TaskQueue[T],
        cron: str | None,
        every: timedelta | None,
        start_at: datetime,
        catch_up: int,
        max_lateness: timedelta | None,
        clock: Clock,
        converter: cattrs.Converter,
    ) -> None:
        if (cron is None) == (every is None):
            raise TaskDefinitionError(
                f"schedule {name!r}: give exactly one of cron='...' or every=timedelta(...)"
            )
        if every is not None and every <= timedelta(0):
            raise TaskDefinitionError(f"schedule {name!r}: every must be positive, got {every}")
        if cron is not None and not croniter_class().is_valid(cron):
            raise TaskDefinitionError(
                f"schedule {name!r}: {cron!r} is not a valid cron expression "
                "(five fields: minute hour day-of-month month day-of-week, in UTC)"
            )
        if start_at.tzinfo is None:
            raise TaskDefinitionError(f"schedule {name!r}: start_at must be timezone-aware")
        if catch_up < 1:
            raise TaskDefinitionError(f"schedule {name!r}: catch_up must be at least 1")
        task_spec(dao.task_class)
        self.name = name
        self.get_new = get_new
        self.dao = dao
        self.queue = queue
        self.cron = cron
        self.every = every
        self.start_at = start_at
        self.catch_up = catch_up
        self.max_lateness = max_lateness
        self.clock = clock
        self.converter = converter

    def due_occurrences(self, now: datetime) -> list[datetime]:
        """The latest occurrences up to ``now`` (``catch_up`` at most), newest first."""
        found: list[datetime] = []
        oldest = self.start_at
        if self.max_lateness is not None:
            oldest = max(oldest, now - self.max_lateness)
        if self.every is not None:
            if now < self.start_at:
                return []
            k = (now - self.start_at) // self.every
            while k >= 0 and len(found) < self.catch_up:
                moment = self.start_at + k * self.every
                if moment < oldest:
                    break
                found.append(moment)
                k -= 1
            return found
        cursor = croniter_class()(self.cron, now + timedelta(microseconds=1))
        while len(found) < self.catch_up:
            moment = cursor.get_prev(datetime)
            if moment < oldest:
                break
            found.append(moment)
        return found

    def run(self, now: datetime | None = None) -> list[T]:
        """Enqueue the due occurrences not enqueued yet; return the tasks this run enqueued.

        One read for all the occurrences' keys, then one conditional write per
        missing one, so concurrent schedulers enqueue each occurrence once.
        """
        moments = self.due_occurrences(now or self.clock.now())
        if not moments:
            return []
        candidates = [self.get_new(moment) for moment in moments]
        keys = [self.dao.unique_key(task) for task in candidates]
        if len(set(keys)) < len(keys):
            raise TaskDefinitionError(
                f"schedule {self.name!r}: get_new gave the same unique key for different "
                "occurrences; put the occurrence in a field named in the task's `unique`"
            )
        existing = self.dao.get_many(keys)
        missing = [task for task, key in zip(candidates, keys, strict=True) if key not in existing]
        if not missing:
            return []
        stored = enqueue_many(
            missing, dao=self.dao, queue=self.queue, clock=self.clock, converter=self.converter
        )
        return [s for s, c in zip(stored, missing, strict=True) if s.uuid == c.uuid]


def recurring_schedule(
    *,
    name: str,
    get_new: Callable[[datetime], T],
    dao: TaskDao[T],
    queue: TaskQueue[T],
    cron: str | None = None,
    every: timedelta | None = None,
    start_at: datetime = _EPOCH,
    catch_up: int = 1,
    max_lateness: timedelta | None = None,
    clock: Clock = system_clock,
    converter: cattrs.Converter = default_converter,
) -> RecurringSchedule[T]:
    """Declare a recurring task: ``get_new(occurrence)`` builds the task for one occurrence.

    ``cron`` is a five-field cron expression evaluated in UTC (needs the ``cron``
    extra), ``every`` a fixed interval counted from ``start_at``; occurrences
    before ``start_at`` are never enqueued. Each scheduler run enqueues the
    ``catch_up`` most recent due occurrences that are not enqueued yet: 1 (the
    default) skips occurrences missed while no scheduler ran, a larger number
    catches up on that many; ``max_lateness`` skips occurrences older than that.

    Raises:
        TaskDefinitionError: a wrong schedule (both or neither of cron and every,
            an invalid cron expression, a naive start_at, catch_up < 1).
    """
    return RecurringSchedule(
        name=name,
        get_new=get_new,
        dao=dao,
        queue=queue,
        cron=cron,
        every=every,
        start_at=start_at,
        catch_up=catch_up,
        max_lateness=max_lateness,
        clock=clock,
        converter=converter,
    )
