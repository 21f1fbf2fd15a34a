"""The worker's async lane (issue 16): attempts of ``async def`` logic awaited together on
one event loop, up to ``async_concurrency``, beside the thread pool of sync logic; the
same lifecycle, and the same graceful stop. On SQLite."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from typing import Any

from simple_async_tasks import AsyncTaskStatus, TaskApp
from simple_async_tasks.errors import TimeLimitExceededError

from .tasks import SendEmail, SyncAccount

S = AsyncTaskStatus


def make_app(tmp_path: Any, wait: float, **options: Any) -> tuple[TaskApp, dict[str, Any]]:
    app = TaskApp(f"sqlite:///{tmp_path / 't.db'}")
    seen: dict[str, Any] = {"running": 0, "most": 0, "runs": [], "threads": set()}
    lock = threading.Lock()

    @app.task(SendEmail, **options)
    async def send(task: SendEmail) -> None:
        with lock:
            seen["running"] += 1
            seen["most"] = max(seen["most"], seen["running"])
            seen["runs"].append(task.user_id)
            seen["threads"].add(threading.get_ident())
        try:
            await asyncio.sleep(wait)
        finally:
            with lock:
                seen["running"] -= 1

    @app.task(SyncAccount)
    def sync(task: SyncAccount) -> None:
        with lock:
            seen["runs"].append(f"sync {task.account_id}")

    return app, seen


def test_two_hundred_async_attempts_wait_together_on_one_loop(tmp_path):
    app, seen = make_app(tmp_path, wait=0.3)
    for n in range(200):
        app.enqueue(SendEmail(user_id=f"u{n}"))
    app.enqueue(SyncAccount(account_id="a", job=1))
    worker = app.worker(concurrency=1, schedule=False, poll_wait=timedelta(0), register=False)
    started = time.monotonic()
    summary = worker.run(max_idle=timedelta(seconds=0.3), handle_signals=False)
    elapsed = time.monotonic() - started
    assert (summary.succeeded, summary.failed) == (201, 0)
    assert seen["most"] >= 50  # one thread of sync logic, yet many attempts at once
    assert len(seen["threads"]) == 1  # all on the lane's loop thread
    assert elapsed < 15  # 200 x 0.3 s one after another would be 60 s
    assert sorted(seen["runs"]) == sorted([f"u{n}" for n in range(200)] + ["sync a"])
    assert app.dao(SendEmail).count_by_status(S.FULFILLED) == 200


def test_a_stopped_worker_finishes_the_started_attempts_and_hands_back_the_rest(tmp_path):
    app, seen = make_app(tmp_path, wait=0.6)
    for n in range(30):
        app.enqueue(SendEmail(user_id=f"u{n}"))
    worker = app.worker(
        concurrency=1, async_concurrency=5, schedule=False, poll_wait=timedelta(0), register=False
    )
    runner = threading.Thread(target=worker.run, kwargs={"handle_signals": False})
    runner.start()
    time.sleep(0.3)  # five attempts are running, the rest wait for a place
    worker.stop()
    runner.join(20)
    assert not runner.is_alive()
    first = list(seen["runs"])
    assert 5 <= len(first) < 30
    dao = app.dao(SendEmail)
    assert dao.count_by_status(S.FULFILLED) == len(first)  # the started ones finished
    assert dao.count_by_status(S.ATTEMPTED) == 0  # none cut off mid-attempt
    again = app.worker(concurrency=1, schedule=False, poll_wait=timedelta(0), register=False)
    again.run(max_idle=timedelta(seconds=0.5), handle_signals=False)
    assert sorted(seen["runs"]) == sorted(f"u{n}" for n in range(30))  # each once, none lost
    assert dao.count_by_status(S.FULFILLED) == 30


def test_on_the_lane_a_time_limit_cancels_and_a_slow_attempt_keeps_its_lease(tmp_path):
    from simple_async_tasks import ExecuteOptions, RetryPolicy

    app, seen = make_app(
        tmp_path,
        wait=1.2,
        options=ExecuteOptions(lease=timedelta(seconds=0.6), retry=RetryPolicy(max_attempts=1)),
    )
    app.enqueue(SendEmail(user_id="slow"))
    worker = app.worker(concurrency=1, schedule=False, poll_wait=timedelta(0), register=False)
    summary = worker.run(max_idle=timedelta(seconds=0.3), handle_signals=False)
    assert summary.succeeded == 1  # twice its lease long, renewed meanwhile
    assert seen["runs"] == ["slow"]
    stored = app.dao(SendEmail).get("slow")
    assert (stored.status, stored.attempts, stored.failures) == (S.FULFILLED, 1, 0)

    (tmp_path / "limited").mkdir()
    limited, _ = make_app(
        tmp_path / "limited",
        wait=5,
        options=ExecuteOptions(
            time_limit=timedelta(seconds=0.2), retry=RetryPolicy(max_attempts=1)
        ),
    )
    limited.enqueue(SendEmail(user_id="late"))
    worker = limited.worker(concurrency=1, schedule=False, poll_wait=timedelta(0), register=False)
    started = time.monotonic()
    worker.run(max_idle=timedelta(seconds=0.3), handle_signals=False)
    assert time.monotonic() - started < 3  # cancelled, not waited for
    late = limited.dao(SendEmail).get("late")
    assert late.status is S.FAILED
    assert TimeLimitExceededError.__name__ in (late.last_error or "")
