"""Scheduling, worked: a welcome email 30 s after sign-up, a reminder a week out,
and a weekly report every Monday at 09:00 UTC. Runs on the in-memory backends
with a clock moved by hand:

    python examples/scheduling.py
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, TaskApp
from simple_async_tasks.testing import FakeClock, drain

clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc))  # a Sunday, noon
app = TaskApp("memory://", clock=clock)
log: list[str] = []


# 1. A welcome email 30 seconds after sign-up: within SQS's 15-minute delay,
#    so it is pushed with a delay.
@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


@app.task(SendWelcomeEmail)
def send_welcome_email(task: SendWelcomeEmail) -> None:
    log.append(f"{clock.now():%a %H:%M:%S} welcome {task.user_id}")


@app.enqueuer
def enqueue_welcome(user_id: str) -> SendWelcomeEmail:
    return SendWelcomeEmail(user_id=user_id, execute_after=clock.now() + timedelta(seconds=30))


# 2. A reminder a week out: beyond the queue's longest delay, so it is saved
#    SCHEDULED and the scheduler's promote_due sweep enqueues it when due.
@attrs.frozen(kw_only=True)
class SendTrialReminder(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


@app.task(SendTrialReminder)
def send_trial_reminder(task: SendTrialReminder) -> None:
    log.append(f"{clock.now():%a %d %H:%M} reminder {task.user_id}")


@app.enqueuer
def enqueue_reminder(user_id: str) -> SendTrialReminder:
    return SendTrialReminder(user_id=user_id, execute_after=clock.now() + timedelta(days=7))


# 3. A weekly report every Monday at 09:00 UTC: one task per occurrence, the
#    occurrence in its unique key, so any number of schedulers enqueue it once.
@attrs.frozen(kw_only=True)
class BuildWeeklyReport(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("week_of",)
    week_of: datetime


@app.task(BuildWeeklyReport)
def build_weekly_report(task: BuildWeeklyReport) -> None:
    log.append(f"{clock.now():%a %d %H:%M} weekly report of {task.week_of:%Y-%m-%d}")


app.recurring(
    BuildWeeklyReport,
    name="weekly-report",
    get_new=lambda occurrence: BuildWeeklyReport(week_of=occurrence),
    cron="0 9 * * MON",
    start_at=clock.now(),
)


def main() -> None:
    scheduler = app.scheduler()  # the recurring schedule, and the sweeps of every task type
    enqueue_welcome("ada")
    print(f"reminder saved as {enqueue_reminder('ada').status.value}")
    for _ in range(8 * 24 * 60):  # eight days, the scheduler running every minute
        clock.advance(timedelta(minutes=1))
        scheduler.run_once()
        drain(app, advance_clock=False)
    print("\n".join(log))


if __name__ == "__main__":
    main()
