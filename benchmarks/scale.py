"""Per-task cost as the number of tasks grows, and the in-memory DAO's memory per stored task.

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


def memory_per_task(count: int) -> float:
    dao = InMemoryTaskDao(Trivial)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n in range(count):
        dao.save(Trivial(n=n), condition=None)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [1_000, 5_000] if args.quick else [1_000, 10_000, 100_000]
    print(f"{'tasks':>8} {'µs/task (enqueue + drain)':>26} {'bytes/stored task':>18}")
    for count in sizes:
        lifecycle(min(count, 1_000))  # warm up
        gc.collect()
        start = time.perf_counter()
        lifecycle(count)
        micros = (time.perf_counter() - start) / count * 1e6
        print(f"{count:>8,} {micros:>26.1f} {memory_per_task(count):>18,.0f}")


if __name__ == "__main__":
    main()
