"""A realistic Lambda app: two task types (one with a mutex), their enqueuers and the handler.

Deployed with deploy/template.yaml, which sets the environment:

    TASKS_TABLE      the DynamoDB table (created by the template)
    TASKS_QUEUE_URL  the SQS queue the handler is subscribed to

Locally, ``AWS_ENDPOINT_URL_DYNAMODB`` and ``AWS_ENDPOINT_URL_SQS`` (read by boto3
itself) point the clients at local engines.
The API side calls ``enqueue_invoice_email`` and
``enqueue_crm_sync``; Lambda calls ``handler``.
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
    Scheduler,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.aws import (
    DynamoTaskDao,
    SqsTaskQueue,
    create_schedule_handler,
    create_sqs_handler,
)

TABLE = os.environ.get("TASKS_TABLE", "simple-async-tasks")
QUEUE_URL = os.environ.get("TASKS_QUEUE_URL", "")


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

queue = SqsTaskQueue(QUEUE_URL)
invoice_dao = DynamoTaskDao(SendInvoiceEmail, table_name=TABLE, retention=timedelta(days=30))
crm_dao = DynamoTaskDao(SyncCustomerToCrm, table_name=TABLE, retention=timedelta(days=30))


def send_invoice_email(task: SendInvoiceEmail) -> str:
    OUTBOX.append(f"invoice {task.invoice_id} to {task.email}")
    return f"sent {task.amount_cents / 100:.2f}"


def sync_customer(task: SyncCustomerToCrm) -> None:
    if task.customer_id in CRM_RATE_LIMITED:
        CRM_RATE_LIMITED.discard(task.customer_id)
        raise RetryLaterError("CRM rate limit", delay=timedelta(seconds=20))
    OUTBOX.append(f"crm {task.customer_id} r{task.revision}")


def new_invoice_email(invoice_id: str, email: str, amount_cents: int) -> SendInvoiceEmail:
    return SendInvoiceEmail(invoice_id=invoice_id, email=email, amount_cents=amount_cents)


def new_crm_sync(customer_id: str, revision: int) -> SyncCustomerToCrm:
    return SyncCustomerToCrm(customer_id=customer_id, revision=revision)


enqueue_invoice_email = with_queue_lifecycle(
    get_new=new_invoice_email, dao=invoice_dao, queue=queue
)
enqueue_crm_sync = with_queue_lifecycle(get_new=new_crm_sync, dao=crm_dao, queue=queue)

invoice_options = ExecuteOptions(retry=RetryPolicy(max_attempts=5))
crm_options = ExecuteOptions(lease=timedelta(seconds=30), time_limit=timedelta(minutes=5))

execute_invoice_email = with_execute_lifecycle(
    send_invoice_email, dao=invoice_dao, queue=queue, options=invoice_options
)
execute_crm_sync = with_execute_lifecycle(
    sync_customer, dao=crm_dao, queue=queue, options=crm_options
)

handler = create_sqs_handler([execute_invoice_email, execute_crm_sync])
"""The executor Lambda: ``examples.lambda_app.handler``."""

scheduler = Scheduler(sweep=[(invoice_dao, queue, invoice_options), (crm_dao, queue, crm_options)])
schedule_handler = create_schedule_handler(scheduler)
"""The scheduler Lambda, run every minute: ``examples.lambda_app.schedule_handler``."""
