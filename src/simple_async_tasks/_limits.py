"""Queue limit checks, done before anything is sent."""

from __future__ import annotations

from datetime import timedelta

from .errors import QueueLimitError

MAX_BODY_BYTES = 1024 * 1024
"""SQS's limit for one message body (and for the bodies of one batch together): 1 MiB
since August 2025 (botocore's model says so); the in-memory and SQLite queues take it as
their default. Each 64 KiB of a body is billed as one SQS request. A queue can set a lower
``MaximumMessageSize``; SQS then refuses the send."""


def check_delay(delay: timedelta, max_delay: timedelta, *, queue: str) -> None:
    if delay < timedelta(0) or delay > max_delay:
        raise QueueLimitError(
            f"delay {delay} is out of range for {queue}: it must be between 0 and {max_delay}. "
            "For a later time set execute_after on the task: with_queue_lifecycle saves it "
            "SCHEDULED and the scheduler sweep enqueues it when due"
        )


def check_body_size(body: str, max_bytes: int, *, queue: str) -> None:
    size = len(body.encode("utf-8"))
    if size > max_bytes:
        raise QueueLimitError(
            f"message body is {size} bytes, over the {max_bytes}-byte limit of {queue}. "
            "Keep large payloads elsewhere (S3, the database) and put their key in the task"
        )
