"""Print the fault table of docs/reliability.md by running every fault scenario.

    python -m tests.faults.report            # CI-sized runs
    python -m tests.faults.report --stress   # 10x larger

Starts its own local AWS engines (DynamoDB Local and moto's SQS on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import tempfile
import time
from pathlib import Path

from simple_async_tasks.aws import create_table
from simple_async_tasks.testing.local_aws import local_aws

from . import scenarios

_names = itertools.count()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stress", action="store_true")
    args = parser.parse_args()
    scale = 10 if args.stress else 1
    # Clients built from backend URLs (and the child processes) read these, as under pytest.
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.pop("AWS_PROFILE", None)
    started = time.perf_counter()
    rows: list[scenarios.FaultResult] = []
    with local_aws() as aws, tempfile.TemporaryDirectory() as tmp:
        dynamodb, sqs = scenarios._aws_clients(aws)

        def fresh() -> tuple[str, str]:
            n = next(_names)
            create_table(f"faults-{n}", client=dynamodb)
            return f"faults-{n}", sqs.create_queue(QueueName=f"faults-{n}")["QueueUrl"]

        rows.append(scenarios.duplicate_delivery_memory(tasks=1000 * scale))
        rows.append(scenarios.duplicate_delivery_aws(aws, *fresh(), 200 * scale, Path(tmp)))
        rows.extend(scenarios.crashes_memory(tasks_per_point=20 * scale))
        rows.extend(scenarios.crashes_aws(aws, *fresh(), 2 * scale, Path(tmp)))
        rows.extend(scenarios.crashes_sqlite(2 * scale, Path(tmp)))
        rows.append(scenarios.save_push_crash_memory(tasks=200 * scale))
        rows.append(scenarios.save_push_crash_aws(aws, *fresh(), tasks=30 * scale))
        rows.append(scenarios.transient_errors_aws(aws, *fresh(), tasks=20 * scale))
        rows.append(scenarios.poison_memory(tasks=50 * scale))
        rows.append(scenarios.lease_outlived_threads(tasks=24 * scale))
        rows.append(scenarios.lease_outlived_processes(Path(tmp), tasks=12 * scale))
        rows.append(scenarios.late_attempt_vs_mutex(accounts=20 * scale))
        rows.append(scenarios.clock_skew(tasks=50 * scale))
    print(
        f"Python {platform.python_version()} on {platform.machine()}, scale {scale}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print("| fault | backend | runs | tasks | duplicates | lost |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r.fault} | {r.backend} | {r.runs} | {r.tasks} | {r.duplicates} | {r.lost} |")


if __name__ == "__main__":
    main()
