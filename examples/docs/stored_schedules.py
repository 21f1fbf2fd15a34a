"""Schedules as data: stored in the backend, changed at run time, run by the scheduler."""

from datetime import datetime, timezone
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, TaskApp
from simple_async_tasks.testing import FakeClock


@attrs.frozen(kw_only=True)
class SendDigest(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("team", "scheduled_for")  # one datetime: the occurrence
    team: str
    scheduled_for: datetime


clock = FakeClock(datetime(2026, 3, 9, 8, 0, tzinfo=timezone.utc))
app = TaskApp("memory://", clock=clock)


@app.task(SendDigest)
def send_digest(task: SendDigest) -> None:
    print(f"digest for {task.team} at {task.scheduled_for:%Y-%m-%d %H:%M}")


schedules = app.schedules()
digest = schedules.create(
    "morning-digest",
    job_name="SendDigest",
    recurring_interval="EVERY_DAY",
    recurring_details={"hour": "9", "minute": "0"},  # the others stay "*"
    payload={"team": "payments"},  # checked against SendDigest now
    creator="ada",
)
print(digest.cron, digest.next_occurrence(clock.now()))  # 0 9 * * * 2026-03-09 09:00:00+00:00

# later, from another process: move it, fenced by the version read
schedules.update(
    "morning-digest", expected_version=digest.version, recurring_details={"hour": "7"}
)

clock.set(datetime(2026, 3, 10, 7, 0, tzinfo=timezone.utc))
print(app.scheduler().run_once().enqueued)  # 1: the 07:00 occurrence, once
schedules.pause("morning-digest")  # resume(), delete() likewise
