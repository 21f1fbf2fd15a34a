"""Fault 4: throttling and transient errors injected into real boto3 calls."""

from __future__ import annotations

from collections import Counter

import pytest

from simple_async_tasks import AsyncTaskStatus, with_execute_lifecycle, with_queue_lifecycle
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, create_sqs_handler
from simple_async_tasks.errors import BackendError

from ..aws.conftest import lambda_event, queue_arn, receive_all
from ..tasks import SendEmail
from .scenarios import Injector

pytestmark = pytest.mark.aws


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
