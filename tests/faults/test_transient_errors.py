"""Fault 4: throttling and transient errors injected into real boto3 calls."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError

from simple_async_tasks import (
    AsyncTaskStatus,
    BackendError,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, create_sqs_handler

from ..aws.conftest import lambda_event, queue_arn, receive_all
from ..tasks import SendEmail

pytestmark = pytest.mark.aws


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


class Injector:
    """Makes the first ``k`` calls of a client fail with ``fault``, through botocore's events."""

    def __init__(self, client: Any, fault: str, k: int) -> None:
        self.client, self.fault, self.left = client, fault, k
        self.injected = 0
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-send", self.before_send)
        client.meta.events.register("before-call", self.before_call)

    def before_call(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def before_send(self, request: Any, **_: Any) -> Any:
        if self.left <= 0:
            return None
        self.left -= 1
        self.injected += 1
        if self.fault == "connection reset":
            raise ConnectionClosedError(endpoint_url=request.url)
        body = json.dumps({"__type": self.fault, "message": f"injected {self.fault}"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": self.fault}
        return AWSResponse(request.url, 400, headers, _Body(body))

    def remove(self) -> None:
        self.client.meta.events.unregister("before-send", self.before_send)
        self.client.meta.events.unregister("before-call", self.before_call)


@pytest.mark.parametrize(
    ("service", "fault"),
    [
        ("dynamodb", "ProvisionedThroughputExceededException"),
        ("dynamodb", "ThrottlingException"),
        ("dynamodb", "connection reset"),
        ("sqs", "ThrottlingException"),
        ("sqs", "connection reset"),
    ],
)
def test_transient_errors_are_retried_and_nothing_is_duplicated(
    dynamodb, sqs, table, queue_url, service, fault
):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)
    runs: Counter[str] = Counter()
    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue
    )
    execute = with_execute_lifecycle(lambda t: runs.update([t.user_id]), dao=dao, queue=queue)
    handler = create_sqs_handler(execute)
    injector = Injector(dynamodb if service == "dynamodb" else sqs, fault, k=2)
    try:
        for i in range(5):
            enqueue(i)
        injector.left = 2  # and again during execution
        messages = receive_all(sqs, queue_url)
        response = handler(lambda_event(messages, queue_arn(sqs, queue_url)), None)
    finally:
        injector.remove()
    assert injector.injected == 4
    assert len(messages) == 5  # no duplicate sends
    assert response == {"batchItemFailures": []}
    assert runs == Counter({f"u{i}": 1 for i in range(5)})
    assert all(dao.get(f"u{i}").status is AsyncTaskStatus.FULFILLED for i in range(5))


def test_a_permanent_error_surfaces_at_once_with_a_clear_message(dynamodb, table):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    injector = Injector(dynamodb, "AccessDeniedException", k=1)
    try:
        with pytest.raises(BackendError, match=r"access to DynamoDB table .* was denied"):
            dao.get("u1")
    finally:
        injector.remove()
    assert injector.calls["GetItem"] == 1
    assert injector.injected == 1  # not retried


def test_a_missing_table_surfaces_at_once(dynamodb):
    dao = DynamoTaskDao(SendEmail, table_name="missing-table", client=dynamodb)
    with pytest.raises(BackendError, match="does not exist"):
        dao.save(SendEmail(user_id="u1"), condition=None)
