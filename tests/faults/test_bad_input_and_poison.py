"""Faults 6 and 7: bad input at enqueue, and a poison task, on the local AWS endpoint."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs
import pytest

from simple_async_tasks import (
    AsyncTask,
    AsyncTaskStatus,
    ExecuteOptions,
    RetryLaterError,
    RetryPolicy,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, create_sqs_handler
from simple_async_tasks.contracts import ParcelMeta, TaskParcel
from simple_async_tasks.errors import (
    InvalidTaskError,
    QueueLimitError,
    SerializationError,
    TaskDefinitionError,
)

from ..aws.conftest import lambda_event, queue_arn, receive_all
from ..tasks import RichTask, SendEmail

pytestmark = pytest.mark.aws
S = AsyncTaskStatus


def nothing_written(dynamodb: Any, sqs: Any, table: str, queue_url: str) -> bool:
    return dynamodb.scan(TableName=table)["Count"] == 0 and receive_all(sqs, queue_url) == []


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (
            lambda: RichTask(key="k", ratio=math.nan),
            SerializationError,
            "cannot be written as JSON",
        ),
        (
            lambda: RichTask(key="k", ratio=math.inf),
            SerializationError,
            "cannot be written as JSON",
        ),
        (lambda: RichTask(key="k", note="x" * 1_100_000), QueueLimitError, "1048576-byte limit"),
        (lambda: RichTask(key="k", execute_after=datetime(2030, 1, 1)), InvalidTaskError, "naive"),
        (lambda: RichTask(key="k", scores={"": 1}), InvalidTaskError, "empty key"),
    ],
)
def test_bad_input_at_enqueue_fails_at_the_call_and_writes_nothing(
    dynamodb, sqs, table, queue_url, make, error, message
):
    dao = DynamoTaskDao(RichTask, table_name=table, client=dynamodb)
    enqueue = with_queue_lifecycle(
        get_new=make, dao=dao, queue=SqsTaskQueue(queue_url, client=sqs)
    )
    with pytest.raises(error, match=message):
        enqueue()
    assert nothing_written(dynamodb, sqs, table, queue_url)


def test_delays_out_of_range_are_refused_before_sending(sqs, queue_url):
    queue = SqsTaskQueue(queue_url, client=sqs)
    parcel = TaskParcel(
        task=SendEmail(user_id="u1"),
        meta=ParcelMeta(queue_type="SQS", queue_url=queue_url, task_type="SendEmail"),
    )
    for delay in (timedelta(seconds=-1), timedelta(seconds=901), timedelta(days=3)):
        with pytest.raises(QueueLimitError, match="out of range"):
            queue.push(parcel, delay=delay)
    assert receive_all(sqs, queue_url) == []


def test_a_broken_task_class_fails_where_it_is_wired(dynamodb, table):
    @attrs.frozen(kw_only=True)
    class Broken(AsyncTask):
        unique: ClassVar[tuple[str, ...]] = ("no_such_field",)
        x: str

    with pytest.raises(TaskDefinitionError, match="no_such_field"):
        DynamoTaskDao(Broken, table_name=table, client=dynamodb)


def run_like_the_event_source_mapping(sqs: Any, queue_url: str, handler: Any, rounds: int) -> int:
    """Receive, hand batches to the handler, delete what succeeded, make failures visible again."""
    arn = queue_arn(sqs, queue_url)
    deliveries = 0
    for _ in range(rounds):
        out = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        )
        messages = out.get("Messages", [])
        if not messages:
            break
        deliveries += len(messages)
        failed = {
            f["itemIdentifier"]
            for f in handler(lambda_event(messages, arn), None)["batchItemFailures"]
        }
        for m in messages:
            if m["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return deliveries


def _queue_with_dlq(sqs: Any, name: str, max_receives: int) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq)
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
            )
        },
    )["QueueUrl"]
    return url, dlq


def test_poison_task_stops_after_max_attempts_and_is_acknowledged(dynamodb, sqs, table):
    url, dlq = _queue_with_dlq(sqs, "poison-ack", max_receives=10)
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(url, client=sqs)
    runs = []

    def logic(task: SendEmail) -> None:
        runs.append(task.attempts)
        raise ValueError("always broken")

    retry = RetryPolicy(max_attempts=3, initial_delay=timedelta(0), jitter=0.0)
    execute = with_execute_lifecycle(logic, dao=dao, queue=queue, retry=retry)
    with_queue_lifecycle(get_new=lambda: SendEmail(user_id="poison"), dao=dao, queue=queue)()
    deliveries = run_like_the_event_source_mapping(
        sqs, url, create_sqs_handler(execute), rounds=20
    )
    task = dao.get("poison")
    assert runs == [1, 2, 3]
    assert (task.status, task.attempts, task.last_error) == (
        S.FAILED,
        3,
        "ValueError: always broken",
    )
    assert deliveries == 4  # 3 failed attempts, then the redelivery is skipped and acknowledged
    assert receive_all(sqs, url) == []
    assert receive_all(sqs, dlq) == []


def test_poison_message_reaches_the_dead_letter_queue(dynamodb, sqs, table):
    url, dlq = _queue_with_dlq(sqs, "poison-dlq", max_receives=2)
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(url, client=sqs)
    retry = RetryPolicy(max_attempts=5, initial_delay=timedelta(0), jitter=0.0)

    def logic(task: SendEmail) -> None:
        raise ValueError("always broken")

    execute = with_execute_lifecycle(logic, dao=dao, queue=queue, retry=retry)
    with_queue_lifecycle(get_new=lambda: SendEmail(user_id="poison"), dao=dao, queue=queue)()
    run_like_the_event_source_mapping(sqs, url, create_sqs_handler(execute), rounds=20)
    assert len(receive_all(sqs, dlq)) == 1  # never an endless loop
    task = dao.get("poison")
    assert (task.status, task.attempts) == (S.FAILED, 2)  # inspectable, retryable by hand


def test_requeue_depth_limit_on_sqs(dynamodb, sqs, table, queue_url):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)

    def logic(task: SendEmail) -> None:
        raise RetryLaterError("never ready", delay=timedelta(0))

    execute = with_execute_lifecycle(
        logic, dao=dao, queue=queue, options=ExecuteOptions(max_requeue_depth=4)
    )
    with_queue_lifecycle(get_new=lambda: SendEmail(user_id="loop"), dao=dao, queue=queue)()
    deliveries = run_like_the_event_source_mapping(
        sqs, queue_url, create_sqs_handler(execute), rounds=50
    )
    task = dao.get("loop")
    assert task.status is S.FAILED
    assert "RequeueDepthExceededError" in task.last_error
    assert deliveries <= 7  # 5 runs, the failure, one skipped redelivery
    assert receive_all(sqs, queue_url) == []
