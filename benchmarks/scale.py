"""Per-task cost as the number of tasks grows, and the memory the in-memory backends keep
per task: a record just saved, and a FULFILLED one after its whole lifecycle (enqueue,
claim, run, finish) with the queue's history off (the default) and on.

python benchmarks/scale.py            # 1k, 10k, 100k tasks
python benchmarks/scale.py --quick    # 1k, 5k
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from inmemory import Trivial, lifecycle

from simple_async_tasks import InMemoryTaskDao


def saved_per_task(count: int) -> float:
    """Bytes the DAO keeps per record just saved (QUEUED, never run)."""
    dao = InMemoryTaskDao(Trivial)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(count):
        dao.save(Trivial(n=n), condition=None)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count


def fulfilled_per_task(count: int, *, keep_history: bool) -> float:
    """Bytes the DAO and the queue keep per task once every task is FULFILLED."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    dao, queue = lifecycle(count, keep_history=keep_history)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(dao) == count and len(queue) == 0
    return (after - before) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [1_000, 5_000] if args.quick else [1_000, 10_000, 100_000]
    print("bytes kept per task by the in-memory backends:")
    print(f"{'tasks':>8} {'µs/task':>8} {'saved':>7} {'FULFILLED':>10} {'+ history':>10}")
    for count in sizes:
        lifecycle(min(count, 1_000))  # warm up
        gc.collect()
        start = time.perf_counter()
        lifecycle(count)
        micros = (time.perf_counter() - start) / count * 1e6
        print(
            f"{count:>8,} {micros:>8.1f} {saved_per_task(count):>7,.0f} "
            f"{fulfilled_per_task(count, keep_history=False):>10,.0f} "
            f"{fulfilled_per_task(count, keep_history=True):>10,.0f}"
        )
    print("(saved: a record just saved; FULFILLED: after the whole lifecycle, history off,")
    print(" the default; + history: the same with InMemoryTaskQueue(keep_history=True))")


if __name__ == "__main__":
    main()
