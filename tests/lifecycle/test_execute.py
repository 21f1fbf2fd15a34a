from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from simple_async_tasks import (
    AsyncTaskStatus,
    ExecuteOptions,
    ExecuteOutcome,
    RetryLaterError,
    RetryPolicy,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.errors import RequeueDepthExceededError
from simple_async_tasks.parcel import parse_parcel
from simple_async_tasks.testing import drain

from ..tasks import SendEmail

S = AsyncTaskStatus


def enqueue_one(dao, queue, clock, user_id="u1"):
    return with_queue_lifecycle(
        get_new=lambda: SendEmail(user_id=user_id), dao=dao, queue=queue, clock=clock
    )()


def test_fails_twice_then_succeeds_with_backoff_delays(dao, queue, clock):
    calls = []

    def logic(task):
        calls.append(task.attempts)
        if len(calls) <= 2:
            raise ConnectionError(f"down #{len(calls)}")
        return "ok"

    execute = with_execute_lifecycle(
        logic,
        dao=dao,
        queue=queue,
        clock=clock,
        retry=RetryPolicy(max_attempts=5, initial_delay=timedelta(seconds=10), jitter=0.0),
    )
    enqueue_one(dao, queue, clock)
    report = drain(queue, execute)
    task = dao.get("u1")
    assert task.status is S.FULFILLED
    assert task.attempts == 3
    assert task.last_error == "ConnectionError: down #2"
    assert calls == [1, 2, 3]
    assert [m.delay for m in queue.history] == [
        timedelta(0),
        timedelta(seconds=10),
        timedelta(seconds=20),
    ]
    assert [r.outcome for r in report.results] == [
        ExecuteOutcome.FAILED,
        ExecuteOutcome.FAILED,
        ExecuteOutcome.EXECUTED,
    ]


def test_always_fails_stays_failed_after_max_attempts_with_the_error(dao, queue, clock):
    def logic(task):
        raise ValueError(f"bad input on attempt {task.attempts}")

    execute = with_execute_lifecycle(
        logic, dao=dao, queue=queue, clock=clock, retry=RetryPolicy(max_attempts=3, jitter=0.0)
    )
    enqueue_one(dao, queue, clock)
    report = drain(queue, execute)
    task = dao.get("u1")
    assert task.status is S.FAILED
    assert task.attempts == 3
    assert task.last_error == "ValueError: bad input on attempt 3"
    assert len(report.failures) == 1  # the last attempt re-raised
    assert isinstance(report.failures[0].error, ValueError)
    assert len(queue) == 0  # no endless loop
    # a redelivery of the final message does not run it again
    assert execute(task).outcome is ExecuteOutcome.SKIPPED


def test_backoff_is_exponential_capped_and_jittered():
    policy = RetryPolicy(
        initial_delay=timedelta(seconds=10),
        multiplier=3.0,
        max_delay=timedelta(seconds=60),
        jitter=0.5,
    )
    assert policy.delay_for(1, lambda: 0.0) == timedelta(seconds=10)
    assert policy.delay_for(2, lambda: 0.0) == timedelta(seconds=30)
    assert policy.delay_for(3, lambda: 0.0) == timedelta(seconds=60)
    assert policy.delay_for(9, lambda: 0.0) == timedelta(seconds=60)
    assert policy.delay_for(2, lambda: 1.0) == timedelta(seconds=15)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"initial_delay": timedelta(seconds=-1)},
    ],
)
def test_retry_policy_validates(kwargs):
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**kwargs)


def test_retry_later_error_requeues_without_a_failure(dao, queue, clock):
    seen = []

    def logic(task):
        seen.append(task.attempts)
        if len(seen) == 1:
            raise RetryLaterError("rate limited", delay=timedelta(seconds=45))

    execute = with_execute_lifecycle(logic, dao=dao, queue=queue, clock=clock)
    enqueue_one(dao, queue, clock)
    first = execute(dao.get("u1"))
    assert first.outcome is ExecuteOutcome.RETRY_LATER
    assert first.retry_in == timedelta(seconds=45)
    assert first.task.status is S.QUEUED
    assert first.task.last_error is None
    drain(queue, execute)
    assert dao.get("u1").status is S.FULFILLED


