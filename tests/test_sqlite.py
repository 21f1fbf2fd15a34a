"""The durable embedded backends, SqliteTaskDao and SqliteTaskQueue, across processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from simple_async_tasks import (
    AsyncTaskStatus,
    SqliteTaskDao,
    SqliteTaskQueue,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.contracts import ParcelMeta, TaskParcel
from simple_async_tasks.errors import QueueLimitError
from simple_async_tasks.parcel import decode_parcel, parse_parcel
from simple_async_tasks.serialization import default_converter

from .tasks import SendEmail

ROOT = Path(__file__).resolve().parents[1]
S = AsyncTaskStatus


def parcel(user_id: str) -> TaskParcel[SendEmail]:
    return TaskParcel(
        task=SendEmail(user_id=user_id),
        meta=ParcelMeta(queue_type="SQLITE", queue_url="q", task_type="SendEmail"),
    )


def test_queue_visibility_timeout_receive_counts_and_dead_letters(tmp_path, clock):
    queue = SqliteTaskQueue(
        tmp_path / "q.db", clock=clock, visibility_timeout=timedelta(seconds=30), max_receives=2
    )
    queue.push(parcel("a"))
    queue.push(parcel("late"), delay=timedelta(seconds=60))
    (first,) = queue.receive(10)
    assert parse_parcel(first.body).task["user_id"] == "a"
    assert first.receive_count == 1
    assert queue.receive(10) == []  # hidden while being processed
    clock.advance(31)  # the worker died: it comes back
    (again,) = queue.receive(10)
    assert again.receive_count == 2
    assert not queue.delete(first)  # an expired receipt deletes nothing
    clock.advance(31)
    late_only = queue.receive(10)  # a third receive: "a" is dead-lettered instead
    assert [parse_parcel(m.body).task["user_id"] for m in late_only] == ["late"]
    assert [c for _, _, c, _ in queue.dead_letters()] == [2]
    assert queue.delete(late_only[0])
    assert queue.redrive() == 1
    assert [parse_parcel(m.body).task["user_id"] for m in queue.receive(10)] == ["a"]
    with pytest.raises(QueueLimitError):
        queue.push(parcel("x"), delay=timedelta(hours=1))


def test_queue_survives_a_restart(tmp_path):
    SqliteTaskQueue(tmp_path / "q.db").push(parcel("kept"))
    reopened = SqliteTaskQueue(tmp_path / "q.db")
    assert [parse_parcel(m.body).task["user_id"] for m in reopened.receive()] == ["kept"]


def test_each_message_is_received_once_across_threads(tmp_path):
    queue = SqliteTaskQueue(tmp_path / "q.db")
    queue.push_many([parcel(f"u{i}") for i in range(300)])
    with ThreadPoolExecutor(8) as pool:
        batches = list(pool.map(lambda _: queue.receive(5), range(100)))
    ids = [m.message_id for batch in batches for m in batch]
    assert len(ids) == len(set(ids)) == 300


def test_lifecycle_on_sqlite_runs_each_task_once_under_duplicate_deliveries(tmp_path):
    dao = SqliteTaskDao(SendEmail, tmp_path / "tasks.db")
    queue = SqliteTaskQueue(tmp_path / "tasks.db")
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def logic(task: SendEmail) -> None:
        with lock:
            runs[task.user_id] += 1

    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue
    )
    execute = with_execute_lifecycle(logic, dao=dao, queue=queue)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(enqueue, [i % 100 for i in range(200)]))  # each key twice
    assert len(queue) == 100
    parcels = [decode_parcel(m.body, SendEmail, default_converter) for m in queue.receive(1000)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(execute, parcels * 3))
    assert len(runs) == 100
    assert set(runs.values()) == {1}
    assert all(dao.get(f"u{i}").status is S.FULFILLED for i in range(100))


WORKER = r"""
import os, sys, time
sys.path.insert(0, {root!r})
from datetime import timedelta
from simple_async_tasks import OnFailure, SqliteTaskDao, SqliteTaskQueue, with_execute_lifecycle
from simple_async_tasks.parcel import decode_parcel
from simple_async_tasks.serialization import default_converter
from tests.tasks import SendEmail

