"""A realistic Lambda app: two task types (one with a mutex), one class and one function
each, and the two handlers.

Deployed with deploy/template.yaml, which sets the environment:

    TASKS_TABLE      the DynamoDB table (created by the template)
    TASKS_QUEUE_URL  the SQS queue the handler is subscribed to

Locally, ``AWS_ENDPOINT_URL_DYNAMODB`` and ``AWS_ENDPOINT_URL_SQS`` (read by boto3
itself) point the clients at local engines.
The API side calls ``send_invoice_email.enqueue(...)`` and
``sync_customer.enqueue(...)``; Lambda calls ``handler`` (and ``schedule_handler``
every minute).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import ClassVar

import attrs

from simple_async_tasks import (
    AsyncTask,
    ExecuteOptions,
    RetryLaterError,
    RetryPolicy,
    TaskApp,
)
from simple_async_tasks.aws import create_schedule_handler, create_sqs_handler

TABLE = os.environ.get("TASKS_TABLE", "simple-async-tasks")
QUEUE_URL = os.environ.get("TASKS_QUEUE_URL", "")

tasks = TaskApp(f"dynamodb://{TABLE}", queue=QUEUE_URL or None)
"""Records in the DynamoDB table, messages on the SQS queue (opened on first use)."""


@attrs.frozen(kw_only=True)
class SendInvoiceEmail(AsyncTask):
    """Email one invoice to its customer, once."""

    unique: ClassVar[tuple[str, ...]] = ("invoice_id",)
    invoice_id: str
    email: str
    amount_cents: int


@attrs.frozen(kw_only=True)
class SyncCustomerToCrm(AsyncTask):
    """Push one revision of a customer to the CRM; never two syncs of a customer at once."""

    unique: ClassVar[tuple[str, ...]] = ("customer_id", "revision")
    mutex: ClassVar[tuple[str, ...] | None] = ("customer_id",)
    customer_id: str
    revision: int


OUTBOX: list[str] = []
"""Stands in for the mail provider and the CRM: what the business logic 'sent'."""
CRM_RATE_LIMITED: set[str] = set()
"""Customers the fake CRM answers 'slow down' for (tests fill it)."""


@tasks.task(SendInvoiceEmail, retry=RetryPolicy(max_attempts=5), retention=timedelta(days=30))
def send_invoice_email(task: SendInvoiceEmail) -> str:
    OUTBOX.append(f"invoice {task.invoice_id} to {task.email}")
    return f"sent {task.amount_cents / 100:.2f}"  # kept on the record: tasks show, .result()


@tasks.task(
    SyncCustomerToCrm,
    options=ExecuteOptions(lease=timedelta(seconds=30), time_limit=timedelta(minutes=5)),
    retention=timedelta(days=30),
)
def sync_customer(task: SyncCustomerToCrm) -> None:
    if task.customer_id in CRM_RATE_LIMITED:
        CRM_RATE_LIMITED.discard(task.customer_id)
        raise RetryLaterError("CRM rate limit", delay=timedelta(seconds=20))
    OUTBOX.append(f"crm {task.customer_id} r{task.revision}")


handler = create_sqs_handler(tasks.executors())
"""The executor Lambda: ``examples.lambda_app.handler``."""

scheduler = tasks.scheduler()
"""Re-pushes tasks a crash left QUEUED, enqueues SCHEDULED ones when due."""
schedule_handler = create_schedule_handler(scheduler)
"""The scheduler Lambda, run every minute: ``examples.lambda_app.schedule_handler``."""
