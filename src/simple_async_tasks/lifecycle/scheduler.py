"""The periodic work that keeps tasks moving: recurring schedules and the two sweeps."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from ..clock import Clock, system_clock
from ..contracts import TaskDao, TaskQueue, indexed_statuses
from ..definition import task_spec
from ..errors import ConfigurationError
from .options import ExecuteOptions
from .recurring import RecurringSchedule
from .sweeps import promote_due, requeue_stale

if TYPE_CHECKING:
    from .schedule_book import ScheduleBook

logger = logging.getLogger("simple_async_tasks.scheduler")

SweepTarget = (
    tuple[TaskDao[Any], TaskQueue[Any]] | tuple[TaskDao[Any], TaskQueue[Any], ExecuteOptions]
)
"""A task type to sweep: its DAO and queue, and the ``ExecuteOptions`` it runs with (its
retry policy and lease; the defaults when left out)."""


def _target(
    entry: SweepTarget,
) -> tuple[TaskDao[Any], TaskQueue[Any], ExecuteOptions]:
    if len(entry) == 3:
        return entry
    return (entry[0], entry[1], ExecuteOptions())


@attrs.define
class SchedulerReport:
    """What one scheduler run did (counts of tasks)."""

    enqueued: int = 0
    """New occurrences of recurring schedules."""
    promoted: int = 0
    """SCHEDULED tasks that came due."""
    requeued: int = 0
    """QUEUED or FAILED tasks whose message was lost, pushed again."""
    stuck: int = 0
    """ATTEMPTED tasks whose lease lapsed."""
    out_of_time: bool = False
    """The run stopped early to stay within its time budget."""

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class Scheduler:
    """Runs the recurring schedules and the sweeps, once per call of ``run_once``.

    Run it every minute: from an EventBridge schedule with
    ``simple_async_tasks.aws.create_schedule_handler``, from cron, or from a
    loop. Every step is safe to run in several places at once.
    """

    def __init__(
        self,
        *,
        schedules: Sequence[RecurringSchedule[Any]] = (),
        sweep: Sequence[SweepTarget] = (),
        requeue_after: timedelta = timedelta(minutes=15),
        clock: Clock = system_clock,
        stored: ScheduleBook | None = None,
    ) -> None:
        self.schedules = list(schedules)
        self.stored = stored
        """The schedules stored as data (``TaskApp.schedules()``), read at every run."""
        self.sweep = [_target(entry) for entry in sweep]
        for dao, _, _ in self.sweep:
            if not indexed_statuses(dao):
                raise ConfigurationError(
                    f"cannot sweep {task_spec(dao.task_class).task_type}: its DAO has no "
                    "status index (status_index=False) to find stale or due tasks by; "
                    "turn the index on, or leave the type out of sweep="
                )
        for schedule in self.schedules:
            if not indexed_statuses(schedule.dao):
                continue  # its occurrences are enqueued; there is nothing to list them by
            if not any(d is schedule.dao and q is schedule.queue for d, q, _ in self.sweep):
                self.sweep.append((schedule.dao, schedule.queue, ExecuteOptions()))
        self.requeue_after = requeue_after
        self.clock = clock

    def run_once(self, *, may_continue: Callable[[], bool] = lambda: True) -> SchedulerReport:
        """Enqueue due occurrences, promote due SCHEDULED tasks, re-push lost ones.

        ``may_continue`` is asked before each step; when it says no, the run
        stops (the next run picks up where this one could not).
        """
        report = SchedulerReport()
        steps: list[Callable[[], None]] = []
        for schedule in self.schedules:

            def occurrences(schedule: RecurringSchedule[Any] = schedule) -> None:
                report.enqueued += len(schedule.run(self.clock.now()))

            steps.append(occurrences)
        if self.stored is not None:
            book = self.stored

            def stored_occurrences() -> None:
                report.enqueued += book.run_due(self.clock.now())

            steps.append(stored_occurrences)
        for dao, queue, options in self.sweep:

            def promote(dao: TaskDao[Any] = dao, queue: TaskQueue[Any] = queue) -> None:
                report.promoted += len(promote_due(dao=dao, queue=queue, clock=self.clock))

            def requeue(
                dao: TaskDao[Any] = dao,
                queue: TaskQueue[Any] = queue,
                options: ExecuteOptions = options,
            ) -> None:
                swept = requeue_stale(
                    dao=dao,
                    queue=queue,
                    older_than=self.requeue_after,
                    options=options,
                    clock=self.clock,
                )
                report.requeued += len(swept.requeued)
                report.stuck += len(swept.stuck)

            steps.extend((promote, requeue))
        for step in steps:
            if not may_continue():
                report.out_of_time = True
                break
            step()
        logger.info("scheduler run: %s", report.as_dict())
        return report
