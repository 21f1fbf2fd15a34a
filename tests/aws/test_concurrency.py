"""The core concurrency guarantees, repeated on DynamoDB + SQS over HTTP."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from simple_async_tasks import (
    AsyncTaskStatus,
    ExecuteOptions,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue
from simple_async_tasks.parcel import decode_parcel
from simple_async_tasks.serialization import default_converter

from ..tasks import SendEmail, SyncAccount
from .conftest import receive_all


def test_fifty_concurrent_enqueues_of_one_key(dynamodb, sqs, table, queue_url):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)
    barrier = threading.Barrier(50)

    def get_new() -> SendEmail:
        barrier.wait()
        return SendEmail(user_id="same")

    enqueue = with_queue_lifecycle(get_new=get_new, dao=dao, queue=queue)
    with ThreadPoolExecutor(50) as pool:
        tasks = list(pool.map(lambda _: enqueue(), range(50)))
    items = dynamodb.scan(TableName=table)["Items"]
    assert len(items) == 1
    assert len(receive_all(sqs, queue_url)) == 1
    assert {t.uuid for t in tasks} == {dao.get("same").uuid}


def test_duplicate_deliveries_on_eight_threads_run_once(dynamodb, sqs, table, queue_url):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def logic(task: SendEmail) -> None:
        with lock:
            runs[task.user_id] += 1

    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue
    )
    execute = with_execute_lifecycle(logic, dao=dao, queue=queue)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(enqueue, range(200)))
    messages = receive_all(sqs, queue_url)
    assert len(messages) == 200
    parcels = [decode_parcel(m["Body"], SendEmail, default_converter) for m in messages] * 3
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(execute, parcels))
    assert len(runs) == 200
    assert set(runs.values()) == {1}
    for i in range(200):
        assert dao.get(f"u{i}").status is AsyncTaskStatus.FULFILLED


def test_mutex_never_held_twice(dynamodb, sqs, table, queue_url):
    dao = DynamoTaskDao(SyncAccount, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)
    active: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    lock = threading.Lock()

    def logic(task: SyncAccount) -> None:
        with lock:
            active[task.account_id] += 1
            peak[task.account_id] = max(peak[task.account_id], active[task.account_id])
        time.sleep(0.05)
        with lock:
            active[task.account_id] -= 1

    enqueue = with_queue_lifecycle(
        get_new=lambda acc, job: SyncAccount(account_id=acc, job=job), dao=dao, queue=queue
    )
    execute = with_execute_lifecycle(
        logic, dao=dao, queue=queue, options=ExecuteOptions(mutex_retry_delay=timedelta(0))
    )
    tasks = [enqueue(acc, job) for acc in ("a", "b") for job in range(4)]
    receive_all(sqs, queue_url)
    barrier = threading.Barrier(8)

    def deliver(task: SyncAccount) -> None:
        barrier.wait()
        execute(task)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(deliver, tasks))
    for _ in range(20):  # run the put-back parcels until every task is done
        pending = [
            t for t in tasks if dao.get(dao.unique_key(t)).status is not AsyncTaskStatus.FULFILLED
        ]
        if not pending:
            break
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(execute, pending))
    assert peak == Counter({"a": 1, "b": 1})
    assert all(dao.get(dao.unique_key(t)).status is AsyncTaskStatus.FULFILLED for t in tasks)
