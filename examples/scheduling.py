"""Scheduling, worked: a welcome email 30 s after sign-up, a reminder a week out,
and a weekly report every Monday at 09:00 UTC. Runs on the in-memory backends
with a clock moved by hand:

    python examples/scheduling.py
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import attrs

from simple_async_tasks import (
    AsyncTask,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    Scheduler,
    TaskExecutor,
    recurring_schedule,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.testing import FakeClock, drain

clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))  # a Sunday, noon
queue = InMemoryTaskQueue(clock=clock)
log: list[str] = []


# 1. A welcome email 30 seconds after sign-up: within SQS's 15-minute delay,
#    so it is pushed with a delay.
@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


welcome_dao = InMemoryTaskDao(SendWelcomeEmail, clock=clock)


def new_welcome_email(user_id: str) -> SendWelcomeEmail:
    return SendWelcomeEmail(user_id=user_id, execute_after=clock.now() + timedelta(seconds=30))


enqueue_welcome = with_queue_lifecycle(
    get_new=new_welcome_email, dao=welcome_dao, queue=queue, clock=clock
)


# 2. A reminder a week out: beyond the queue's longest delay, so it is saved
#    SCHEDULED and the scheduler's promote_due sweep enqueues it when due.
@attrs.frozen(kw_only=True)
class SendTrialReminder(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


reminder_dao = InMemoryTaskDao(SendTrialReminder, clock=clock)


def new_trial_reminder(user_id: str) -> SendTrialReminder:
    return SendTrialReminder(user_id=user_id, execute_after=clock.now() + timedelta(days=7))


enqueue_reminder = with_queue_lifecycle(
    get_new=new_trial_reminder, dao=reminder_dao, queue=queue, clock=clock
)


# 3. A weekly report every Monday at 09:00 UTC: one task per occurrence, the
#    occurrence in its unique key, so any number of schedulers enqueue it once.
@attrs.frozen(kw_only=True)
class BuildWeeklyReport(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("week_of",)
    week_of: datetime


report_dao = InMemoryTaskDao(BuildWeeklyReport, clock=clock)
weekly_report = recurring_schedule(
    name="weekly-report",
    get_new=lambda occurrence: BuildWeeklyReport(week_of=occurrence),
    cron="0 9 * * MON",
    start_at=clock.now(),
    dao=report_dao,
    queue=queue,
    clock=clock,
)

scheduler = Scheduler(
    schedules=[weekly_report], sweep=[(welcome_dao, queue), (reminder_dao, queue)], clock=clock
)
executors: list[TaskExecutor[Any, None]] = [
    with_execute_lifecycle(
        lambda t: log.append(f"{clock.now():%a %H:%M:%S} welcome {t.user_id}"),
        dao=welcome_dao,
        queue=queue,
        clock=clock,
    ),
    with_execute_lifecycle(
        lambda t: log.append(f"{clock.now():%a %d %H:%M} reminder {t.user_id}"),
        dao=reminder_dao,
        queue=queue,
        clock=clock,
    ),
    with_execute_lifecycle(
        lambda t: log.append(f"{clock.now():%a %d %H:%M} weekly report of {t.week_of:%Y-%m-%d}"),
        dao=report_dao,
        queue=queue,
        clock=clock,
    ),
]


def main() -> None:
    enqueue_welcome("ada")
    print(f"reminder saved as {enqueue_reminder('ada').status.value}")
    for _ in range(8 * 24 * 60):  # eight days, the scheduler running every minute
        clock.advance(timedelta(minutes=1))
        scheduler.run_once()
        drain(queue, executors, advance_clock=False)
    print("\n".join(log))


if __name__ == "__main__":
    main()
