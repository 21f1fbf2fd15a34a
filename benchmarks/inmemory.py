"""Enqueue + execute of trivial tasks on the in-memory backends, against a bare call, the
same-semantics floor (``_floor.py``) and peers.

Peers (``pip install --group bench``): dramatiq's StubBroker with a worker, and
huey's in-memory immediate mode, each running the same trivial function.

python benchmarks/inmemory.py            # 20,000 tasks, best of 5 runs
python benchmarks/inmemory.py --quick    # 1,000 tasks, 1 run (CI checks it still works)
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from typing import ClassVar

import attrs
from _floor import floor

from simple_async_tasks import (
    AsyncTask,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.testing import drain


@attrs.frozen(kw_only=True)
class Trivial(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("n",)
    n: int


def work(n: int) -> int:
    return n * 2


def bare(count: int) -> None:
    for n in range(count):
        work(n)


def lifecycle(
    count: int, *, keep_history: bool = False
) -> tuple[InMemoryTaskDao[Trivial], InMemoryTaskQueue]:
    """Enqueue ``count`` tasks and drain them; return the backends (every task FULFILLED)."""
    dao = InMemoryTaskDao(Trivial)
    queue = InMemoryTaskQueue(keep_history=keep_history)
    enqueue = with_queue_lifecycle(get_new=lambda n: Trivial(n=n), dao=dao, queue=queue)
    execute = with_execute_lifecycle(lambda t: work(t.n), dao=dao, queue=queue)
    for n in range(count):
        enqueue(n)
    report = drain(queue, execute)
    assert len(report.results) == count and not report.failures
    return dao, queue


def lifecycle_without_heartbeat(count: int) -> None:
    """The same run with the lease heartbeat's watch turned off: the difference is what
    watching each attempt (for renewal) costs a task shorter than its lease."""
    from simple_async_tasks.lifecycle.lease import heartbeats

    watch, forget = heartbeats.watch, heartbeats.forget
    heartbeats.watch = lambda lease: None  # type: ignore[method-assign]
    heartbeats.forget = lambda lease: None  # type: ignore[method-assign]
    try:
        lifecycle(count)
    finally:
        heartbeats.watch, heartbeats.forget = watch, forget  # type: ignore[method-assign]


def dramatiq_stub(count: int) -> None:
    import dramatiq
    from dramatiq.brokers.stub import StubBroker

    broker = StubBroker()
    broker.emit_after("process_boot")
    dramatiq.set_broker(broker)

    @dramatiq.actor(max_retries=0, queue_name="bench")
    def dwork(n: int) -> None:
        work(n)

    worker = dramatiq.Worker(broker, worker_threads=1)
    worker.start()
    try:
        for n in range(count):
            dwork.send(n)
        broker.join("bench")
        worker.join()
    finally:
        worker.stop()


def huey_immediate(count: int) -> None:
    from huey import MemoryHuey

    huey = MemoryHuey(immediate=True, results=False)

    @huey.task()
    def hwork(n: int) -> None:
        work(n)

    for n in range(count):
        hwork(n)


def best_of(runs: int, fn: Callable[[int], object], count: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn(count)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 tasks, one run")
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    count, runs = (1_000, 1) if args.quick else (args.tasks, args.runs)

    rows = [("bare function call", best_of(runs, bare, count))]
    same = best_of(runs, lambda c: floor(c, work), count)
    rows.append(("same-semantics floor (_floor.py)", same))
    ours = best_of(runs, lifecycle, count)
    rows.append(("simple-async-tasks in memory (enqueue + drain)", ours))
    rows.append(
        (
            "  the same, lease heartbeat off (comparison)",
            best_of(runs, lifecycle_without_heartbeat, count),
        )
    )
    for name, fn in (
        ("dramatiq StubBroker + worker", dramatiq_stub),
        ("huey immediate", huey_immediate),
    ):
        try:
            rows.append((name, best_of(runs, fn, count)))
        except ImportError:
            print(f"({name} not installed: pip install --group bench)")
    print(
        f"{count:,} tasks, best of {runs}; "
        f"Python {platform.python_version()}, {platform.machine()}"
    )
    print(f"{'what':<48} {'tasks/s':>12} {'µs/task':>9} {'ratio':>9}")
    base = rows[0][1]
    for name, seconds in rows:
        print(
            f"{name:<48} {count / seconds:>12,.0f} {seconds / count * 1e6:>9.2f} "
            f"{seconds / base:>8.1f}×   {seconds / ours:>5.2f}× ours"
        )
    print(f"\nours / the same-semantics floor: {ours / same:.2f}× the time")
    stub = dict(rows).get("dramatiq StubBroker + worker")
    if stub is not None:
        print(f"dramatiq StubBroker / ours: {stub / ours:.2f}× the time")


if __name__ == "__main__":
    main()