db, log, mode = sys.argv[1:4]
dao = SqliteTaskDao(SendEmail, db)
queue = SqliteTaskQueue(db, visibility_timeout=timedelta(seconds=1))

def logic(task):
    with open(log, "a") as out:
        out.write(task.user_id + "\n")
        out.flush()
        os.fsync(out.fileno())
    if mode == "hang":
        time.sleep(60)  # killed here, mid-task

execute = with_execute_lifecycle(logic, dao=dao, queue=queue, lease=timedelta(seconds=1))
idle = 0
while idle < 20:
    batch = queue.receive(5)
    if not batch:
        idle += 1
        time.sleep(0.05)
        continue
    idle = 0
    for message in batch:
        result = execute(decode_parcel(message.body, SendEmail, default_converter),
                         on_failure=OnFailure.LEAVE_MESSAGE)
        if result.outcome.value != "FAILED":
            queue.delete(message)
"""


def _worker(db: Path, log: Path, mode: str) -> subprocess.Popen[bytes]:
    script = WORKER.format(root=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", script, str(db), str(log), mode], stderr=subprocess.PIPE
    )


def _finished(worker: subprocess.Popen[bytes]) -> None:
    """Wait for a worker process; on a non-zero exit, show what it printed."""
    _, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err.decode(errors="replace")[-3000:]


def test_two_worker_processes_on_one_file_run_each_task_once(tmp_path):
    db, log = tmp_path / "tasks.db", tmp_path / "runs.log"
    dao = SqliteTaskDao(SendEmail, db)
    queue = SqliteTaskQueue(db)
    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue
    )
    for i in range(100):
        enqueue(i)
    # every message twice: a duplicate delivery for each task
    queue.push_bodies([m.body for m in queue.receive(1000)])
    queue.push_bodies([m.body for m in queue.receive(1000)] * 2)
    workers = [_worker(db, log, "work") for _ in range(2)]
    for worker in workers:
        _finished(worker)
    runs = Counter(log.read_text().split())
    assert len(runs) == 100
    assert set(runs.values()) == {1}
    assert all(dao.get(f"u{i}").status is S.FULFILLED for i in range(100))


def test_sigkill_of_a_worker_mid_task_loses_nothing(tmp_path):
    db, log = tmp_path / "tasks.db", tmp_path / "runs.log"
    dao = SqliteTaskDao(SendEmail, db)
    queue = SqliteTaskQueue(db, visibility_timeout=timedelta(seconds=1))
    with_queue_lifecycle(get_new=lambda: SendEmail(user_id="victim"), dao=dao, queue=queue)()
    hanging = _worker(db, log, "hang")
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(hanging.pid, signal.SIGKILL)
    hanging.wait(timeout=30)
    assert dao.get("victim").status is S.ATTEMPTED
    _finished(_worker(db, log, "work"))
    assert dao.get("victim").status is S.FULFILLED
    assert log.read_text().split() == ["victim", "victim"]  # the killed run, then the takeover
    assert len(queue) == 0


def test_a_threads_connection_is_closed_when_the_thread_ends(tmp_path):
    """Each thread has its connection; a thread that ends (a worker's pool, a to_thread
    helper) must not leave it to the garbage collector, which Python 3.13 reports as an
    unclosed database (a ResourceWarning)."""
    import gc
    import sqlite3
    import threading

    from simple_async_tasks.backends._sqlite_db import SqliteDatabase

    db = SqliteDatabase.of(tmp_path / "t.db")
    seen: list[sqlite3.Connection] = []
    thread = threading.Thread(target=lambda: seen.append(db.get()))
    thread.start()
    thread.join()
    del thread
    gc.collect()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        seen[0].execute("SELECT 1")
    db.get().execute("SELECT 1")  # this thread's own is untouched
