"""AWS calls per task, counted with botocore's event hooks on a local endpoint (moto server).

    python benchmarks/aws_calls.py            # 100 tasks per scenario
    python benchmarks/aws_calls.py --quick    # 20 tasks (CI checks it still works)

The Lambda service's own calls (ReceiveMessage, DeleteMessage for the event
source mapping) are not counted: they are the same for every library.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import attrs

from simple_async_tasks import (
    AsyncTask,
    Scheduler,
    enqueue_many,
    promote_due,
    recurring_schedule,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, create_sqs_handler, create_table
from simple_async_tasks.testing import FakeClock
from simple_async_tasks.testing.local_aws import local_aws_endpoint, local_client

sys.path.insert(0, str(Path(__file__).parent))


@attrs.frozen(kw_only=True)
class Job(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("n",)
    n: int


@attrs.frozen(kw_only=True)
class LockedJob(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("n",)
    mutex: ClassVar[tuple[str, ...] | None] = ("group",)
    n: int
    group: str


class CallCounter:
    def __init__(self, *clients: Any) -> None:
        self.calls: Counter[str] = Counter()
        for client in clients:
            client.meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def measure(self, fn: Callable[[], object]) -> Counter[str]:
        self.calls.clear()
        fn()
        return Counter(self.calls)


def receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return out


def events(messages: list[dict[str, Any]], arn: str) -> list[dict[str, Any]]:
    return [
        {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                }
                for m in messages[i : i + 10]
            ]
        }
        for i in range(0, len(messages), 10)
    ]


def make_clients(endpoint: str) -> tuple[Any, Any]:
    """DynamoDB and SQS clients for the local endpoint, with dummy credentials."""
    return local_client("dynamodb", endpoint, max_pool_connections=20), local_client(
        "sqs", endpoint, max_pool_connections=20
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tasks", type=int, default=100)
    args = parser.parse_args()
    n = 20 if args.quick else args.tasks

    with local_aws_endpoint() as endpoint:
        dynamodb, sqs = make_clients(endpoint)
        create_table("tasks", client=dynamodb)
        url = sqs.create_queue(QueueName="tasks")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue = SqsTaskQueue(url, client=sqs)
        dao = DynamoTaskDao(Job, table_name="tasks", client=dynamodb)
        locked_dao = DynamoTaskDao(LockedJob, table_name="tasks", client=dynamodb)
        counter = CallCounter(dynamodb, sqs)

        enqueue = with_queue_lifecycle(get_new=lambda i: Job(n=i), dao=dao, queue=queue)
        enqueue_locked = with_queue_lifecycle(
            get_new=lambda i: LockedJob(n=i, group=f"g{i % 5}"), dao=locked_dao, queue=queue
        )
        execute = with_execute_lifecycle(lambda t: None, dao=dao, queue=queue)
        execute_locked = with_execute_lifecycle(lambda t: None, dao=locked_dao, queue=queue)
        handler = create_sqs_handler([execute, execute_locked])
        rows: list[tuple[str, Counter[str], float | None]] = []
        peers: list[tuple[str, Counter[str]]] = []

        def row(name: str, calls: Counter[str], reference: float | None = None) -> None:
            rows.append((name, calls, reference))

        def peer(name: str, calls: Counter[str]) -> None:
            peers.append((name, calls))

        def enqueue_and_receive(i: int) -> dict[str, Any]:
            enqueue(i)
            (message,) = receive(sqs, url)
            return message

        row("enqueue, one by one", counter.measure(lambda: [enqueue(i) for i in range(n)]), 3)
        receive(sqs, url)
        row(
            "enqueue, batched (enqueue_many)",
            counter.measure(
                lambda: enqueue_many([Job(n=i) for i in range(n, 2 * n)], dao=dao, queue=queue)
            ),
            3,
        )
        messages = receive(sqs, url)
        batches = events(messages, arn)
        row(
            "execute, batches of 10, no mutex",
            counter.measure(lambda: [handler(e, None) for e in batches]),
            4,
        )
        row(
            "redelivery of finished tasks",
            counter.measure(lambda: [handler(e, None) for e in batches]),
            4,
        )
        for i in range(n):
            enqueue_locked(i)
        locked = events(receive(sqs, url), arn)
        row(
            "execute, batches of 10, with a mutex",
            counter.measure(lambda: [handler(e, None) for e in locked]),
            None,
        )
        single = events([enqueue_and_receive(2 * n + 1)], arn)[0]
        row("execute, a single record", counter.measure(lambda: handler(single, None)), 4)
        # the scheduler: a run with nothing to do, and the calls of each task it moves
        clock = FakeClock(datetime.now(timezone.utc))
        timed_dao = DynamoTaskDao(Job, table_name="tasks", client=dynamodb, clock=clock)
        schedule = recurring_schedule(
            name="every-minute",
            get_new=lambda moment: Job(n=10_000_000 + int(moment.timestamp()) // 60),
            every=timedelta(minutes=1),
            start_at=clock.now(),
            dao=timed_dao,
            queue=queue,
            clock=clock,
        )
        scheduler = Scheduler(schedules=[schedule], clock=clock)
        scheduler.run_once()
        receive(sqs, url)
        idle = counter.measure(scheduler.run_once)
        later = [
            Job(n=20_000_000 + i, execute_after=clock.now() + timedelta(days=1)) for i in range(n)
        ]
        enqueue_many(later, dao=timed_dao, queue=queue, clock=clock)
        clock.advance(timedelta(days=1, seconds=1))
        promote = counter.measure(lambda: promote_due(dao=timed_dao, queue=queue, clock=clock))
        receive(sqs, url)
        schedule_rows = [
            ("scheduler run, nothing due (1 schedule)", idle, 1),
            ("promote_due, per task promoted", promote, n),
        ]
        try:
            from _peers import LambdaContext, create_powertools_table, powertools_handler
        except ImportError:
            powertools_rows = False
        else:
            powertools_rows = True
            create_powertools_table(dynamodb, "powertools")
            pt = powertools_handler(dynamodb, "powertools", lambda i: None)
            peer(
                "Powertools: execute, batches of 10",
                counter.measure(lambda: [pt(e, LambdaContext()) for e in batches]),
            )
            peer(
                "Powertools: redelivery of finished",
                counter.measure(lambda: [pt(e, LambdaContext()) for e in batches]),
            )

    print(f"AWS calls per task, {n} tasks per row (local endpoint: moto server over HTTP)")
    print(f"{'scenario':<40} {'calls/task':>10} {'TS original':>12}  breakdown")
    for name, calls, reference in rows:
        tasks = 1 if name == "execute, a single record" else n
        per = sum(calls.values()) / tasks
        breakdown = ", ".join(f"{op} {count / tasks:g}" for op, count in sorted(calls.items()))
        ref = f"{reference:g}" if reference is not None else "-"
        print(f"{name:<40} {per:>10.2f} {ref:>12}  {breakdown}")
    for name, calls, per_what in schedule_rows:
        per = sum(calls.values()) / per_what
        breakdown = ", ".join(f"{op} {count / per_what:g}" for op, count in sorted(calls.items()))
        print(f"{name:<40} {per:>10.2f} {'-':>12}  {breakdown}")
    if not powertools_rows:
        print("(Powertools not installed: pip install --group bench)")
    for name, calls in peers:
        per = sum(calls.values()) / n
        breakdown = ", ".join(f"{op} {count / n:g}" for op, count in sorted(calls.items()))
        print(f"{name:<40} {per:>10.2f} {'':>12}  {breakdown}")


if __name__ == "__main__":
    main()
