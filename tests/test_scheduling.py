"""Scheduling: delayed and scheduled tasks, recurring schedules, sweeps, cancel and halt.

Every test runs on the in-memory backends and on DynamoDB + SQS (moto server).
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import attrs
import pytest

from simple_async_tasks import (
    AsyncTask,
    AsyncTaskStatus,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.errors import InvalidTaskError, TaskDefinitionError
from simple_async_tasks.operations import (
    Scheduler,
    cancel_task,
    halt_task,
    promote_due,
    recurring_schedule,
    resume_task,
    retry_task,
)
from simple_async_tasks.parcel import decode_parcel
from simple_async_tasks.serialization import default_converter
from simple_async_tasks.testing import FakeClock, drain

from .tasks import SendEmail

S = AsyncTaskStatus
START = datetime(2026, 3, 2, 0, 0, 30, tzinfo=timezone.utc)  # a Monday


@attrs.frozen(kw_only=True)
class WeeklyReport(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("occurrence",)
    occurrence: datetime


class Backend:
    """A DAO, a queue and a way to deliver everything queued, on one backend."""

    def __init__(self, kind: str, clock: FakeClock, request: pytest.FixtureRequest) -> None:
        self.kind = kind
        self.clock = clock
        self.request = request
        self.runs: Counter[str] = Counter()
        self._lock = threading.Lock()
        if kind == "memory":
            self.queue: Any = InMemoryTaskQueue(clock=clock)
        else:
            from simple_async_tasks.aws import SqsTaskQueue

            self.sqs = request.getfixturevalue("sqs")
            self.url = request.getfixturevalue("queue_url")
            self.queue = SqsTaskQueue(self.url, client=self.sqs)
        self.executors: dict[str, Any] = {}

    def dao(self, cls: type[Any]) -> Any:
        if self.kind == "memory":
            dao: Any = InMemoryTaskDao(cls, clock=self.clock)
        else:
            from simple_async_tasks.aws import DynamoTaskDao

            dao = DynamoTaskDao(
                cls,
                table_name=self.request.getfixturevalue("table"),
                client=self.request.getfixturevalue("dynamodb"),
                clock=self.clock,
            )

        def logic(task: Any) -> None:
            with self._lock:
                self.runs[dao.unique_key(task)] += 1

        self.executors[cls.__name__] = with_execute_lifecycle(
            logic, dao=dao, queue=self.queue, clock=self.clock
        )
        return dao

    def deliver_all(self) -> int:
        if self.kind == "memory":
            return drain(self.queue, list(self.executors.values()), advance_clock=False).delivered
        from .aws.conftest import receive_all

        messages = receive_all(self.sqs, self.url)
        for message in messages:
            body = message["Body"]
            task_type = decode_parcel_type(body)
            executor = self.executors[task_type]
            executor(decode_parcel(body, executor.task_class, default_converter))
        return len(messages)

    def queued(self) -> int:
        if self.kind == "memory":
            return len(self.queue)
        attrs_ = self.sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]
        return int(attrs_["ApproximateNumberOfMessages"]) + int(
            attrs_["ApproximateNumberOfMessagesDelayed"]
        )


def decode_parcel_type(body: str) -> str:
    from simple_async_tasks.parcel import parse_parcel

    return str(parse_parcel(body).meta.task_type)


@pytest.fixture(params=["memory", pytest.param("aws", marks=pytest.mark.aws)])
def backend(request: pytest.FixtureRequest) -> Backend:
    return Backend(request.param, FakeClock(START), request)


def test_a_task_a_week_out_is_scheduled_then_promoted_once_and_run_once(backend):
    clock = backend.clock
    dao = backend.dao(SendEmail)
    enqueue = with_queue_lifecycle(
        get_new=lambda: SendEmail(user_id="u1", execute_after=clock.now() + timedelta(days=7)),
        dao=dao,
        queue=backend.queue,
        clock=clock,
    )
    assert enqueue().status is S.SCHEDULED
    assert backend.queued() == 0
    assert promote_due(dao=dao, queue=backend.queue, clock=clock) == []  # not due yet
    clock.advance(timedelta(days=7, seconds=1))
    with ThreadPoolExecutor(3) as pool:
        promoted = list(
            pool.map(lambda _: promote_due(dao=dao, queue=backend.queue, clock=clock), range(3))
        )
    assert sum(len(p) for p in promoted) == 1
    assert backend.deliver_all() == 1
    assert backend.runs == Counter({"u1": 1})
    assert dao.get("u1").status is S.FULFILLED


def test_three_schedulers_and_sweeps_for_sixty_minutes_enqueue_each_occurrence_once(backend):
    clock = backend.clock
    dao = backend.dao(WeeklyReport)
    every_five = recurring_schedule(
        name="every-5-min",
        get_new=lambda occurrence: WeeklyReport(occurrence=occurrence),
        cron="*/5 * * * *",
        start_at=START,
        dao=dao,
        queue=backend.queue,
        clock=clock,
    )
    schedulers = [Scheduler(schedules=[every_five], clock=clock) for _ in range(3)]
    for _ in range(60):
        clock.advance(timedelta(minutes=1))
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda s: s.run_once(), schedulers))
        backend.deliver_all()
    assert len(backend.runs) == 12  # 00:05 ... 01:00
    assert set(backend.runs.values()) == {1}


@pytest.mark.parametrize(("catch_up", "expected"), [(100, 24), (1, 1)])
def test_a_scheduler_down_for_two_hours_catches_up_per_its_policy(backend, catch_up, expected):
    clock = backend.clock
    dao = backend.dao(WeeklyReport)
    schedule = recurring_schedule(
        name="every-5-min",
        get_new=lambda occurrence: WeeklyReport(occurrence=occurrence),
        every=timedelta(minutes=5),
        start_at=START,
        catch_up=catch_up,
        dao=dao,
        queue=backend.queue,
        clock=clock,
    )
    assert len(schedule.run()) == 1  # the occurrence at START
    backend.deliver_all()
    clock.advance(timedelta(hours=2))
    assert len(schedule.run()) == expected
    assert schedule.run() == []  # again: nothing twice
    backend.deliver_all()
    assert set(backend.runs.values()) == {1}
    assert len(backend.runs) == 1 + expected


def test_a_canceled_task_whose_message_is_delivered_is_skipped(backend):
    clock = backend.clock
    dao = backend.dao(SendEmail)
    with_queue_lifecycle(
        get_new=lambda: SendEmail(user_id="u1"), dao=dao, queue=backend.queue, clock=clock
    )()
    assert cancel_task(dao, "u1").status is S.CANCELED
    assert backend.deliver_all() == 1
    assert backend.runs == Counter()
    assert dao.get("u1").status is S.CANCELED
    with pytest.raises(InvalidTaskError, match="it is CANCELED"):
        halt_task(dao, "u1")


def test_a_halted_task_runs_only_after_it_is_resumed(backend):
    clock = backend.clock
    dao = backend.dao(SendEmail)
    with_queue_lifecycle(
        get_new=lambda: SendEmail(user_id="u1"), dao=dao, queue=backend.queue, clock=clock
    )()
    halt_task(dao, "u1")
    backend.deliver_all()
    assert backend.runs == Counter()
    assert resume_task(dao, backend.queue, "u1", clock=clock).status is S.QUEUED
    backend.deliver_all()
    assert backend.runs == Counter({"u1": 1})


def test_retry_of_a_failed_task_keeps_its_attempts_and_runs_it(backend):
    clock = backend.clock
    dao = backend.dao(SendEmail)
    with_queue_lifecycle(
        get_new=lambda: SendEmail(user_id="u1"), dao=dao, queue=backend.queue, clock=clock
    )()
    backend.deliver_all()
    from simple_async_tasks.conditions import status_in
    from simple_async_tasks.contracts import Transition

    dao.transition(
        "u1", Transition(status=S.FAILED, last_error="E: x"), condition=status_in(S.FULFILLED)
    )
    task = retry_task(dao, backend.queue, "u1", clock=clock)
    assert (task.status, task.attempts) == (S.QUEUED, 1)
    backend.deliver_all()
    assert dao.get("u1").status is S.FULFILLED
    assert dao.get("u1").attempts == 2


def test_wrong_schedules_fail_where_they_are_declared():
    dao = InMemoryTaskDao(WeeklyReport)
    queue = InMemoryTaskQueue()

    def make(**kw):
        return recurring_schedule(
            name="s", get_new=lambda o: WeeklyReport(occurrence=o), dao=dao, queue=queue, **kw
        )

    with pytest.raises(TaskDefinitionError, match="exactly one of"):
        make()
    with pytest.raises(TaskDefinitionError, match="not a valid cron"):
        make(cron="every monday")
    with pytest.raises(TaskDefinitionError, match="timezone-aware"):
        make(every=timedelta(minutes=1), start_at=datetime(2026, 1, 1))
    same_key = recurring_schedule(
        name="bad",
        get_new=lambda o: WeeklyReport(occurrence=START),
        dao=dao,
        queue=queue,
        every=timedelta(minutes=1),
        start_at=START,
        catch_up=5,
        clock=FakeClock(START + timedelta(hours=1)),
    )
    with pytest.raises(TaskDefinitionError, match="same unique key"):
        same_key.run()


def test_weekly_cron_occurrences_are_mondays_at_nine_utc():
    dao = InMemoryTaskDao(WeeklyReport)
    schedule = recurring_schedule(
        name="weekly",
        get_new=lambda o: WeeklyReport(occurrence=o),
        dao=dao,
        queue=InMemoryTaskQueue(),
        cron="0 9 * * MON",
        start_at=START,
        catch_up=3,
    )
    moments = schedule.due_occurrences(START + timedelta(days=15))
    assert moments == [
        datetime(2026, 3, 16, 9, tzinfo=timezone.utc),
        datetime(2026, 3, 9, 9, tzinfo=timezone.utc),
        datetime(2026, 3, 2, 9, tzinfo=timezone.utc),
    ]
