"""Scheduling: a recurring schedule, one task per occurrence (needs the ``cron`` extra)."""

from datetime import datetime, timezone
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, InMemoryTaskDao, InMemoryTaskQueue
from simple_async_tasks.operations import recurring_schedule
from simple_async_tasks.testing import FakeClock


@attrs.frozen(kw_only=True)
class BuildWeeklyReport(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("week_of",)  # includes the occurrence
    week_of: datetime


clock = FakeClock(datetime(2026, 3, 9, 9, 0, 30, tzinfo=timezone.utc))
report_dao = InMemoryTaskDao(BuildWeeklyReport, clock=clock)
queue = InMemoryTaskQueue(clock=clock)

weekly_report = recurring_schedule(
    name="weekly-report",
    get_new=lambda occurrence: BuildWeeklyReport(week_of=occurrence),
    cron="0 9 * * MON",  # five fields, UTC; or every=timedelta(minutes=5)
    start_at=datetime(2026, 3, 1, tzinfo=timezone.utc),
    catch_up=1,  # see below
    dao=report_dao,
    queue=queue,
    clock=clock,
)
print(weekly_report.run())  # enqueues Monday 9 March 09:00, once (the scheduler calls it)
