"""``async def`` task logic (issue 16): awaited by the same execute lifecycle as sync logic,
with the same statuses, retries, leases, time limit and kept results; on memory and
SQLite here, through the worker and the Lambda handler elsewhere."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import pytest

from simple_async_tasks import (
    AsyncTaskStatus,
    ExecuteOptions,
    ExecuteOutcome,
    RetryLaterError,
    RetryPolicy,
    TaskApp,
    current_lease,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.errors import TimeLimitExceededError
from simple_async_tasks.testing import drain

from ..tasks import SendEmail

S = AsyncTaskStatus


def executor(dao, queue, clock, logic, **options: Any):
    options.setdefault("retry", RetryPolicy(max_attempts=2, jitter=0.0))
    return with_execute_lifecycle(
        logic, dao=dao, queue=queue, clock=clock, options=ExecuteOptions(**options)
    )


def enqueue(dao, queue, clock, user_id="u1"):
    return with_queue_lifecycle(
        get_new=lambda: SendEmail(user_id=user_id), dao=dao, queue=queue, clock=clock
    )()


def test_async_logic_is_awaited_and_its_result_kept(dao, queue, clock):
    seen: list[Any] = []

    async def logic(task: SendEmail) -> dict[str, str]:
        await asyncio.sleep(0)
        seen.append((task.status, current_lease().task_uuid))  # the lease is visible
        return {"sent": task.user_id}

    task = enqueue(dao, queue, clock)
    result = executor(dao, queue, clock, logic)(task)
    assert result.outcome is ExecuteOutcome.EXECUTED
    assert result.result == {"sent": "u1"}  # the awaited value, not a coroutine
    assert result.task.status is S.FULFILLED
    assert result.task.result == '{"sent":"u1"}'
    assert seen == [(S.ATTEMPTED, task.uuid)]


def test_a_failing_async_logic_fails_and_is_retried_like_a_sync_one(dao, queue, clock):
    calls: list[int] = []

    async def logic(task: SendEmail) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("mail server down")

    enqueue(dao, queue, clock)
    report = drain(queue, [executor(dao, queue, clock, logic)])
    assert len(calls) == 2
    stored = dao.get("u1")
    assert (stored.status, stored.attempts, stored.failures) == (S.FULFILLED, 2, 1)
    assert report.failures == []


def test_retry_later_from_async_logic_requeues(dao, queue, clock):
    async def logic(task: SendEmail) -> None:
        raise RetryLaterError("busy", delay=timedelta(seconds=30))

    task = enqueue(dao, queue, clock)
    result = executor(dao, queue, clock, logic)(task)
    assert result.outcome is ExecuteOutcome.RETRY_LATER
    assert dao.get("u1").status is S.QUEUED
    assert dao.get("u1").failures == 0


def test_an_async_logic_past_its_time_limit_is_cancelled_and_fails(dao, queue, clock):
    cancelled = threading.Event()

    async def logic(task: SendEmail) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    task = enqueue(dao, queue, clock)
    run = executor(dao, queue, clock, logic, time_limit=timedelta(seconds=0.2),
                   retry=RetryPolicy(max_attempts=1))  # fmt: skip
    with pytest.raises(TimeLimitExceededError):
        run(task)
    assert cancelled.is_set()  # unlike a thread, a coroutine is stopped
    assert dao.get("u1").status is S.FAILED


def test_a_task_app_takes_async_logic_and_drains_it():
    app = TaskApp("memory://")

    @app.task(SendEmail)
    async def send(task: SendEmail) -> str:
        await asyncio.sleep(0)
        return f"sent {task.user_id}"

    send.enqueue(user_id="u1")
    assert drain(app).delivered == 1
    assert send.result("u1") == "sent u1"
    assert asyncio.run(send(SendEmail(user_id="u2"))) == "sent u2"  # the logic itself


def test_the_worker_runs_async_tasks_beside_sync_ones(tmp_path):
    from ..tasks import SyncAccount

    app = TaskApp(f"sqlite:///{tmp_path / 't.db'}")
    ran: list[str] = []

    @app.task(SendEmail)
    async def send(task: SendEmail) -> None:
        await asyncio.sleep(0.01)
        ran.append(f"async {task.user_id}")

    @app.task(SyncAccount)
    def sync(task: SyncAccount) -> None:
        ran.append(f"sync {task.account_id}")

    for n in range(3):
        send.enqueue(user_id=f"u{n}")
        sync.enqueue(account_id=f"a{n}", job=n)
    worker = app.worker(concurrency=4, schedule=False, poll_wait=timedelta(0), register=False)
    summary = worker.run(max_idle=timedelta(seconds=0.5), handle_signals=False)
    assert (summary.succeeded, summary.failed) == (6, 0)
    assert sorted(ran) == sorted(
        [f"async u{n}" for n in range(3)] + [f"sync a{n}" for n in range(3)]
    )
    assert app.dao(SendEmail).count_by_status(S.FULFILLED) == 3
