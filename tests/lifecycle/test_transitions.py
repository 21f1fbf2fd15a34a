"""Every transition rule of DESIGN.md, one test each (the table in docs/concepts.md)."""

from __future__ import annotations

import functools
from datetime import timedelta

import attrs
import pytest

from simple_async_tasks import AsyncTaskStatus, ExecuteOutcome, RetryPolicy
from simple_async_tasks.errors import TaskNotFoundError
from simple_async_tasks.parcel import parse_parcel

from ..tasks import SendEmail
from .paths import PATHS, enqueuer, executor

S = AsyncTaskStatus


@pytest.fixture
def runs():
    return []


@pytest.fixture(params=PATHS)
def path(request):
    """Every rule below holds on both paths (issue 16): the sync wrappers, and the async
    enqueue with ``async def`` logic awaited by ``aexecute`` (``paths``)."""
    return request.param


@pytest.fixture
def wrap(path):
    return functools.partial(enqueuer, path)


@pytest.fixture
def enqueue(wrap, dao, queue, clock):
    return wrap(
        get_new=lambda user_id: SendEmail(user_id=user_id), dao=dao, queue=queue, clock=clock
    )


@pytest.fixture
def execute(path, dao, queue, clock, runs):
    return executor(
        path,
        runs.append,
        dao=dao,
        queue=queue,
        clock=clock,
        retry=RetryPolicy(max_attempts=3, jitter=0.0),
        lease=timedelta(minutes=15),
    )


def store(dao, status, **fields):
    return dao.seed(attrs.evolve(SendEmail(user_id="u1"), status=status, **fields))


# -- enqueue again ----------------------------------------------------------


def test_enqueue_new_saves_queued_and_pushes(enqueue, dao, queue):
    task = enqueue("u1")
    assert task.status is S.QUEUED
    assert task.version == 1
    assert dao.get("u1") == task
    assert len(queue) == 1
    assert parse_parcel(queue.history[0].body).task["uuid"] == task.uuid


@pytest.mark.parametrize("status", [S.HALTED, S.SCHEDULED, S.FAILED])
def test_enqueue_replaces_halted_scheduled_failed(enqueue, dao, queue, status):
    before = store(dao, status, attempts=2, failures=2, last_error="Boom: x")
    task = enqueue("u1")
    assert task.status is S.QUEUED
    assert task.uuid == before.uuid  # the same record
    assert task.created_at == before.created_at
    assert (task.attempts, task.failures) == (2, 2)  # the counts change only by transitions
    assert task.last_error is None  # a new request
    assert len(queue) == 1


@pytest.mark.parametrize("status", [S.QUEUED, S.ATTEMPTED, S.FULFILLED, S.CANCELED])
def test_enqueue_of_live_or_finished_task_is_a_duplicate(enqueue, dao, queue, status):
    before = store(dao, status)
    task = enqueue("u1")
    assert task == before
    assert len(queue) == 0
    assert dao.get("u1") == before  # nothing written


def test_enqueue_with_execute_after_within_max_delay_is_delayed(wrap, dao, queue, clock):
    enqueue = wrap(
        get_new=lambda: SendEmail(user_id="u1", execute_after=clock.now() + timedelta(seconds=30)),
        dao=dao,
        queue=queue,
        clock=clock,
    )
    task = enqueue()
    assert task.status is S.QUEUED
    assert queue.history[0].delay == timedelta(seconds=30)
    assert queue.visible_count() == 0


def test_enqueue_beyond_max_delay_is_scheduled_not_pushed(wrap, dao, queue, clock):
    enqueue = wrap(
        get_new=lambda: SendEmail(user_id="u1", execute_after=clock.now() + timedelta(days=7)),
        dao=dao,
        queue=queue,
        clock=clock,
    )
    assert enqueue().status is S.SCHEDULED
    assert len(queue) == 0


# -- delivered again --------------------------------------------------------


def test_deliver_queued_runs_and_fulfills(enqueue, execute, runs):
    task = enqueue("u1")
    result = execute(task)
    assert result.outcome is ExecuteOutcome.EXECUTED
    assert result.task.status is S.FULFILLED
    assert result.task.attempts == 1
    assert [t.uuid for t in runs] == [task.uuid]
    assert runs[0].status is S.ATTEMPTED  # the logic sees the claimed task


def test_deliver_missing_task_is_a_permanent_error(execute):
    with pytest.raises(TaskNotFoundError, match="no stored SendEmail task"):
        execute(SendEmail(user_id="ghost"))


