"""The guarantees at the edges (issue 11): each test here failed before its fix.

They run on every store of the lifecycle tests (memory and SQLite); the
DynamoDB + SQS runs of the same scenarios are in ``tests/aws/test_edges_aws.py``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs
import pytest

from simple_async_tasks import (
    AsyncTask,
    AsyncTaskStatus,
    ExecuteOptions,
    ExecuteOutcome,
    RetryLaterError,
    RetryPolicy,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.clock import system_clock
from simple_async_tasks.errors import InvalidTaskError
from simple_async_tasks.testing import drain

from ..tasks import SendEmail, SyncAccount

S = AsyncTaskStatus
LEASE = timedelta(minutes=1)


def executor_for(dao, queue, clock, logic, **options: Any):
    options.setdefault("lease", LEASE)
    options.setdefault("retry", RetryPolicy(max_attempts=3, jitter=0.0))
    return with_execute_lifecycle(
        logic, dao=dao, queue=queue, clock=clock, options=ExecuteOptions(**options)
    )


def enqueuer_for(dao, queue, clock, cls=SendEmail):
    return with_queue_lifecycle(get_new=lambda task: task, dao=dao, queue=queue, clock=clock)


# -- 1. a late attempt must not release the next attempt's mutex lock ------------------------


def test_a_late_attempt_cannot_release_the_lock_of_the_attempt_that_took_it_over(
    mutex_dao, queue, clock
):
    enqueue = enqueuer_for(mutex_dao, queue, clock)
    first = enqueue(SyncAccount(account_id="acme", job=1))
    second = enqueue(SyncAccount(account_id="acme", job=2))
    started = {1: threading.Event(), 2: threading.Event()}
    finish = {1: threading.Event(), 2: threading.Event()}
    ran: list[tuple[int, int]] = []

    def logic(task: SyncAccount) -> None:
        attempt = len([r for r in ran if r[0] == task.job]) + 1
        ran.append((task.job, attempt))
        if task.job == 1:
            started[attempt].set()
            assert finish[attempt].wait(10)

    execute = executor_for(mutex_dao, queue, clock, logic)
    late = threading.Thread(target=execute, args=(first,))
    late.start()
    assert started[1].wait(10)
    clock.advance(LEASE + timedelta(seconds=1))  # attempt 1 stalls past its lease
    takeover = threading.Thread(target=execute, args=(first,))
    takeover.start()
    assert started[2].wait(10)
    finish[1].set()  # attempt 1 wakes up and finishes late: its writes are fenced off
    late.join(10)

    blocked = execute(second)  # attempt 2 of job 1 still holds the account's lock
    assert blocked.outcome is ExecuteOutcome.RETRY_LATER
    assert (2, 1) not in ran
    finish[2].set()
    takeover.join(10)
    assert mutex_dao.get(mutex_dao.unique_key(first)).status is S.FULFILLED


# -- 2. a live attempt that outlives its lease is never run twice -----------------------------


@pytest.mark.parametrize("kind", ["sync", "async", "async-in-lambda"])
def test_a_slow_live_attempt_renews_its_lease_and_is_not_run_beside_itself(make_dao, kind):
    import asyncio

    from simple_async_tasks import InMemoryTaskQueue

    dao = make_dao(SendEmail)
    queue = InMemoryTaskQueue()
    task = enqueuer_for(dao, queue, system_clock)(SendEmail(user_id="slow"))
    lease = timedelta(seconds=0.6)
    runs: list[float] = []

    def sync_logic(task: SendEmail) -> None:
        runs.append(time.monotonic())
        time.sleep(lease.total_seconds() * 3)

    async def async_logic(task: SendEmail) -> None:  # awaits while the heartbeat renews
        runs.append(time.monotonic())
        await asyncio.sleep(lease.total_seconds() * 3)

    logic: Any = sync_logic if kind == "sync" else async_logic

    execute = executor_for(dao, queue, system_clock, logic, lease=lease)
    first = threading.Thread(target=execute, args=(task,))
    if kind == "async-in-lambda":  # the first attempt on the handler's invocation loop
        from simple_async_tasks.aws import create_sqs_handler

        (message,) = queue.receive(1)
        record = {"messageId": "m", "body": message.body, "eventSource": "aws:sqs"}
        handler = create_sqs_handler(execute)
        first = threading.Thread(target=handler, args=({"Records": [record]}, None))
    first.start()
    deadline = time.monotonic() + 10
    while not runs and time.monotonic() < deadline:  # the first attempt is live (its claim
        time.sleep(0.01)  # may wait on a new aiobotocore client, or a loaded machine)
    outcomes = []
    for _ in range(4):  # redeliveries while the first attempt runs, past its lease each time
        time.sleep(lease.total_seconds() * 0.5)
        outcomes.append(execute(task).outcome)
    first.join(10)
    from simple_async_tasks.lifecycle.lease import heartbeats

    assert heartbeats.watching() == 0  # a finished attempt's lease is no longer watched
    assert len(runs) == 1
    assert ExecuteOutcome.EXECUTED not in outcomes
    stored = dao.get("slow")
    assert stored.status is S.FULFILLED
    assert stored.failures == 0


# -- 3. only failures count against max_attempts ----------------------------------------------


def test_retry_later_does_not_use_the_retry_budget(dao, queue, clock):
    enqueue = enqueuer_for(dao, queue, clock)
    enqueue(SendEmail(user_id="u1"))
    calls: list[str] = []

    def logic(task: SendEmail) -> str:
        calls.append("run")
        if len(calls) <= 2:
            raise RetryLaterError("not yet", delay=timedelta(seconds=5))
        if len(calls) == 3:
            raise ConnectionError("transient")
        return "sent"

    execute = executor_for(dao, queue, clock, logic)
    drain(queue, execute)
    stored = dao.get("u1")
    assert stored.status is S.FULFILLED
    assert stored.attempts == 4  # runs started
    assert stored.failures == 1  # failed runs


# -- 4. takeover at exactly the end of the lease ----------------------------------------------


class Crash(BaseException):
    """Stands for the process dying in the middle of the logic."""


def test_a_takeover_at_exactly_the_end_of_the_lease_runs_the_task(dao, queue, clock):
    task = enqueuer_for(dao, queue, clock)(SendEmail(user_id="u1"))
    calls: list[int] = []

    def logic(task: SendEmail) -> None:
        calls.append(task.attempts)
        if len(calls) == 1:
            raise Crash

    execute = executor_for(dao, queue, clock, logic)
    with pytest.raises(Crash):
        execute(task)
    clock.advance(LEASE)  # the lease ends exactly now; the clock stays frozen here
    result = execute(task)
    assert result.outcome is ExecuteOutcome.EXECUTED
    assert calls == [1, 2]
    stored = dao.get("u1")
    assert stored.status is S.FULFILLED
    assert stored.failures == 1  # the crashed attempt counts


# -- 6. a task that does not survive its own round trip is refused at enqueue ----------------


@attrs.frozen(kw_only=True)
class Scores(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("name",)
    name: str
    scores: dict[str, int] = attrs.field(factory=dict)
    due: datetime | None = None


@pytest.mark.parametrize(
    ("task", "field"),
    [
        (SendEmail(user_id=123), "user_id"),  # type: ignore[arg-type]
        (Scores(name="n", scores={"a": "x"}), "scores"),  # type: ignore[dict-item]
        (Scores(name="n", scores={"": 1}), "scores"),
        (Scores(name="n", due=datetime(2026, 1, 1)), "due"),  # naive
    ],
    ids=["int-for-str", "str-in-dict-of-int", "empty-map-key", "naive-datetime"],
)
def test_a_task_that_does_not_survive_its_round_trip_is_refused_and_nothing_is_written(
    make_dao, queue, clock, task, field
):
    dao = make_dao(type(task), clock)
    enqueue = enqueuer_for(dao, queue, clock)
    with pytest.raises(InvalidTaskError) as raised:
        enqueue(task)
    assert field in str(raised.value)
    assert dao.count_by_status(S.QUEUED) == 0
    assert len(queue) == 0


# -- 7. async logic is awaited (issue 16; it was refused until then): tests/lifecycle/
#        test_async_logic.py


# -- 8. same unique key, another payload -------------------------------------------------------


def test_the_same_key_with_another_payload_is_reported(dao, queue, clock, caplog):
    enqueue = enqueuer_for(dao, queue, clock)
    enqueue(SendEmail(user_id="u1", email="first@example.com"))
    with caplog.at_level(logging.WARNING, logger="simple_async_tasks"):
        stored = enqueue(SendEmail(user_id="u1", email="second@example.com"))
    assert stored.email == "first@example.com"
    assert "email" in caplog.text
    assert "second@example.com" not in caplog.text  # field names, never values


# -- 9. logs name tasks by type and uuid, never by key ----------------------------------------


def test_unique_keys_stay_out_of_logs_above_debug(dao, queue, clock, caplog):
    from simple_async_tasks.parcel import ParcelMeta, TaskParcel

    secret = "ada.lovelace@example.com"
    execute = executor_for(dao, queue, clock, lambda task: None, max_requeue_depth=0)
    orphan = SendEmail(user_id=secret)
    with caplog.at_level(logging.INFO, logger="simple_async_tasks"):
        drain_queue = queue
        drain_queue.push(TaskParcel(task=orphan, meta=ParcelMeta.for_queue(queue, "SendEmail")))
        report = drain(drain_queue, execute)
    assert report.failures  # no record: a permanent error for this message
    assert secret not in str(report.failures[0].error)
    assert orphan.uuid in str(report.failures[0].error)
    assert secret not in caplog.text


# -- 5. the scheduler's sweeps use each task type's own retry policy -------------------------


@pytest.mark.parametrize(("max_attempts", "requeued"), [(5, 1), (1, 0)])
def test_the_scheduler_sweeps_with_the_retry_policy_the_task_was_registered_with(
    clock, max_attempts, requeued
):
    from simple_async_tasks import TaskApp

    app = TaskApp("memory://", clock=clock)

    @app.task(SendEmail, retry=RetryPolicy(max_attempts=max_attempts, jitter=0.0))
    def send(task: SendEmail) -> None:
        raise ConnectionError("down")

    app.enqueue(SendEmail(user_id="u1"))
    runs = min(3, max_attempts)
    for _ in range(runs):  # fail `runs` times, then lose the retry's message
        message = app.queue.receive(1)
        while not message:
            clock.advance(timedelta(seconds=30))
            message = app.queue.receive(1)
        with pytest.raises(ConnectionError) if max_attempts == runs and _ == runs - 1 else _no():
            app.executor(SendEmail).execute_raw(_raw(message[0].body))
    while app.queue.receive(10):  # the messages of the retries are lost
        clock.advance(timedelta(hours=1))
    clock.advance(timedelta(hours=1))
    report = app.scheduler().run_once()
    assert report.requeued == requeued


def _raw(body: str):
    from simple_async_tasks.parcel import parse_parcel

    return parse_parcel(body)


class _no:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


# -- 10. clock skew: a worker whose clock runs ahead does not take over a live attempt ------


@pytest.mark.parametrize(
    ("margin", "taken_over"), [(timedelta(minutes=15), False), (timedelta(0), True)]
)
def test_a_worker_with_a_clock_ahead_within_the_margin_does_not_take_over(
    make_dao, margin, taken_over
):
    """With the margin above the skew, no takeover; without one, the same skew takes a live
    attempt over (so the margin is what protects it)."""
    from simple_async_tasks import InMemoryTaskQueue
    from simple_async_tasks.testing import FakeClock

    here, ahead = FakeClock(), FakeClock()
    ahead.advance(timedelta(minutes=10))  # another worker's clock, 10 minutes fast
    dao_here = make_dao(SendEmail, here)  # one store; the executors read different clocks
    queue = InMemoryTaskQueue(clock=here)
    task = enqueuer_for(dao_here, queue, here)(SendEmail(user_id="u1"))
    started, finish = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow(task: SendEmail) -> None:
        runs.append("here")
        started.set()
        assert finish.wait(10)

    execute_here = executor_for(dao_here, queue, here, slow, clock_skew=margin)
    execute_ahead = executor_for(
        dao_here, queue, ahead, lambda t: runs.append("ahead"), clock_skew=margin
    )
    running = threading.Thread(target=execute_here, args=(task,))
    running.start()
    assert started.wait(10)
    outcome = execute_ahead(task).outcome
    finish.set()
    running.join(10)
    if taken_over:
        assert outcome is ExecuteOutcome.EXECUTED
        assert runs == ["here", "ahead"]
    else:
        assert outcome is ExecuteOutcome.RETRY_LATER
        assert runs == ["here"]


# -- 2b. leases seen from the logic; the hard time limit ----------------------------------


def test_a_taken_over_attempt_learns_it_at_its_next_renewal(dao, queue, clock):
    from simple_async_tasks import current_lease
    from simple_async_tasks.errors import LeaseLostError

    task = enqueuer_for(dao, queue, clock)(SendEmail(user_id="u1"))
    seen: list[str] = []

    def logic(task: SendEmail) -> None:
        lease = current_lease()
        if task.attempts == 1:
            lease.renew()  # still ours: renewed by hand
            assert not lease.lost
            clock.advance(LEASE * 2)  # stalls past its lease...
            assert execute(task).outcome is ExecuteOutcome.EXECUTED  # ...and is taken over
            with pytest.raises(LeaseLostError, match="lost"):
                lease.renew()
            assert lease.lost
            with pytest.raises(LeaseLostError):
                lease.check()
            seen.append("lost")
        else:
            seen.append("takeover ran")

    execute = executor_for(dao, queue, clock, logic)
    result = execute(task)
    assert seen == ["takeover ran", "lost"]
    assert result.task.status is S.FULFILLED  # written by the takeover, not the late attempt
    stored = dao.get("u1")
    assert (stored.attempts, stored.failures) == (2, 1)
    with pytest.raises(LookupError, match="only available inside"):
        current_lease()


def test_an_attempt_past_its_time_limit_is_recorded_failed_and_its_late_result_refused(
    make_dao,
):
    from simple_async_tasks import InMemoryTaskQueue, current_lease

    dao = make_dao(SendEmail)
    queue = InMemoryTaskQueue()
    task = enqueuer_for(dao, queue, system_clock)(SendEmail(user_id="u1"))
    done = threading.Event()
    lost: list[bool] = []

    def logic(task: SendEmail) -> str:
        time.sleep(0.6)
        lost.append(current_lease().lost)
        done.set()
        return "late"

    execute = executor_for(dao, queue, system_clock, logic, time_limit=timedelta(seconds=0.1))
    started = time.monotonic()
    result = execute(task)
    assert time.monotonic() - started < 0.5  # stopped waiting at the limit
    assert result.outcome is ExecuteOutcome.FAILED
    assert result.task.status is S.FAILED
    assert "TimeLimitExceededError" in (result.task.last_error or "")
    assert result.task.failures == 1
    assert done.wait(5)
    assert lost == [True]  # the logic can see it should stop
    assert dao.get("u1").status is S.FAILED  # the late result changed nothing


def test_a_renewal_racing_the_final_write_is_not_reported_as_a_lost_lease(caplog):
    """The heartbeat may be renewing while the attempt records its end; the refused renewal
    of a finished attempt is expected, not a lost lease to warn about."""
    from datetime import datetime, timezone

    from simple_async_tasks.errors import ConditionFailedError
    from simple_async_tasks.lifecycle.lease import Lease

    def refused() -> datetime:
        raise ConditionFailedError(None)  # the final write landed first

    def lease() -> Lease:
        return Lease(
            task_type="SendEmail",
            task_uuid="u",
            lease_id="L",
            until=datetime(2026, 1, 1, tzinfo=timezone.utc),
            length=LEASE,
            renew=refused,
        )

    with caplog.at_level(logging.WARNING, logger="simple_async_tasks"):
        finished = lease()
        finished.close()  # the attempt ended
        finished.beat()
    assert caplog.text == ""
    with caplog.at_level(logging.WARNING, logger="simple_async_tasks"):
        lease().beat()  # a running attempt whose renewal is refused: reported
    assert "was lost" in caplog.text


# -- issue 15: a deleted task's message still on the queue ----------------------------------


def test_a_deleted_tasks_message_is_skipped_and_a_never_stored_tasks_still_fails(
    dao, queue, clock
):
    from simple_async_tasks.operations import delete_task
    from simple_async_tasks.parcel import ParcelMeta, TaskParcel

    ran: list[str] = []
    enqueue = enqueuer_for(dao, queue, clock)
    execute = executor_for(dao, queue, clock, lambda task: ran.append(task.user_id))
    deleted = enqueue(SendEmail(user_id="deleted"))
    delete_task(dao, "deleted")
    never = SendEmail(user_id="never-stored")
    queue.push(TaskParcel(task=never, meta=ParcelMeta.for_queue(queue, "SendEmail")))
    report = drain(queue, execute)
    assert ran == []
    assert [r.task.uuid for r in report.results if r.outcome is ExecuteOutcome.SKIPPED] == [
        deleted.uuid
    ]
    assert [f.error.uuid for f in report.failures] == [never.uuid]  # still a permanent error
    assert len(queue) == 0
    assert dao.get("deleted") is None  # the skip wrote nothing back
