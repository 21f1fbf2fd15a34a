"""A failed record waits its task's backoff, not the queue's whole visibility timeout.

The handler leaves a failed record's message on the queue (it is reported in
``batchItemFailures``); SQS would show it again only after the visibility
timeout (the template sets six times the function timeout: 6 minutes). So
before reporting it, the handler sets the message's visibility to the task's
backoff with ``ChangeMessageVisibility`` and the record's receipt handle.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..backends.sqs import visibility_seconds
from ..clock import system_clock
from ..routing import ExecuteResultLike, RawExecutor, backoff_of, failure_reason

logger = logging.getLogger("simple_async_tasks.lambda")


def queue_url_of(arn: str) -> tuple[str, str]:
    """The region and queue URL named by an SQS queue ARN (``arn:aws:sqs:REGION:ACCOUNT:NAME``)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    _, partition, _, region, account, name = parts
    domain = "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
    return region, f"https://sqs.{region}.{domain}/{account}/{name}"


def hold_back(
    executor: RawExecutor, record: Mapping[str, Any], outcome: ExecuteResultLike | Exception
) -> None:
    """Hide a failed record's message for its task's backoff (nothing when it has none).

    The executor's own SQS queue and client are used when the record came from that
    queue; otherwise the process's client for the ARN's region. A failure here is
    logged: the message then comes back after its visibility timeout, as before.
    """
    delay = backoff_of(outcome, system_clock.now())
    handle, arn = record.get("receiptHandle"), record.get("eventSourceARN")
    if delay is None or not isinstance(handle, str) or not isinstance(arn, str):
        return
    try:
        client, url = _client_and_url(executor, arn)
        client.change_message_visibility(
            QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=visibility_seconds(delay)
        )
    except Exception as error:
        logger.warning(
            "message %s: could not set its visibility to the backoff: %s",
            record.get("messageId"),
            failure_reason(error),
        )


def _client_and_url(executor: RawExecutor, arn: str) -> tuple[Any, str]:
    region, url = queue_url_of(arn)
    queue = getattr(executor, "queue", None)
    own_url = getattr(queue, "queue_url", None)
    same_queue = (
        getattr(queue, "queue_type", None) == "SQS"
        and isinstance(own_url, str)
        and own_url.rstrip("/").rsplit("/", 1)[-1] == arn.rsplit(":", 1)[-1]
    )
    if same_queue:
        return getattr(queue, "client"), str(own_url)  # noqa: B009 (SqsTaskQueue.client)
    from ..backends._aws_clients import sqs_client

    return sqs_client(region), url
