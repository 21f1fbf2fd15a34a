"""Schedules as data (issue 15): created, read, updated, paused and deleted at run time,
checked before anything is stored, and run once per occurrence by any number of
schedulers, beside the schedules declared in code. On memory and SQLite here; on
DynamoDB in tests/aws/test_stored_schedules_aws.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import attrs
import pytest

from simple_async_tasks import AsyncTask, AsyncTaskStatus, TaskApp
from simple_async_tasks.errors import (
    ConditionFailedError,
    InvalidScheduleError,
    ScheduleNotFoundError,
)
from simple_async_tasks.operations import RecurringInterval
from simple_async_tasks.testing import FakeClock

S = AsyncTaskStatus
START = datetime(2026, 1, 1, tzinfo=timezone.utc)  # a Thursday


@attrs.frozen(kw_only=True)
class SendReport(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("report", "scheduled_for")
    report: str
    scheduled_for: datetime
    recipients: list[str] = attrs.field(factory=list)


@attrs.frozen(kw_only=True)
class NoOccurrence(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("report",)
    report: str


def make_app(backend: tuple[str, str | None], clock: FakeClock) -> TaskApp:
    app = TaskApp(backend[0], queue=backend[1], clock=clock)
    app.task(SendReport)(lambda task: None)
    app.task(NoOccurrence)(lambda task: None)
    return app


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> tuple[str, str | None]:
    """The store URL and queue URL (None: the store's own) of the apps of a test."""
    return ("memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 't.db'}", None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def app(backend: tuple[str, str | None], clock: FakeClock) -> TaskApp:
    return make_app(backend, clock)


def reports(app: TaskApp) -> list[tuple[str, datetime]]:
    dao = app.dao(SendReport)
    found = [t for status in S for t in dao.find_by_status(status, limit=1000).items]
    return sorted((t.report, t.scheduled_for) for t in found)


def test_a_daily_schedule_enqueues_each_occurrence_once_with_two_schedulers(app, clock, backend):
    book = app.schedules()
    created = book.create(
        "daily-sales",
        job_name="SendReport",
        recurring_interval="EVERY_DAY",
        recurring_details={"hour": "6", "minute": "30"},
        payload={"report": "sales", "recipients": ["ops@example.com"]},
        creator="ada",
    )
    assert (created.cron, created.occurrence_field, created.version) == (
        "30 6 * * *",
        "scheduled_for",
        1,
    )
    assert created.next_occurrence(clock.now()) == START.replace(hour=6, minute=30)
    # a second app on the same store (memory: the same app, the store is its own)
    other = make_app(backend, clock) if backend[0] != "memory://" else app
    schedulers = [app.scheduler(), other.scheduler()]
    for scheduler in schedulers:
        assert scheduler.run_once().enqueued == 0  # not due yet
    clock.set(START.replace(hour=6, minute=30))
    assert [s.run_once().enqueued for s in schedulers] == [1, 0]
    clock.advance(timedelta(days=1))
    assert [s.run_once().enqueued for s in reversed(schedulers)] == [1, 0]
    assert reports(app) == [
        ("sales", START.replace(hour=6, minute=30)),
        ("sales", START.replace(day=2, hour=6, minute=30)),
    ]
    task = app.dao(SendReport).get(f'["sales","{START.replace(hour=6, minute=30).isoformat()}"]')
    assert task is not None
    assert task.recipients == ["ops@example.com"]
    assert book.get("daily-sales").last_occurrence == START.replace(day=2, hour=6, minute=30)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"job_name": "NoSuchTask"}, "NoSuchTask"),
        ({"job_name": "NoOccurrence"}, "no datetime field to hold the occurrence"),
        ({"recurring_interval": "EVERY_FORTNIGHT"}, "must be one of EVERY_MINUTE"),
        ({"recurring_details": {"day_of_week": "3"}}, "EVERY_DAY does not read day_of_week"),
        ({"recurring_details": {"minute": "*/5"}}, "minute must be '\\*' or a whole number"),
        ({"recurring_details": {"hour": "24"}}, "from 0 to 23"),
        ({"recurring_details": {"second": "1"}}, "recurring_details has no \\['second'\\]"),
        ({"payload": {"report": "x", "bcc": "y"}}, "sets \\['bcc'\\]"),
        ({"payload": {"report": "x", "scheduled_for": "2026"}}, "receives the occurrence"),
        ({"payload": {"report": "x", "status": "FULFILLED"}}, "sets \\['status'\\]"),
        ({"payload": {"report": 42}}, "does not make a SendReport"),
        ({"payload": {}}, "does not make a SendReport"),
        ({"start_at": datetime(2026, 1, 1)}, "timezone-aware"),
    ],
)
def test_a_bad_schedule_is_refused_and_nothing_is_stored(app, changes, message):
    fields: dict[str, Any] = {
        "job_name": "SendReport",
        "recurring_interval": "EVERY_DAY",
        "payload": {"report": "sales"},
        **changes,
    }
    book = app.schedules()
    with pytest.raises(InvalidScheduleError, match=message):
        book.create("bad", **fields)
    assert book.list() == []
    book.create(
        "good", job_name="SendReport", recurring_interval="EVERY_DAY", payload={"report": "a"}
    )
    with pytest.raises(InvalidScheduleError, match=message):
        book.update("good", **changes)
    assert book.get("good").payload == {"report": "a"}  # unchanged
    assert book.get("good").version == 1


