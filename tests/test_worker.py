"""The local worker: runs a SQLite queue dry, settles messages, stops gracefully on SIGTERM."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from simple_async_tasks import (
    AsyncTaskStatus,
    RetryPolicy,
    SqliteTaskDao,
    SqliteTaskQueue,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.worker import SqliteSource, Worker

from .tasks import SendEmail

ROOT = Path(__file__).resolve().parents[1]
S = AsyncTaskStatus


def test_worker_runs_everything_and_leaves_failures_for_redelivery(tmp_path):
    from datetime import timedelta

    dao = SqliteTaskDao(SendEmail, tmp_path / "t.db")
    queue = SqliteTaskQueue(tmp_path / "t.db", visibility_timeout=timedelta(milliseconds=200))
    enqueue = with_queue_lifecycle(get_new=lambda u: SendEmail(user_id=u), dao=dao, queue=queue)
    fails = {"flaky": 1}

    def logic(task):
        if fails.get(task.user_id):
            fails[task.user_id] -= 1
            raise ConnectionError("down")

    execute = with_execute_lifecycle(
        logic, dao=dao, queue=queue, retry=RetryPolicy(initial_delay=timedelta(0), jitter=0)
    )
    for user in ("a", "b", "flaky"):
        enqueue(user)
    queue.push_bodies(["not json"])
    worker = Worker(
        execute, SqliteSource(queue), concurrency=2, poll_wait=timedelta(milliseconds=50)
    )
    summary = worker.run(handle_signals=False, max_idle=timedelta(seconds=1))
    assert [dao.get(u).status for u in ("a", "b", "flaky")] == [S.FULFILLED] * 3
    assert dao.get("flaky").attempts == 2  # failed once, redelivered, then done
    assert summary.succeeded == 3
    assert summary.failed == 6  # the flaky attempt, and the bad message on each of 5 receives
    assert len(queue) == 0
    assert len(queue.dead_letters()) == 1  # the bad message, after max_receives


WORKER = r"""
import sys, time
sys.path.insert(0, {root!r})
from datetime import timedelta
from simple_async_tasks import SqliteTaskDao, SqliteTaskQueue, with_execute_lifecycle
from simple_async_tasks.worker import SqliteSource, Worker
from tests.tasks import SendEmail

db, log = sys.argv[1:3]
dao = SqliteTaskDao(SendEmail, db)
queue = SqliteTaskQueue(db)

def logic(task):
    with open(log, "a") as out:
        out.write("start " + task.user_id + "\n")
    time.sleep(1.5)
    with open(log, "a") as out:
        out.write("end " + task.user_id + "\n")

worker = Worker(with_execute_lifecycle(logic, dao=dao, queue=queue), SqliteSource(queue),
                concurrency=1, poll_wait=timedelta(milliseconds=50))
