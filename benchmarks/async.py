"""Async against sync (issue 16), on SQLite: I/O-bound tasks through the worker, and
enqueues from many coroutines against the sync enqueue in threads.

Rows:
- worker: ``tasks`` tasks whose logic waits ``wait`` ms (``await asyncio.sleep`` for the
  async logic, ``time.sleep`` for the sync one), through ``TaskApp.worker`` at the same
  concurrency: sync logic on that many threads, async logic on the worker's async lane
  (one event loop, that many attempts at once), then the lane beside a pool of one
  thread; tasks/s and the peak of traced Python memory (``tracemalloc``) while the
  worker runs.
- enqueue: ``enqueues`` tasks enqueued from 100 concurrent coroutines (``aenqueue``,
  each on a worker thread: SQLite blocks) against 100 threads calling ``enqueue``;
  enqueues/s.

    python benchmarks/async.py            # 1,000 tasks of 50 ms at concurrency 100, 2,000 enqueues
    python benchmarks/async.py --quick    # 100 tasks, 200 enqueues (CI checks it still runs)
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, TaskApp


@attrs.frozen(kw_only=True)
class Wait(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("n",)
    n: int


def worker_row(
    kind: str, tasks: int, wait: float, concurrency: int, folder: Path, threads: int | None = None
) -> tuple[float, float]:
    app = TaskApp(f"sqlite:///{folder / f'{kind}-{threads}.db'}")
    if kind == "async":

        @app.task(Wait)
        async def logic(task: Wait) -> None:
            await asyncio.sleep(wait)

    else:

        @app.task(Wait)
        def logic(task: Wait) -> None:
            time.sleep(wait)

    for n in range(tasks):
        logic.enqueue(n=n)
    worker = app.worker(
        concurrency=threads or concurrency,
        async_concurrency=concurrency,
        schedule=False,
        poll_wait=timedelta(0),
        register=False,
    )
    tracemalloc.start()
    started = time.perf_counter()
    summary = worker.run(max_idle=timedelta(seconds=0.3), handle_signals=False)
    elapsed = time.perf_counter() - started - 0.3  # the idle wait at the end
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert summary.succeeded == tasks, summary
    return tasks / elapsed, peak / 1e6


def enqueue_row(kind: str, count: int, folder: Path) -> float:
    app = TaskApp(f"sqlite:///{folder / f'enqueue-{kind}.db'}")

    @app.task(Wait)
    def logic(task: Wait) -> None:
        return None

    logic.enqueue(n=-1)  # the file and its tables exist before the clock starts
    started = time.perf_counter()
    if kind == "async":

        async def main() -> None:
            limit = asyncio.Semaphore(100)

            async def one(n: int) -> None:
                async with limit:
                    await logic.aenqueue(n=n)

            await asyncio.gather(*(one(n) for n in range(count)))

        asyncio.run(main())
    else:
        with ThreadPoolExecutor(100) as pool:
            list(pool.map(lambda n: logic.enqueue(n=n), range(count)))
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    tasks, wait, concurrency, enqueues = (
        (100, 0.05, 20, 200) if args.quick else (1000, 0.05, 100, 2000)
    )
    print(f"Python {platform.python_version()}, {threading.active_count()} thread(s) at start")
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder)
        print(f"\nworker, {tasks} tasks waiting {wait * 1000:.0f} ms, concurrency {concurrency}")
        print(f"{'':36}{'tasks/s':>10}{'peak MB':>10}")
        rates = {}
        for kind, threads, label in (
            ("sync", None, f"sync logic, {concurrency} threads"),
            ("async", None, f"async logic, lane of {concurrency}"),
            ("async", 1, f"async, lane of {concurrency}, 1 thread"),
        ):
            rate, peak = worker_row(kind, tasks, wait, concurrency, where, threads)
            rates[label] = rate
            print(f"{label:36}{rate:>10,.0f}{peak:>10.1f}")
        first, second = list(rates.values())[:2]
        print(f"async / sync: {second / first:.2f}x the throughput")
        print(f"\nenqueue, {enqueues} tasks, 100 at once")
        print(f"{'':28}{'enqueues/s':>12}")
        made = {}
        for kind in ("sync", "async"):
            made[kind] = enqueue_row(kind, enqueues, where)
            label = "100 coroutines (aenqueue)" if kind == "async" else "100 threads (enqueue)"
            print(f"{label:28}{made[kind]:>12,.0f}")
        print(f"coroutines / threads: {made['async'] / made['sync']:.2f}x")


if __name__ == "__main__":
    main()
