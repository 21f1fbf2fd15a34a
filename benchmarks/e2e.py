"""End to end on the local AWS engines (DynamoDB Local, SQS on moto): tasks through the Lambda
handler, us against Powertools.

    python benchmarks/e2e.py            # 2,000 tasks, 5 alternating runs each, median
    python benchmarks/e2e.py --quick    # 200 tasks, 1 run each

Tasks are enqueued and received from SQS before the clock starts; the timed
part is the handler working through batches of 10 (what a Lambda does). Both
handlers run the same trivial function against the same engines; Powertools
is BatchProcessor + idempotent_function keyed on the task's unique key.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _peers import LambdaContext, create_powertools_table, powertools_handler
from _aws import Job, events, queue_arn, receive

from simple_async_tasks import enqueue_many, with_execute_lifecycle
from simple_async_tasks.aws import (
    DynamoTaskDao,
    SqsTaskQueue,
    create_sqs_handler,
    create_table,
)
from simple_async_tasks.testing.local_aws import local_aws


def work(n: int) -> int:
    return n * 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tasks", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tasks, runs = (200, 1) if args.quick else (args.tasks, args.runs)
    with local_aws() as aws:
        dynamodb, sqs = aws.client("dynamodb"), aws.client("sqs")
        create_table("tasks", client=dynamodb)
        create_powertools_table(dynamodb, "powertools")
        url = sqs.create_queue(QueueName="tasks")["QueueUrl"]
        arn = queue_arn(sqs, url)
        dao = DynamoTaskDao(Job, table_name="tasks", client=dynamodb)
        queue = SqsTaskQueue(url, client=sqs)
        ours = create_sqs_handler(
            with_execute_lifecycle(lambda t: work(t.n), dao=dao, queue=queue), max_workers=4
        )
        theirs = powertools_handler(dynamodb, "powertools", work)
        timings: dict[str, list[float]] = {"simple-async-tasks": [], "Powertools": []}
        for run in range(runs):
            enqueue_many([Job(n=run * tasks + i) for i in range(tasks)], dao=dao, queue=queue)
            batches = events(receive(sqs, url), arn)
            order = [("simple-async-tasks", ours, None), ("Powertools", theirs, LambdaContext())]
            if run % 2:
                order.reverse()
            for name, handler, context in order:
                start = time.perf_counter()
                for event in batches:
                    assert handler(event, context)["batchItemFailures"] == []
                timings[name].append(time.perf_counter() - start)
    print(
        f"{tasks:,} tasks in batches of 10, median of {runs} alternating runs "
        "(DynamoDB Local, SQS on moto)"
    )
    ours_s = statistics.median(timings["simple-async-tasks"])
    for name, values in timings.items():
        median = statistics.median(values)
        ratio = median / ours_s
        print(f"{name:<20} {tasks / median:>9,.0f} tasks/s   {ratio:>5.2f}× our time")


if __name__ == "__main__":
    main()