def test_requeue_depth_limit_stops_an_endless_loop(dao, queue, clock):
    def logic(task):
        raise RetryLaterError("never ready", delay=timedelta(seconds=1))

    execute = with_execute_lifecycle(
        logic, dao=dao, queue=queue, clock=clock, options=ExecuteOptions(max_requeue_depth=5)
    )
    enqueue_one(dao, queue, clock)
    report = drain(queue, execute)
    assert len(report.results) == 5
    assert len(report.failures) == 1
    assert isinstance(report.failures[0].error, RequeueDepthExceededError)
    task = dao.get("u1")
    assert task.status is S.FAILED
    assert "RequeueDepthExceededError" in task.last_error
    assert len(queue) == 0


def test_requeue_depth_limit_on_a_task_running_elsewhere(dao, queue, clock):
    execute = with_execute_lifecycle(
        lambda t: None,
        dao=dao,
        queue=queue,
        clock=clock,
        options=ExecuteOptions(max_requeue_depth=2),
    )
    task = dao.seed(
        attrs.evolve(
            SendEmail(user_id="u1"),
            status=S.ATTEMPTED,
            attempts=1,
            lease_until=clock.now() + timedelta(minutes=1),
        )
    )
    from simple_async_tasks.contracts import ParcelMeta, TaskParcel

    parcel = TaskParcel(
        task=task,
        meta=ParcelMeta(
            queue_type="MEMORY", queue_url="m", task_type="SendEmail", requeue_depth=2
        ),
    )
    with pytest.raises(RequeueDepthExceededError, match="dead-letter"):
        execute(parcel)


@pytest.mark.parametrize("status", [S.HALTED, S.SCHEDULED, S.QUEUED, S.CANCELED, S.FULFILLED])
def test_a_status_set_by_the_logic_stands(dao, queue, clock, status):
    def logic(task):
        dao.upsert(attrs.evolve(task, status=status))
        return "done"

    execute = with_execute_lifecycle(logic, dao=dao, queue=queue, clock=clock)
    enqueue_one(dao, queue, clock)
    result = execute(dao.get("u1"))
    assert result.outcome is ExecuteOutcome.EXECUTED
    assert result.result == "done"
    assert result.task.status is status
    assert dao.get("u1").status is status


def test_logic_that_sets_a_status_then_raises_keeps_its_status(dao, queue, clock):
    def logic(task):
        dao.upsert(attrs.evolve(task, status=S.HALTED))
        raise RuntimeError("halted on purpose")

    execute = with_execute_lifecycle(logic, dao=dao, queue=queue, clock=clock)
    enqueue_one(dao, queue, clock)
    queue.receive()
    result = execute(dao.get("u1"))
    assert result.task.status is S.HALTED
    assert len(queue) == 0  # no retry pushed over the logic's decision


def test_finish_after_takeover_does_not_overwrite_the_new_attempt(dao, queue, clock):
    """An attempt that outlived its timeout and was taken over leaves the new attempt alone."""
    inner = []

    def logic(task):
        if task.attempts == 1:
            clock.advance(timedelta(minutes=20))
            inner.append(execute(task))  # another invocation takes over meanwhile
        return task.attempts

    execute = with_execute_lifecycle(logic, dao=dao, queue=queue, clock=clock)
    enqueue_one(dao, queue, clock)
    outer = execute(dao.get("u1"))
    assert inner[0].outcome is ExecuteOutcome.EXECUTED
    assert inner[0].task.attempts == 2
    assert outer.task.attempts == 2  # the stored record is the takeover's
    assert dao.get("u1").status is S.FULFILLED


def test_retries_do_not_grow_requeue_depth(dao, queue, clock):
    def logic(task):
        raise OSError("down")

    execute = with_execute_lifecycle(
        logic, dao=dao, queue=queue, clock=clock, retry=RetryPolicy(max_attempts=4, jitter=0)
    )
    enqueue_one(dao, queue, clock)
    drain(queue, execute)
    depths = [parse_parcel(m.body).meta.requeue_depth for m in queue.history]
    assert depths == [0, 0, 0, 0]
