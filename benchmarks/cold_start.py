"""Cold start: wall time of fresh interpreters importing the package, the Lambda app, and peers.

    python benchmarks/cold_start.py            # median of 10 fresh processes each
    python benchmarks/cold_start.py --quick    # 3 processes each

Also lists the 10 largest import costs of ``import simple_async_tasks`` (python -X importtime).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BASELINE = "import attrs, cattrs, cattrs.preconf.json"
"""What any program on our two dependencies pays: the baseline of the ratios below."""

MEMORY_PROGRAM = (
    "from simple_async_tasks import AsyncTask, InMemoryTaskDao, InMemoryTaskQueue, "
    "with_execute_lifecycle, with_queue_lifecycle"
)

CASES = [
    ("python -c pass (the interpreter alone)", "pass"),
    ("import attrs, cattrs (our dependencies: the baseline)", BASELINE),
    ("import simple_async_tasks", "import simple_async_tasks"),
    ("a program on the memory backend (its imports)", MEMORY_PROGRAM),
    (
        "the same, with logging (which most programs import)",
        f"import logging; {MEMORY_PROGRAM}",
    ),
    (
        "from simple_async_tasks import TaskApp (loaded on first use)",
        "from simple_async_tasks import TaskApp",
    ),
    ("import simple_async_tasks.cli (the command line)", "import simple_async_tasks.cli"),
    ("import simple_async_tasks.aws", "import simple_async_tasks.aws"),
    ("import examples.lambda_app (builds the handler)", "import examples.lambda_app"),
    (
        "lambda_app + first boto3 clients (first invocation)",
        "import examples.lambda_app as a; "
        "a.tasks.dao(a.SendInvoiceEmail).client; a.tasks.queue.client",
    ),
    ("import boto3 alone", "import boto3"),
    (
        "Powertools batch + idempotency",
        "import aws_lambda_powertools.utilities.batch, "
        "aws_lambda_powertools.utilities.idempotency",
    ),
]


def wall(code: str) -> float:
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "us-east-1",
        "TASKS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/tasks",
    }
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
    return time.perf_counter() - start


def unneeded_modules() -> list[str]:
    """The SQLite, scheduler, sweep, worker, app and command-line modules a program on the
    memory backend imported (none, when they load on first use)."""
    code = (
        f"import sys; {MEMORY_PROGRAM}; "
        "print(' '.join(sorted(m for m in sys.modules if m == 'sqlite3' or any(part in m for "
        "part in ('sqlite', 'scheduler', 'sweeps', 'control', 'worker', '.app', '.cli')))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return out.stdout.split()


def top_imports(code: str, n: int = 10) -> list[tuple[int, str]]:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_part, _cumulative, name = line.split("|", 2)
        rows.append((int(self_part.split(":")[1]), name.rstrip()))
    return sorted(rows, reverse=True)[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = 3 if args.quick else 10
    print(f"median wall time of {runs} fresh processes, Python {sys.version.split()[0]}")
    medians: dict[str, float] = {}
    for name, code in CASES:
        try:
            times = [wall(code) for _ in range(runs)]
        except subprocess.CalledProcessError:
            print(f"{name:<55} (not installed)")
            continue
        medians[code] = median = statistics.median(times) * 1000
        interpreter = medians["pass"]
        line = (
            f"{name:<55} {median:>8.1f} ms   (+{median - interpreter:.1f} ms over the interpreter"
        )
        if code not in ("pass", BASELINE):
            line += f", {median - medians[BASELINE]:+.1f} ms over attrs + cattrs"
        print(line + ")")
    base = medians[BASELINE] - medians["pass"]
    ours = medians[MEMORY_PROGRAM] - medians["pass"]
    print(
        f"\nthe memory-backend program costs {ours / base:.2f}× the import of attrs + cattrs "
        f"({ours - base:+.1f} ms of our own modules)"
    )
    print("modules of a memory-backend program that it does not need (must be none):")
    print("   ", unneeded_modules() or "none")
    print("\nlargest self import times of the memory-backend program (µs):")
    for micros, name in top_imports(MEMORY_PROGRAM):
        print(f"{micros:>8}  {name}")


if __name__ == "__main__":
    main()
