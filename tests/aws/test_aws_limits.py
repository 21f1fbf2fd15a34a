"""The AWS edge: limits checked before any call, batches that one record cannot sink, SQS
visibility as backoff, TypeScript bodies, engines that return less than DynamoDB Local."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import attrs
import pytest

from simple_async_tasks import (
    AsyncTask,
    AsyncTaskStatus,
    RetryPolicy,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, create_sqs_handler
from simple_async_tasks.conditions import status_in
from simple_async_tasks.contracts import Transition
from simple_async_tasks.errors import ConditionFailedError, InvalidTaskError, QueueLimitError
from simple_async_tasks.lifecycle.options import ExecuteOptions
from simple_async_tasks.parcel import ParcelMeta, TaskParcel, encode_parcel
from simple_async_tasks.serialization import default_converter

from ..tasks import SendEmail
from .conftest import lambda_event, queue_arn, receive_all

S = AsyncTaskStatus


@attrs.frozen(kw_only=True)
class Step(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("account", "n")
    mutex: ClassVar[tuple[str, ...] | None] = ("account",)
    account: str
    n: int


def test_a_unique_key_longer_than_dynamodb_allows_is_refused_before_any_call(
    dynamodb, table, sqs, queue_url
):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    enqueue = with_queue_lifecycle(
        get_new=lambda key: SendEmail(user_id=key),
        dao=dao,
        queue=SqsTaskQueue(queue_url, client=sqs),
    )
    with pytest.raises(InvalidTaskError, match="2,048-byte limit"):
        enqueue("k" * 3000)
    assert receive_all(sqs, queue_url) == []
    assert dao.get_many(["k" * 3000, "short"]) == {}  # no call can carry such a key


def test_one_record_with_an_oversized_key_fails_alone(dynamodb, table, sqs, queue_url):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)
    enqueue = with_queue_lifecycle(get_new=lambda k: SendEmail(user_id=k), dao=dao, queue=queue)
    for i in range(9):
        enqueue(f"u{i}")
    messages = receive_all(sqs, queue_url)
    bad = json.loads(messages[0]["Body"])
    bad["task"]["user_id"] = "k" * 3000
    messages.append({**messages[0], "MessageId": "bad", "Body": json.dumps(bad)})
    handler = create_sqs_handler(with_execute_lifecycle(lambda t: None, dao=dao, queue=queue))
    response = handler(lambda_event(messages, queue_arn(sqs, queue_url)), None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert all(dao.get(f"u{i}").status is S.FULFILLED for i in range(9))


def test_more_than_100_records_of_one_type_in_an_event_all_run(dynamodb, table, sqs, queue_url):
    from simple_async_tasks import enqueue_many

    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)
    enqueue_many([SendEmail(user_id=f"u{i}") for i in range(150)], dao=dao, queue=queue)
    runs: list[str] = []
    execute = with_execute_lifecycle(lambda t: runs.append(t.user_id), dao=dao, queue=queue)
    messages = receive_all(sqs, queue_url)
    assert len(messages) == 150  # Lambda allows batches of up to 10,000 records
    response = create_sqs_handler(execute)(lambda_event(messages, queue_arn(sqs, queue_url)))
    assert response == {"batchItemFailures": []}
    assert sorted(runs) == sorted(f"u{i}" for i in range(150))


def test_fifo_message_groups_are_valid_sqs_ids_one_per_mutex_key(sqs, fifo_queue_url):
    queue = SqsTaskQueue(fifo_queue_url, client=sqs)
    accounts = ["acme corp", "Zürich", "x" * 300, "plain-id_1"]
    for n, account in enumerate(accounts):
        queue.push(TaskParcel(task=Step(account=account, n=n), meta=meta(fifo_queue_url)))
    queue.push(TaskParcel(task=Step(account="acme corp", n=9), meta=meta(fifo_queue_url)))
    groups = [m["Attributes"]["MessageGroupId"] for m in receive_all(sqs, fifo_queue_url)]
    assert len(groups) == 5
    assert all(re.fullmatch(r"[!-~]{1,128}", g) for g in groups), groups
    assert len(set(groups)) == 4  # one group per account, the same for the same account
    assert "Step#plain-id_1" in groups  # a valid key is sent as is


def meta(url: str) -> ParcelMeta:
    return ParcelMeta(queue_type="SQS", queue_url=url, task_type="Step")


def test_a_failed_record_comes_back_after_its_backoff_not_the_visibility_timeout(
    dynamodb, table, sqs, queue_url
):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)
    with_queue_lifecycle(get_new=lambda k: SendEmail(user_id=k), dao=dao, queue=queue)("u1")

    def fail(task: SendEmail) -> None:
        raise ConnectionError("smtp down")

    options = ExecuteOptions(
        retry=RetryPolicy(max_attempts=3, initial_delay=timedelta(seconds=1), jitter=0)
    )
    execute = with_execute_lifecycle(fail, dao=dao, queue=queue, options=options)
    (message,) = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=30)["Messages"]
    response = create_sqs_handler(execute)(lambda_event([message], queue_arn(sqs, queue_url)))
    assert len(response["batchItemFailures"]) == 1
    started = time.monotonic()
    again = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    assert len(again) == 1  # after the 1 s backoff, not the 30 s visibility timeout
    assert time.monotonic() - started < 5


def test_typescript_bodies_without_meta_and_with_javascript_dates_run(
    dynamodb, table, sqs, queue_url
):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    with_queue_lifecycle(
        get_new=lambda k: SendEmail(user_id=k), dao=dao, queue=SqsTaskQueue(queue_url, client=sqs)
    )("u1")
    stored = dao.get("u1")
    body = {  # what simple-async-tasks (TypeScript) before 1.5.0 sends: no meta, JS dates
        "task": {
            "uuid": stored.uuid,
            "status": "QUEUED",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "created_at": "2026-01-01T00:00:00.000Z",
            "user_id": "u1",
        }
    }
    runs: list[str] = []
    execute = with_execute_lifecycle(
        lambda t: runs.append(t.user_id), dao=dao, queue=SqsTaskQueue(queue_url, client=sqs)
    )
    arn = queue_arn(sqs, queue_url)
    handler = create_sqs_handler([], by_queue_arn={arn: execute})
    message = {
        "MessageId": "ts-1",
        "ReceiptHandle": "r",
        "Body": json.dumps(body),
        "MD5OfBody": "",
    }
    assert handler(lambda_event([message], arn)) == {"batchItemFailures": []}
    assert runs == ["u1"]


def test_javascript_dates_parse_on_every_supported_python():
    parsed = default_converter.structure("2026-01-01T00:00:00.000Z", datetime)
    assert parsed == datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_a_body_up_to_one_mebibyte_is_sent_and_one_byte_more_is_refused(sqs, queue_url):
    @attrs.frozen(kw_only=True)
    class Blob(AsyncTask):
        unique: ClassVar[tuple[str, ...]] = ("name",)
        name: str
        data: str

    queue = SqsTaskQueue(queue_url, client=sqs)
    parcel_meta = ParcelMeta(queue_type="SQS", queue_url=queue_url, task_type="Blob")
    empty = TaskParcel(task=Blob(name="b", data=""), meta=parcel_meta)
    overhead = len(encode_parcel(empty, default_converter).encode())
    fits = Blob(name="b", data="x" * (1024 * 1024 - overhead))
    queue.push(TaskParcel(task=fits, meta=parcel_meta))  # 1 MiB exactly: SQS takes it
    assert len(receive_all(sqs, queue_url)[0]["Body"].encode()) == 1024 * 1024
    with pytest.raises(QueueLimitError, match="1048576-byte limit"):
        queue.push(TaskParcel(task=attrs.evolve(fits, data=fits.data + "x"), meta=parcel_meta))


def test_an_engine_that_returns_no_item_on_a_failed_condition_gets_a_consistent_read(
    aws_endpoint, table
):
    client = aws_endpoint.client("dynamodb")
    dao = DynamoTaskDao(SendEmail, table_name=table, client=client)
    dao.save(SendEmail(user_id="u1", status=S.FULFILLED), condition=None)

    def drop_item(parsed: dict[str, Any], **_: Any) -> None:
        parsed.pop("Item", None)  # what an engine without ReturnValuesOnConditionCheckFailure does

    client.meta.events.register("after-call.dynamodb.UpdateItem", drop_item)
    with pytest.raises(ConditionFailedError) as failed:
        dao.transition("u1", Transition(status=S.ATTEMPTED), condition=status_in(S.QUEUED))
    assert failed.value.current is not None
    assert failed.value.current.status is S.FULFILLED


def test_a_task_that_fails_for_good_is_recorded_and_its_message_never_dead_lettered(
    dynamodb, table, sqs
):
    dlq = sqs.create_queue(QueueName="final-dlq")["QueueUrl"]
    url = sqs.create_queue(
        QueueName="final",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": queue_arn(sqs, dlq), "maxReceiveCount": "5"}
            ),
        },
    )["QueueUrl"]
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(url, client=sqs)
    with_queue_lifecycle(get_new=lambda k: SendEmail(user_id=k), dao=dao, queue=queue)("u1")

    def fail(task: SendEmail) -> None:
        raise ConnectionError("smtp down")

    policy = RetryPolicy(max_attempts=2, initial_delay=timedelta(seconds=1), jitter=0)
    execute = with_execute_lifecycle(
        fail, dao=dao, queue=queue, options=ExecuteOptions(retry=policy)
    )
    handler = create_sqs_handler(execute)
    deliveries = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, AttributeNames=["All"])
        for message in out.get("Messages", []):
            deliveries += 1
            response = handler(lambda_event([message], queue_arn(sqs, url)))
            if not response["batchItemFailures"]:  # what the event source mapping does
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if deliveries and not out.get("Messages") and dao.get("u1").status is S.FAILED:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            counts = attributes["Attributes"]
            if (
                counts["ApproximateNumberOfMessages"]
                == counts["ApproximateNumberOfMessagesNotVisible"]
                == "0"
            ):
                break
    stored = dao.get("u1")
    assert (stored.status, stored.failures) == (S.FAILED, 2)
    assert deliveries >= 3  # two attempts (and early ones put back), the skip that deletes
    assert receive_all(sqs, dlq) == []
