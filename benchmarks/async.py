"""Async against sync (issue 16), on SQLite, and with ``--dynamodb`` on DynamoDB Local too:
I/O-bound tasks through the worker, and enqueues from many coroutines against the sync
enqueue in threads.

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

With ``--dynamodb`` the same rows run again with the records in DynamoDB Local (the
engine AWS ships, started here on 127.0.0.1) and the messages in a SQLite file (moto's
SQS is too slow to be measured), where the async lane's claims and writes are awaited on
aiobotocore (the ``aws-async`` extra); one more row runs the lane with aiobotocore
hidden, so those calls go to worker threads.

    python benchmarks/async.py            # 1,000 tasks of 50 ms at concurrency 100, 2,000 enqueues
    python benchmarks/async.py --dynamodb # the same, then on DynamoDB Local (needs Java)
    python benchmarks/async.py --quick    # 100 tasks, 200 enqueues (CI checks it still runs)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import itertools
import os
import platform
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import attrs

from simple_async_tasks import AsyncTask, TaskApp
from simple_async_tasks.aio import close_clients


@attrs.frozen(kw_only=True)
class Wait(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("n",)
    n: int


Store = Callable[[str], TaskApp]
"""A new app on the store under test, for one row (the name keeps rows apart)."""


def sqlite_store(folder: Path) -> Store:
    return lambda name: TaskApp(f"sqlite:///{folder / f'{name}.db'}")


@contextlib.contextmanager
def dynamodb_store(folder: Path) -> Iterator[Store]:
    """Apps on DynamoDB Local (one table per row), their messages in a SQLite file."""
    from simple_async_tasks.aws import DynamoTaskDao, create_table
    from simple_async_tasks.testing.local_aws import local_aws

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    tables = itertools.count()
    with local_aws() as aws:
        client = aws.client("dynamodb")
        create_table("bench-warm", client=client)

        async def warm() -> None:  # aiobotocore reads its service models once per process
            dao = DynamoTaskDao(Wait, table_name="bench-warm", endpoint_url=aws.dynamodb)
            try:
                await dao.aio().get("warm")
            finally:
                await close_clients()

        asyncio.run(warm())

        def make(name: str) -> TaskApp:
            table = f"bench-{next(tables)}"
            create_table(table, client=client)
            return TaskApp(
                f"dynamodb://{table}?region=us-east-1&endpoint={aws.dynamodb}",
                queue=f"sqlite:///{folder / f'dynamo-{name}.db'}",
            )

        yield make


@contextlib.contextmanager
def without_aiobotocore() -> Iterator[None]:
    """As if the ``aws-async`` extra were not installed: DynamoDB calls go to threads."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "aiobotocore" else real(name, *args)

    importlib.util.find_spec = find_spec  # type: ignore[assignment]
    try:
        yield
    finally:
        importlib.util.find_spec = real


def worker_row(
    store: Store,
    kind: str,
    tasks: int,
    wait: float,
    concurrency: int,
    threads: int | None = None,
) -> tuple[float, float]:
    app = store(f"{kind}-{threads}")
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


def enqueue_row(store: Store, kind: str, count: int) -> float:
    app = store(f"enqueue-{kind}")

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

            try:
                await asyncio.gather(*(one(n) for n in range(count)))
            finally:
                await close_clients()

        asyncio.run(main())
    else:
        with ThreadPoolExecutor(100) as pool:
            list(pool.map(lambda n: logic.enqueue(n=n), range(count)))
    return count / (time.perf_counter() - started)


def rows(store: Store, tasks: int, wait: float, concurrency: int, enqueues: int) -> None:
    print(f"\nworker, {tasks} tasks waiting {wait * 1000:.0f} ms, concurrency {concurrency}")
    print(f"{'':40}{'tasks/s':>10}{'peak MB':>10}")
    rates = {}
    for kind, threads, label in (
        ("sync", None, f"sync logic, {concurrency} threads"),
        ("async", None, f"async logic, lane of {concurrency}"),
        ("async", 1, f"async, lane of {concurrency}, 1 thread"),
    ):
        rate, peak = worker_row(store, kind, tasks, wait, concurrency, threads)
        rates[label] = rate
        print(f"{label:40}{rate:>10,.0f}{peak:>10.1f}")
    first, second = list(rates.values())[:2]
    print(f"async / sync: {second / first:.2f}x the throughput")
    print(f"\nenqueue, {enqueues} tasks, 100 at once")
    print(f"{'':40}{'enqueues/s':>12}")
    made = {}
    for kind in ("sync", "async"):
        made[kind] = enqueue_row(store, kind, enqueues)
        label = "100 coroutines (aenqueue)" if kind == "async" else "100 threads (enqueue)"
        print(f"{label:40}{made[kind]:>12,.0f}")
    print(f"coroutines / threads: {made['async'] / made['sync']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dynamodb", action="store_true", help="also on DynamoDB Local")
    args = parser.parse_args()
    tasks, wait, concurrency, enqueues = (
        (100, 0.05, 20, 200) if args.quick else (1000, 0.05, 100, 2000)
    )
    print(f"Python {platform.python_version()}, {threading.active_count()} thread(s) at start")
    with tempfile.TemporaryDirectory() as folder:
        print("\n== SQLite ==")
        rows(sqlite_store(Path(folder)), tasks, wait, concurrency, enqueues)
        if not args.dynamodb:
            return
        with dynamodb_store(Path(folder)) as store:
            print("\n== DynamoDB Local (records), SQLite (messages) ==")
            rows(store, tasks, wait, concurrency, enqueues)
            with without_aiobotocore():
                rate, peak = worker_row(store, "async", tasks, wait, concurrency)
                print(f"{'async, lane, no aiobotocore (threads)':40}{rate:>10,.0f}{peak:>10.1f}")
                made = enqueue_row(store, "async", enqueues)
                print(f"{'100 coroutines, no aiobotocore':40}{made:>12,.0f} enqueues/s")


if __name__ == "__main__":
    main()