def test_names_are_unique_and_code_schedules_keep_theirs(app):
    app.recurring(
        SendReport,
        name="from-code",
        get_new=lambda at: SendReport(report="c", scheduled_for=at),
        every=timedelta(hours=1),
    )
    book = app.schedules()
    fields: dict[str, Any] = {
        "job_name": "SendReport",
        "recurring_interval": "EVERY_HOUR",
        "payload": {"report": "a"},
    }
    with pytest.raises(InvalidScheduleError, match="declared in code"):
        book.create("from-code", **fields)
    book.create("hourly", **fields)
    with pytest.raises(InvalidScheduleError, match="exists already"):
        book.create("hourly", **fields)
    for name in ("", "a#b", "x" * 201, "tab\there"):
        with pytest.raises(InvalidScheduleError, match="1 to 200 printable characters"):
            book.create(name, **fields)


def test_update_is_fenced_by_the_version_read(app, clock):
    book = app.schedules()
    read = book.create(
        "s", job_name="SendReport", recurring_interval="EVERY_HOUR", payload={"report": "a"}
    )
    clock.advance(5)
    changed = book.update(
        "s", expected_version=read.version, recurring_details={"minute": "15"}, creator="bob"
    )
    assert (changed.cron, changed.creator, changed.version) == ("15 * * * *", "bob", 2)
    assert (changed.updated_at, changed.created_at) == (clock.now(), START)
    with pytest.raises(ConditionFailedError):
        book.update("s", expected_version=read.version, payload={"report": "lost"})
    assert book.get("s").payload == {"report": "a"}
    with pytest.raises(InvalidScheduleError, match="cannot change \\['name'\\]"):
        book.update("s", name="t")
    with pytest.raises(ScheduleNotFoundError, match="schedules list"):
        book.update("missing", paused=True)


def test_pause_resume_and_delete(app, clock):
    book = app.schedules()
    book.create(
        "m", job_name="SendReport", recurring_interval="EVERY_MINUTE", payload={"report": "m"}
    )
    scheduler = app.scheduler()
    clock.advance(60)
    assert scheduler.run_once().enqueued == 1
    assert book.pause("m").paused is True
    assert book.get("m").next_occurrence(clock.now()) is None
    clock.advance(timedelta(minutes=10))
    assert scheduler.run_once().enqueued == 0  # paused: nothing
    resumed = book.resume("m")
    assert resumed.paused is False
    assert scheduler.run_once().enqueued == 1  # the current minute, not the ten missed
    assert len(reports(app)) == 2
    book.delete("m")
    assert book.get("m") is None
    clock.advance(120)
    assert scheduler.run_once().enqueued == 0
    with pytest.raises(ScheduleNotFoundError):
        book.delete("m")


def test_a_one_off_fires_once_even_after_its_task_is_deleted(app, clock):
    from simple_async_tasks.operations import delete_task

    book = app.schedules()
    book.create(
        "launch",
        job_name="SendReport",
        recurring_interval=RecurringInterval.ONE_OFF,
        recurring_details={"minute": "0", "hour": "9", "day_of_month": "2", "month_of_year": "1"},
        payload={"report": "launch"},
    )
    scheduler = app.scheduler()
    assert scheduler.run_once().enqueued == 0
    clock.set(datetime(2026, 1, 2, 9, 0, tzinfo=timezone.utc))
    assert scheduler.run_once().enqueued == 1
    assert book.get("launch").done is True
    delete_task(app.dao(SendReport), _key(reports(app)[0]))
    clock.advance(timedelta(days=365))
    assert scheduler.run_once().enqueued == 0
    assert reports(app) == []


def _key(report: tuple[str, datetime]) -> str:
    return f'["{report[0]}","{report[1].isoformat()}"]'


def test_weekly_monthly_and_yearly_read_their_details():
    from simple_async_tasks.lifecycle.schedule_model import RecurringDetails, cron_of

    assert cron_of(RecurringInterval.EVERY_WEEK, RecurringDetails(day_of_week="1")) == "0 0 * * 1"
    assert cron_of(RecurringInterval.EVERY_MONTH, RecurringDetails(hour="12")) == "0 12 1 * *"
    assert cron_of(RecurringInterval.EVERY_YEAR, RecurringDetails(month_of_year="7")) == (
        "0 0 1 7 *"
    )
    assert cron_of(RecurringInterval.EVERY_MINUTE, RecurringDetails()) == "* * * * *"


def test_the_command_lines_listing_shows_code_schedules_read_only(app):
    from simple_async_tasks.app.views import schedule_json as stored_json
    from simple_async_tasks.cli.schedules import code_json

    app.recurring(
        SendReport,
        name="hourly-code",
        get_new=lambda at: SendReport(report="c", scheduled_for=at),
        every=timedelta(hours=1),
    )
    stored = app.schedules().create(
        "s", job_name="SendReport", recurring_interval="EVERY_WEEK", payload={"report": "w"}
    )
    assert code_json(app) == [
        {
            "source": "code",
            "name": "hourly-code",
            "job_name": "SendReport",
            "cron": None,
            "every": "1:00:00",
            "last_due": START.isoformat(),
        }
    ]
    shown = stored_json(app, stored)
    assert (shown["source"], shown["cron"], shown["next_occurrence"]) == (
        "stored",
        "0 0 * * 0",
        "2026-01-04T00:00:00+00:00",  # the first Sunday
    )


def test_eight_schedulers_at_the_same_moment_enqueue_an_occurrence_once(app, clock, backend):
    import threading

    app.schedules().create(
        "m", job_name="SendReport", recurring_interval="EVERY_MINUTE", payload={"report": "m"}
    )
    clock.advance(60)
    apps = [make_app(backend, clock) if backend[0] != "memory://" else app for _ in range(8)]
    schedulers = [a.scheduler() for a in apps]
    start = threading.Barrier(len(schedulers))
    enqueued: list[int] = []

    def run(scheduler: Any) -> None:
        start.wait()
        enqueued.append(scheduler.run_once().enqueued)

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(enqueued) == [0] * 7 + [1]
    assert len(reports(app)) == 1
