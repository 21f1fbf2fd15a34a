"""Enqueue + execute of trivial tasks on SQLite: our worker against huey and a plain floor.

Every row writes to a fresh database file in WAL mode with ``synchronous=NORMAL`` (our
setting: a commit survives a process crash, and a power cut may lose the last ones),
unless the row says otherwise. Each row times the enqueue of every task and then its
execution by a consumer, start to finish.

Rows:
- plain sqlite3: 1 INSERT at enqueue + 1 UPDATE at execution, one thread, no queue
  semantics at all. No task system can beat it; it is the floor of two commits per task.
- huey ``SqliteHuey`` with its consumer (threads), at our durability and at its default
  (``synchronous=FULL``): huey deletes a message when it takes it (at most once), keeps
  no task record and has no dedup.
- ours: ``TaskApp`` on ``sqlite:///`` with ``Worker(concurrency=1, 4, 16)``; then a bare
  single-thread receive / execute / delete loop over the same backends.

    python benchmarks/sqlite.py            # 5,000 tasks, best of 3 rounds
    python benchmarks/sqlite.py --quick    # 300 tasks, 1 round (CI checks it still works)
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path


from inmemory import Trivial, best_of, work

from simple_async_tasks import TaskApp
from simple_async_tasks.parcel import parse_parcel


def plain_sqlite(count: int, path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, status TEXT)")
    for n in range(count):
        conn.execute("INSERT INTO t (id, n, status) VALUES (?, ?, 'QUEUED')", (n, n))
    for n in range(count):
        work(n)
        conn.execute("UPDATE t SET status = 'FULFILLED' WHERE id = ? AND status = 'QUEUED'", (n,))
    conn.close()


def huey_consumer(count: int, path: Path, *, synchronous: str, workers: int = 4) -> None:
    from huey import SqliteHuey
    from huey.storage import SqliteStorage

    class Storage(SqliteStorage):  # huey's fsync option offers FULL or OFF, not NORMAL
        def _create_connection(self) -> sqlite3.Connection:
            conn: sqlite3.Connection = super()._create_connection()
            conn.execute(f"PRAGMA synchronous={synchronous}")
            return conn

    huey = SqliteHuey(filename=str(path), storage_class=Storage)
    done = threading.Event()
    executed = [0]
    lock = threading.Lock()

    @huey.task()
    def hwork(n: int) -> None:
        work(n)
        with lock:
            executed[0] += 1
            if executed[0] == count:
                done.set()

    for n in range(count):
        hwork(n)
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False)
    consumer.start()
    try:
        if not done.wait(600):
            raise RuntimeError(f"huey executed {executed[0]} of {count} tasks")
    finally:
        consumer.stop(graceful=True)


def _app(path: Path) -> TaskApp:
    app = TaskApp(f"sqlite:///{path}")

    @app.task(Trivial)
    def run(task: Trivial) -> int:
        return work(task.n)

    return app


def ours_worker(count: int, path: Path, *, concurrency: int) -> None:
    app = _app(path)
    for n in range(count):
        app.enqueue(Trivial(n=n))
    worker = app.worker(concurrency=concurrency, schedule=False)
    worker.on_progress = lambda summary: worker.stop() if summary.delivered >= count else None
    summary = worker.run(handle_signals=False, max_idle=timedelta(seconds=30))
    if summary.succeeded != count:
        raise RuntimeError(f"the worker ran {summary.succeeded} of {count} tasks")


def ours_loop(count: int, path: Path) -> None:
    app = _app(path)
    for n in range(count):
        app.enqueue(Trivial(n=n))
    source = app.backend.source()
    executor = app.executor(Trivial)
    done = 0
    while done < count:
        for delivery in source.take(10, timedelta(0)):
            executor.execute_raw(parse_parcel(delivery.body))
            source.done(delivery)
            done += 1


def timed(fn: Callable[[int, Path], None], count: int, rounds: int) -> float:
    """The best time of ``rounds`` runs, each on a fresh file."""

    def on_a_fresh_file(tasks: int) -> None:
        with tempfile.TemporaryDirectory() as folder:
            fn(tasks, Path(folder) / "bench.db")

    return best_of(rounds, on_a_fresh_file, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 tasks, one round")
    parser.add_argument("--tasks", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    count, rounds = (300, 1) if args.quick else (args.tasks, args.rounds)

    cases: list[tuple[str, Callable[[int, Path], None]]] = [
        ("plain sqlite3: INSERT + UPDATE (floor)", plain_sqlite),
        (
            "huey SqliteHuey, 4 threads, synchronous=NORMAL",
            lambda c, p: huey_consumer(c, p, synchronous="NORMAL"),
        ),
        (
            "huey SqliteHuey, 4 threads, default (FULL)",
            lambda c, p: huey_consumer(c, p, synchronous="FULL"),
        ),
    ]
    cases += [
        (f"ours, Worker(concurrency={c})", lambda n, p, c=c: ours_worker(n, p, concurrency=c))
        for c in (1, 4, 16)
    ]
    cases.append(("ours, bare receive / execute / delete loop", ours_loop))

    results: dict[str, float] = {}
    for name, fn in cases:
        try:
            results[name] = count / timed(fn, count, rounds)
        except ImportError:
            print(f"({name}: not installed: pip install --group bench)")
    print(
        f"{count:,} tasks enqueued then executed, best of {rounds}; Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )
    ours = results["ours, Worker(concurrency=4)"]
    huey = results.get("huey SqliteHuey, 4 threads, synchronous=NORMAL")
    print(f"{'what':<50} {'tasks/s':>9} {'vs ours (c=4)':>14}")
    for name, rate in results.items():
        print(f"{name:<50} {rate:>9,.0f} {rate / ours:>13.2f}×")
    if huey is not None:
        print(f"\nours (c=4) / huey at the same durability: {ours / huey:.2f}×")
    floor = results["plain sqlite3: INSERT + UPDATE (floor)"]
    print(f"ours (c=4) / the plain sqlite3 floor: {ours / floor:.2f}×")


if __name__ == "__main__":
    main()