@pytest.mark.parametrize("status", [S.FULFILLED, S.CANCELED, S.HALTED])
def test_deliver_finished_canceled_or_halted_is_skipped(dao, execute, queue, runs, status):
    task = store(dao, status)
    result = execute(task)
    assert result.outcome is ExecuteOutcome.SKIPPED
    assert result.task == task
    assert runs == []
    assert len(queue) == 0
    assert dao.get("u1") == task  # no write


def test_deliver_not_yet_due_is_retried_later(dao, execute, queue, clock, runs):
    task = store(dao, S.QUEUED, execute_after=clock.now() + timedelta(seconds=40))
    result = execute(task)
    assert result.outcome is ExecuteOutcome.RETRY_LATER
    assert result.retry_in == timedelta(seconds=40)
    assert runs == []
    assert parse_parcel(queue.history[0].body).meta.requeue_depth == 1


def test_deliver_scheduled_not_due_is_skipped_for_the_scheduler(dao, execute, clock, runs, queue):
    task = store(dao, S.SCHEDULED, execute_after=clock.now() + timedelta(days=1))
    assert execute(task).outcome is ExecuteOutcome.SKIPPED
    assert runs == []
    assert len(queue) == 0


def test_deliver_scheduled_and_due_runs(dao, execute, clock, runs):
    task = store(dao, S.SCHEDULED, execute_after=clock.now() - timedelta(seconds=1))
    assert execute(task).outcome is ExecuteOutcome.EXECUTED
    assert len(runs) == 1


def test_deliver_fresh_attempted_is_retried_later_not_run(dao, execute, clock, runs):
    task = store(dao, S.ATTEMPTED, attempts=1, lease_until=clock.now() + timedelta(minutes=10))
    result = execute(task)
    assert result.outcome is ExecuteOutcome.RETRY_LATER
    assert result.retry_in == timedelta(minutes=10)  # until its lease lapses
    assert runs == []


def test_deliver_stale_attempted_is_taken_over(dao, execute, clock, runs):
    task = store(dao, S.ATTEMPTED, attempts=1, lease_until=clock.now() - timedelta(minutes=1))
    result = execute(task)
    assert result.outcome is ExecuteOutcome.EXECUTED
    assert result.task.status is S.FULFILLED
    assert (result.task.attempts, result.task.failures) == (2, 1)  # the lost one failed
    assert "AttemptLost" in (result.task.last_error or "")
    assert len(runs) == 1


def test_deliver_stale_attempted_past_max_attempts_fails_without_running(
    dao, execute, clock, runs
):
    task = store(
        dao, S.ATTEMPTED, attempts=3, failures=2, lease_until=clock.now() - timedelta(minutes=1)
    )
    result = execute(task)
    assert result.outcome is ExecuteOutcome.FAILED
    assert result.task.status is S.FAILED
    assert result.task.failures == 3
    assert "AttemptLost" in (result.task.last_error or "")
    assert runs == []


def test_deliver_failed_with_attempts_left_and_due_runs(dao, execute, clock, runs):
    task = store(dao, S.FAILED, attempts=1, failures=1, execute_after=clock.now())
    result = execute(task)
    assert result.outcome is ExecuteOutcome.EXECUTED
    assert (result.task.attempts, result.task.failures) == (2, 1)


def test_deliver_failed_before_its_backoff_is_retried_later(dao, execute, clock, runs):
    task = store(dao, S.FAILED, attempts=1, execute_after=clock.now() + timedelta(seconds=9))
    assert execute(task).retry_in == timedelta(seconds=9)
    assert runs == []


def test_deliver_failed_past_max_attempts_is_skipped(dao, execute, runs, queue):
    task = store(dao, S.FAILED, attempts=3, failures=3, last_error="Boom: x")
    result = execute(task)
    assert result.outcome is ExecuteOutcome.SKIPPED
    assert result.task.last_error == "Boom: x"
    assert runs == []
    assert len(queue) == 0


def test_execute_accepts_a_parcel_or_a_bare_task(enqueue, execute, queue):
    from simple_async_tasks.parcel import decode_parcel
    from simple_async_tasks.serialization import default_converter

    enqueue("u1")
    parcel = decode_parcel(queue.receive()[0].body, SendEmail, default_converter)
    assert execute(parcel).outcome is ExecuteOutcome.EXECUTED
    assert execute(parcel.task).outcome is ExecuteOutcome.SKIPPED
