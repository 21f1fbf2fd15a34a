from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from simple_async_tasks import (
    ExecuteOptions,
    ExecuteOutcome,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.errors import UnknownTaskTypeError
from simple_async_tasks.testing import FakeClock, drain

from .tasks import SendEmail, SyncAccount


def test_fake_clock_moves_only_forward():
    clock = FakeClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert clock.advance(timedelta(minutes=1)) == datetime(2030, 1, 1, 0, 1, tzinfo=timezone.utc)
    assert clock.advance(30).second == 30
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="does not go back"):
        clock.set(datetime(2029, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2030, 1, 1))


def test_drain_routes_by_task_type_and_advances_the_clock(clock):
    queue = InMemoryTaskQueue(clock=clock)
    emails, accounts = (
        InMemoryTaskDao(SendEmail, clock=clock),
        InMemoryTaskDao(SyncAccount, clock=clock),
    )
    send = with_execute_lifecycle(lambda t: "sent", dao=emails, queue=queue, clock=clock)
    sync = with_execute_lifecycle(lambda t: "synced", dao=accounts, queue=queue, clock=clock)
    with_queue_lifecycle(
        get_new=lambda: SendEmail(user_id="u1", execute_after=clock.now() + timedelta(seconds=90)),
        dao=emails,
        queue=queue,
        clock=clock,
    )()
    with_queue_lifecycle(
        get_new=lambda: SyncAccount(account_id="a", job=1), dao=accounts, queue=queue, clock=clock
    )()
    start = clock.now()
    report = drain(queue, [send, sync])
    assert sorted(r.result for r in report.results) == ["sent", "synced"]
    assert clock.now() == start + timedelta(seconds=90)


def test_drain_without_advancing_leaves_delayed_messages(clock, dao):
    queue = InMemoryTaskQueue(clock=clock)
    execute = with_execute_lifecycle(lambda t: None, dao=dao, queue=queue, clock=clock)
    with_queue_lifecycle(
        get_new=lambda: SendEmail(user_id="u1", execute_after=clock.now() + timedelta(seconds=5)),
        dao=dao,
        queue=queue,
        clock=clock,
    )()
    assert drain(queue, execute, advance_clock=False).delivered == 0
    assert len(queue) == 1


def test_drain_records_bad_messages_and_goes_on(clock, dao, queue):
    execute = with_execute_lifecycle(lambda t: None, dao=dao, queue=queue, clock=clock)
    queue.push_body("garbage")
    queue.push_body('{"task": {}, "meta": {"taskType": "Nope"}}')
    with_queue_lifecycle(get_new=lambda: SendEmail(user_id="u1"), dao=dao, queue=queue)()
    report = drain(queue, execute)
    assert [r.outcome for r in report.results] == [ExecuteOutcome.EXECUTED]
    assert len(report.failures) == 2
    assert isinstance(report.failures[1].error, UnknownTaskTypeError)
    queue.push_body("garbage")
    with pytest.raises(Exception, match="not JSON"):
        drain(queue, execute, raise_errors=True)


def test_drain_stops_an_endless_loop(clock, dao, queue):
    from simple_async_tasks import RetryLaterError

    def never(task):
        raise RetryLaterError(delay=timedelta(seconds=1))

    execute = with_execute_lifecycle(
        never, dao=dao, queue=queue, clock=clock, options=ExecuteOptions(max_requeue_depth=10**6)
    )
    with_queue_lifecycle(get_new=lambda: SendEmail(user_id="u1"), dao=dao, queue=queue)()
    with pytest.raises(RuntimeError, match="requeueing itself forever"):
        drain(queue, execute, max_deliveries=50)


def test_dynamodb_local_says_when_java_is_missing(monkeypatch, tmp_path):
    from simple_async_tasks.testing import dynamodb_local

    monkeypatch.setenv("PATH", str(tmp_path))  # no java, no npm
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(dynamodb_local.DynamoDbLocalUnavailableError, match="openjdk-17-jre"):
        dynamodb_local.start_dynamodb_local()


def test_dynamodb_local_says_how_to_install_a_missing_jar(monkeypatch, tmp_path):
    from simple_async_tasks.testing import dynamodb_local

    monkeypatch.setenv("SAT_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("SAT_DYNAMODB_LOCAL_DIR", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm to fetch it with
    with pytest.raises(dynamodb_local.DynamoDbLocalUnavailableError, match="npm is not on PATH"):
        dynamodb_local.install_dynamodb_local()
    with pytest.raises(dynamodb_local.DynamoDbLocalUnavailableError, match="fetching is turned"):
        dynamodb_local.install_dynamodb_local(fetch=False)
    monkeypatch.setenv("SAT_DYNAMODB_LOCAL_DIR", str(tmp_path))
    with pytest.raises(dynamodb_local.DynamoDbLocalUnavailableError, match="holds no Dynamo"):
        dynamodb_local.install_dynamodb_local()
    jar = tmp_path / "DynamoDBLocal.jar"
    jar.write_bytes(b"")
    assert dynamodb_local.install_dynamodb_local() == tmp_path