worker.run()
"""


def test_a_task_longer_than_the_visibility_timeout_keeps_its_message_hidden(tmp_path):
    """The worker extends a running task's message at each lease renewal, so the message
    is not delivered again under it (before leases it reappeared and was put back)."""
    from datetime import timedelta

    from simple_async_tasks import ExecuteOptions

    dao = SqliteTaskDao(SendEmail, tmp_path / "t.db")
    queue = SqliteTaskQueue(tmp_path / "t.db", visibility_timeout=timedelta(milliseconds=400))
    with_queue_lifecycle(get_new=lambda: SendEmail(user_id="slow"), dao=dao, queue=queue)()
    runs: list[str] = []

    def logic(task):
        runs.append(task.user_id)
        time.sleep(1.5)  # about 4 visibility timeouts

    execute = with_execute_lifecycle(
        logic, dao=dao, queue=queue, options=ExecuteOptions(lease=timedelta(seconds=0.3))
    )
    worker = Worker(
        execute, SqliteSource(queue), concurrency=2, poll_wait=timedelta(milliseconds=50)
    )
    summary = worker.run(handle_signals=False, max_idle=timedelta(seconds=0.5))
    assert runs == ["slow"]
    assert summary.delivered == 1  # received once: never redelivered while it ran
    assert dao.get("slow").status is S.FULFILLED
    assert len(queue) == 0


def test_sigterm_during_a_long_task_finishes_it_takes_no_new_one_and_exits_0(tmp_path):
    db, log = tmp_path / "t.db", tmp_path / "log.txt"
    dao = SqliteTaskDao(SendEmail, db)
    queue = SqliteTaskQueue(db)
    enqueue = with_queue_lifecycle(get_new=lambda u: SendEmail(user_id=u), dao=dao, queue=queue)
    enqueue("first")
    enqueue("second")
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER.format(root=str(ROOT)), str(db), str(log)]
    )
    deadline = time.monotonic() + 60
    while not (log.exists() and "start" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    lines = log.read_text().split("\n")
    started = [line for line in lines if line.startswith("start")]
    assert len(started) == 1  # no new task after SIGTERM
    user = started[0].split()[1]
    assert f"end {user}" in lines  # the running one finished
    assert dao.get(user).status is S.FULFILLED
    other = "second" if user == "first" else "first"
    assert dao.get(other).status is S.QUEUED
    assert len(queue) == 1


def test_a_failing_poll_or_scheduler_run_does_not_stop_the_worker(tmp_path):
    from datetime import timedelta

    dao = SqliteTaskDao(SendEmail, tmp_path / "t.db")
    queue = SqliteTaskQueue(tmp_path / "t.db")
    enqueue = with_queue_lifecycle(get_new=lambda u: SendEmail(user_id=u), dao=dao, queue=queue)
    execute = with_execute_lifecycle(lambda task: None, dao=dao, queue=queue)
    enqueue("a")

    class FlakySource(SqliteSource):
        polls = 0

        def take(self, max_messages, wait):
            self.polls += 1
            if self.polls == 1:
                raise sqlite3.OperationalError("database is locked")
            return super().take(max_messages, wait)

    class FlakyScheduler:
        runs = 0

        def run_once(self, **_):
            self.runs += 1
            if self.runs == 1:
                raise ConnectionError("endpoint unreachable")

    scheduler = FlakyScheduler()
    worker = Worker(
        execute,
        FlakySource(queue),
        scheduler=scheduler,
        schedule_every=timedelta(milliseconds=100),
        poll_wait=timedelta(milliseconds=10),
    )
    summary = worker.run(handle_signals=False, max_idle=timedelta(seconds=1.5))
    assert dao.get("a").status is S.FULFILLED
    assert (summary.poll_errors, summary.scheduler_errors) == (1, 1)
    assert summary.scheduler_runs >= 1


class _CountingEvent(threading.Event):
    """A stop event that counts how often the worker waited on it."""

    waits = 0

    def wait(self, timeout=None):
        self.waits += 1
        return super().wait(timeout)


def test_a_full_worker_waits_for_a_task_to_finish_instead_of_polling(tmp_path):
    """While every slot is busy the worker sleeps until a task finishes: it used to wake
    every 10 ms, which capped it at about 100 tasks per second per slot."""
    from datetime import timedelta

    dao = SqliteTaskDao(SendEmail, tmp_path / "t.db")
    queue = SqliteTaskQueue(tmp_path / "t.db")
    enqueue = with_queue_lifecycle(get_new=lambda u: SendEmail(user_id=u), dao=dao, queue=queue)
    enqueue("slow")
    release = threading.Event()
    execute = with_execute_lifecycle(lambda task: release.wait(5), dao=dao, queue=queue)
    worker = Worker(execute, SqliteSource(queue), concurrency=1, poll_wait=timedelta(seconds=5))
    worker._stop = stop = _CountingEvent()
    worker._wake = wake = _CountingEvent()
    threading.Timer(0.5, release.set).start()
    worker.on_progress = lambda summary: worker.stop()
    summary = worker.run(handle_signals=False)
    assert summary.succeeded == 1
    assert dao.get("slow").status is S.FULFILLED
    assert stop.waits + wake.waits <= 3  # polling every 10 ms for 0.5 s made about 50
