"""What AWS bills per task, on DynamoDB Local (AWS's engine) and moto's SQS, beside Powertools.

    python benchmarks/aws_cost.py            # 200 tasks per row
    python benchmarks/aws_cost.py --quick    # 20 tasks (CI checks it still runs)

Capacity units are the ones DynamoDB reports (``ReturnConsumedCapacity=INDEXES``),
split into table writes, index writes and reads; a failed conditional write is
billed 1 write unit (DynamoDB's documented rule; the engine does not report it).
SQS requests are the ones our code sends; the Lambda service's own receive and
delete calls are the same for every library and are not counted. Dollars are
on-demand prices, us-east-1 (see benchmarks/_aws.py), per million tasks.

Rows for our DAO run twice: with the status index (inspection, sweeps) and
without it (``status_index=False``). Two rows take the async paths (issue 16) on
aiobotocore, metered through the library's aiobotocore session: ``aenqueue`` from
coroutines, and ``async def`` logic in the Lambda handler. "the floor" is what the lifecycle must
write at least: one durable record, one claim, one final status, each a
single-item conditional write under 1 KB, on a table with no index.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _aws import Bill, Job, LockedJob, Meter, events, queue_arn, receive

from simple_async_tasks import enqueue_many, with_execute_lifecycle, with_queue_lifecycle
from simple_async_tasks.operations import (
    Scheduler,
    delete_task,
    promote_due,
    recurring_schedule,
    requeue_stale,
)
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, create_sqs_handler, create_table
from simple_async_tasks.testing import FakeClock
from simple_async_tasks.testing.local_aws import LocalAws, local_aws

Row = tuple[str, Bill, float]  # name, bill, tasks it is divided by


def ours(aws: LocalAws, n: int, table: str, index: bool) -> list[Row]:
    dynamodb, sqs, plain_sqs = aws.client("dynamodb"), aws.client("sqs"), aws.client("sqs")
    meter = Meter(dynamodb, sqs, aio=True)
    create_table(table, client=dynamodb, status_index=index)
    url = plain_sqs.create_queue(QueueName=table)["QueueUrl"]
    arn = queue_arn(plain_sqs, url)
    queue = SqsTaskQueue(url, client=sqs)
    dao = DynamoTaskDao(Job, table_name=table, client=dynamodb, status_index=index)
    locked_dao = DynamoTaskDao(LockedJob, table_name=table, client=dynamodb, status_index=index)
    enqueue = with_queue_lifecycle(get_new=lambda i: Job(n=i), dao=dao, queue=queue)
    enqueue_locked = with_queue_lifecycle(
        get_new=lambda i: LockedJob(n=i, group=f"g{i % 5}"), dao=locked_dao, queue=queue
    )
    execute = with_execute_lifecycle(lambda t: None, dao=dao, queue=queue)
    execute_locked = with_execute_lifecycle(lambda t: None, dao=locked_dao, queue=queue)
    handler = create_sqs_handler([execute, execute_locked], max_workers=4)
    rows: list[Row] = []

    def run(batches: list[dict[str, Any]]) -> Callable[[], None]:
        return lambda: [handler(e, None) for e in batches]  # type: ignore[func-returns-value]

    rows.append(("enqueue, one by one", meter.measure(lambda: [enqueue(i) for i in range(n)]), n))
    one_by_one = events(receive(plain_sqs, url), arn)
    batched = [Job(n=i) for i in range(n, 2 * n)]
    rows.append(
        (
            "enqueue, batched",
            meter.measure(lambda: enqueue_many(batched, dao=dao, queue=queue)),
            n,
        )
    )
    batched_events = events(receive(plain_sqs, url), arn)
    rows.append(("execute, batches of 10", meter.measure(run(one_by_one)), n))
    rows.append(("redelivery of a finished task", meter.measure(run(one_by_one)), n))
    single_events = events(_requeue_and_receive(batched_events, plain_sqs, url), arn, size=1)
    rows.append(("execute, one record per event", meter.measure(run(single_events)), n))
    for i in range(n):
        enqueue_locked(i)
    locked = events(receive(plain_sqs, url), arn)
    rows.append(("execute, batches of 10, mutex", meter.measure(run(locked)), n))

    clock = FakeClock(datetime.now(timezone.utc))
    timed = DynamoTaskDao(Job, table_name=table, client=dynamodb, clock=clock, status_index=index)
    schedule = recurring_schedule(
        name="every-minute",
        get_new=lambda moment: Job(n=10_000_000 + int(moment.timestamp()) // 60),
        every=timedelta(minutes=1),
        start_at=clock.now(),
        dao=timed,
        queue=queue,
        clock=clock,
    )
    scheduler = Scheduler(schedules=[schedule], clock=clock)
    scheduler.run_once()
    receive(plain_sqs, url)
    rows.append(("scheduler run, nothing due", meter.measure(scheduler.run_once), 1))
    if index:
        later = [
            Job(n=20_000_000 + i, execute_after=clock.now() + timedelta(days=1)) for i in range(n)
        ]
        enqueue_many(later, dao=timed, queue=queue, clock=clock)
        clock.advance(timedelta(days=1, seconds=1))
        rows.append(
            (
                "promote_due, per task promoted",
                meter.measure(lambda: promote_due(dao=timed, queue=queue, clock=clock)),
                n,
            )
        )
        receive(plain_sqs, url)
        rows.append(
            (
                "requeue_stale, nothing stale",
                meter.measure(
                    lambda: requeue_stale(dao=timed, queue=queue, older_than=timedelta(hours=1))
                ),
                1,
            )
        )
    rows += _awaited(dao, queue, meter, plain_sqs, url, arn, n)
    # the tasks of one_by_one ran: delete them, then deliver their messages once more
    done = [dao.unique_key(Job(n=i)) for i in range(n)]
    deletes = meter.measure(lambda: [delete_task(dao, key) for key in done])
    rows.append(("delete_task, a finished task", deletes, n))
    rows.append(("a delivery of a deleted task", meter.measure(run(one_by_one)), n))
    return rows


def _awaited(
    dao: DynamoTaskDao[Job],
    queue: SqsTaskQueue,
    meter: Meter,
    sqs: Any,
    url: str,
    arn: str,
    n: int,
) -> list[Row]:
    """The async paths (issue 16), awaited on aiobotocore: ``aenqueue`` from coroutines,
    and async logic in the handler (its claims and writes awaited on the invocation loop)."""
    import asyncio

    from simple_async_tasks.aio import close_clients, with_async_queue_lifecycle

    aenqueue = with_async_queue_lifecycle(get_new=lambda i: Job(n=i), dao=dao, queue=queue)

    async def logic(task: Job) -> None:
        return None

    handler = create_sqs_handler(with_execute_lifecycle(logic, dao=dao, queue=queue))

    async def enqueue_all() -> None:
        try:
            await asyncio.gather(*(aenqueue(30_000_000 + i) for i in range(n)))
        finally:
            await close_clients()

    rows: list[Row] = [
        ("enqueue, awaited (aiobotocore)", meter.measure(lambda: asyncio.run(enqueue_all())), n)
    ]
    batches = events(receive(sqs, url), arn)
    run = meter.measure(lambda: [handler(e, None) for e in batches])
    rows.append(("execute async logic, batches of 10", run, n))
    return rows


def _requeue_and_receive(batches: list[dict[str, Any]], sqs: Any, url: str) -> list[Any]:
    """Send the bodies of ``batches`` again (unmetered) and receive them: fresh deliveries
    of tasks that are still QUEUED."""
    bodies = [r["body"] for e in batches for r in e["Records"]]
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start:][:10])],
        )
    return receive(sqs, url)


def powertools(aws: LocalAws, n: int) -> list[Row]:
    from _peers import LambdaContext, create_powertools_table, powertools_handler

    dynamodb, sqs, plain_sqs = aws.client("dynamodb"), aws.client("sqs"), aws.client("sqs")
    meter = Meter(dynamodb, sqs, aio=True)
    create_powertools_table(dynamodb, "powertools")
    url = plain_sqs.create_queue(QueueName="powertools")["QueueUrl"]
    arn = queue_arn(plain_sqs, url)
    bodies = [json.dumps({"task": {"n": i}}) for i in range(n)]

    def send() -> None:
        for start in range(0, n, 10):
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "MessageBody": body}
                    for i, body in enumerate(bodies[start : start + 10])
                ],
            )

    rows: list[Row] = [("enqueue, batched (SQS only)", meter.measure(send), n)]
    batches = events(receive(plain_sqs, url), arn)
    handler = powertools_handler(dynamodb, "powertools", lambda i: None)
    context = LambdaContext()

    def run() -> None:
        for event in batches:
            handler(event, context)

    rows.append(("execute, batches of 10", meter.measure(run), n))
    rows.append(("redelivery of a finished task", meter.measure(run), n))
    return rows


def floor(aws: LocalAws, n: int) -> list[Row]:
    """Three single-item conditional writes per task on a table with no index, and one send."""
    dynamodb, sqs, plain_sqs = aws.client("dynamodb"), aws.client("sqs"), aws.client("sqs")
    meter = Meter(dynamodb, sqs, aio=True)
    dynamodb.create_table(
        TableName="floor",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    url = plain_sqs.create_queue(QueueName="floor")["QueueUrl"]

    def lifecycle() -> None:
        for i in range(n):
            key = {"pk": {"S": f"Job#{i}"}}
            dynamodb.put_item(
                TableName="floor",
                Item={**key, "status": {"S": "QUEUED"}, "n": {"N": str(i)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            sqs.send_message(QueueUrl=url, MessageBody=str(i))
            for before, after in (("QUEUED", "ATTEMPTED"), ("ATTEMPTED", "FULFILLED")):
                dynamodb.update_item(
                    TableName="floor",
                    Key=key,
                    UpdateExpression="SET #s = :a",
                    ConditionExpression="#s = :b",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":a": {"S": after}, ":b": {"S": before}},
                )

    return [("enqueue + execute", meter.measure(lifecycle), n)]


def print_rows(title: str, rows: list[Row], verbose: bool = False) -> None:
    print(f"\n{title}")
    print(
        f"{'':<34} {'calls':>6} {'table WU':>9} {'index WU':>9} {'failed':>7} {'RU':>6} "
        f"{'SQS req':>8} {'$/M tasks':>10}"
    )
    for name, bill, per in rows:
        calls = sum(bill.calls.values()) / per
        print(
            f"{name:<34} {calls:>6.2f} {bill.table_writes / per:>9.2f} "
            f"{bill.index_writes / per:>9.2f} {bill.failed_conditions / per:>7.2f} "
            f"{bill.reads / per:>6.2f} {bill.sqs_requests / per:>8.2f} "
            f"{bill.dollars_per_million(per):>10.3f}"
        )
        if verbose:
            print("    " + ", ".join(f"{op} {c / per:g}" for op, c in sorted(bill.calls.items())))


def lifecycle(rows: list[Row], *names: str) -> Bill:
    """Per task: the sum of the named rows, each divided by its own task count."""
    total = Bill()
    for name, bill, per in rows:
        if name in names:
            total = total + bill.scaled(1 / per)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--calls", action="store_true", help="print the calls of each row")
    args = parser.parse_args()
    n = 20 if args.quick else args.tasks
    with local_aws() as aws:
        os.environ.update(aws.environ())  # the async rows' aiobotocore clients read it
        with_index = ours(aws, n, "tasks", index=True)
        without_index = ours(aws, n, "tasks-no-index", index=False)
        try:
            peer = powertools(aws, n)
        except ImportError:
            peer = []
        bottom = floor(aws, n)
    print(f"Per task, {n} tasks per row; DynamoDB Local 1.25.1, SQS on moto")
    print_rows("simple-async-tasks, status index on", with_index, args.calls)
    print_rows("simple-async-tasks, status_index=False", without_index, args.calls)
    if peer:
        print_rows("Powertools (BatchProcessor + idempotent_function)", peer)
    else:
        print("\n(Powertools not installed: pip install --group bench)")
    print_rows("the floor", bottom)
    print("\nWhole lifecycle per task (enqueue one by one + execute in batches of 10):")
    whole = [
        (
            "ours, status index on",
            lifecycle(with_index, "enqueue, one by one", "execute, batches of 10"),
        ),
        (
            "ours, status_index=False",
            lifecycle(without_index, "enqueue, one by one", "execute, batches of 10"),
        ),
    ]
    if peer:
        whole.append(
            (
                "Powertools",
                lifecycle(peer, "enqueue, batched (SQS only)", "execute, batches of 10"),
            )
        )
    whole.append(("the floor", lifecycle(bottom, "enqueue + execute")))
    floor_dollars = whole[-1][1].dollars_per_million(1)
    print(f"{'':<28} {'write units':>11} {'read units':>10} {'SQS req':>8} {'$/M':>8} ÷ floor")
    for name, bill in whole:
        dollars = bill.dollars_per_million(1)
        print(
            f"{name:<28} {bill.writes:>11.2f} {bill.reads:>10.2f} {bill.sqs_requests:>8.2f} "
            f"{dollars:>8.3f} {dollars / floor_dollars:>8.2f}"
        )


if __name__ == "__main__":
    main()
