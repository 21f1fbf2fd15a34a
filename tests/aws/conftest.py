"""The local AWS engines, spoken to over real HTTP on 127.0.0.1: DynamoDB Local for
DynamoDB (AWS's own engine, a Java program), moto's server for SQS."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3", reason="the AWS tests need the 'test' dependency group")

from simple_async_tasks.testing.local_aws import REGION, LocalAws  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/aws/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.aws)


def receive_all(sqs: Any, queue_url: str, *, wait: int = 0) -> list[dict[str, Any]]:
    """Every visible message of the queue (with attributes), deleted as received."""
    messages: list[dict[str, Any]] = []
    while True:
        out = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        batch = out.get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )


def queue_arn(sqs: Any, queue_url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


def lambda_event(messages: list[dict[str, Any]], arn: str) -> dict[str, Any]:
    """Wrap received SQS messages in the documented SQS Lambda event shape."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


class Context:
    def __init__(self, remaining_ms: list[int]) -> None:
        self.remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


def load_app(monkeypatch: Any, aws: LocalAws, table: str, queue_url: str) -> ModuleType:
    """examples/lambda_app.py, configured for the local engines, freshly imported."""
    monkeypatch.setenv("TASKS_TABLE", table)
    monkeypatch.setenv("TASKS_QUEUE_URL", queue_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", aws.dynamodb)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", aws.sqs)
    _reset_clients()
    sys.modules.pop("examples.lambda_app", None)
    return importlib.import_module("examples.lambda_app")


@pytest.fixture
def app(
    monkeypatch: Any, aws_endpoint: LocalAws, table: str, queue_url: str
) -> Iterator[ModuleType]:
    yield load_app(monkeypatch, aws_endpoint, table, queue_url)
    sys.modules.pop("examples.lambda_app", None)
    _reset_clients()


def _reset_clients() -> None:
    from simple_async_tasks.aws import reset_clients

    reset_clients()
