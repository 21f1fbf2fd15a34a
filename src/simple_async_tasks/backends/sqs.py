"""``SqsTaskQueue``: parcels as SQS messages, limits checked before sending."""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import cattrs

from .._limits import MAX_BODY_BYTES, check_body_size, check_delay
from ..definition import task_spec
from ..errors import QueueLimitError, QueueSendError
from ..parcel import TaskParcel, encode_parcel, fits_without_encoding
from ..serialization import default_converter
from ..task import AsyncTask

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger("simple_async_tasks.sqs")

MAX_DELAY = timedelta(seconds=900)
"""SQS's longest per-message delay."""
MAX_VISIBILITY = timedelta(hours=12)
"""SQS's longest visibility timeout."""

MAX_BATCH = 10
"""SQS's most entries per batch call (send, delete, change visibility, receive)."""
BATCH_RETRIES = 3


_GROUP_ID = re.compile(r"[!-~]{1,128}")
"""What SQS takes as a MessageGroupId: 1 to 128 ASCII letters, digits and punctuation."""


def message_group_id(key: str) -> str:
    """``key`` as an SQS message group id: as is when SQS takes it, else its readable part
    (other characters as ``_``, cut to 95) and ``~`` and 32 hex digits of its SHA-256, so
    one key always maps to one group and distinct keys to distinct groups."""
    if _GROUP_ID.fullmatch(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"{re.sub(r'[^!-~]', '_', key)[:95]}~{digest}"


def visibility_seconds(delay: timedelta) -> int:
    """``delay`` as a ``VisibilityTimeout``: whole seconds, rounded up, within SQS's range."""
    return min(max(math.ceil(delay.total_seconds()), 0), int(MAX_VISIBILITY.total_seconds()))


def delete_batches(client: Any, queue_url: str, handles: Sequence[str]) -> None:
    """Delete received messages with one ``DeleteMessageBatch`` per 10 receipt handles.

    An entry SQS refuses (an expired receipt handle) is logged, not raised: its
    message is delivered again and its task's record makes that delivery a skip.
    """
    for start in range(0, len(handles), MAX_BATCH):
        chunk = handles[start : start + MAX_BATCH]
        out = client.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(chunk)],
        )
        for failed in out.get("Failed", []):
            logger.warning(
                "could not delete a finished message from %s (%s: %s); it will be delivered "
                "again and skipped",
                queue_url,
                failed.get("Code"),
                failed.get("Message", ""),
            )


class SqsTaskQueue:
    """Sends parcels to one SQS queue (standard or FIFO).

    FIFO queues (URL ending in ``.fifo``) take the message group from the
    task's mutex key (or its type) and the deduplication id from its unique
    key and enqueue id; they do not allow per-message delays, so ``max_delay``
    is zero there and a delayed push raises ``QueueLimitError``.
    """

    queue_type = "SQS"

    def __init__(
        self,
        queue_url: str,
        *,
        client: SQSClient | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        converter: cattrs.Converter = default_converter,
    ) -> None:
        self._url = queue_url
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url
        self._converter = converter
        self.fifo = queue_url.endswith(".fifo")

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            from ..aws.clients import sqs_client

            self._client = sqs_client(self._region, self._endpoint_url)
        return self._client

    @property
    def queue_url(self) -> str:
        return self._url

    @property
    def max_delay(self) -> timedelta:
        return timedelta(0) if self.fifo else MAX_DELAY

    def _entry(self, parcel: TaskParcel[AsyncTask], delay: timedelta) -> dict[str, Any]:
        if self.fifo and delay > timedelta(0):
            raise QueueLimitError(
                f"FIFO queue {self._url} does not allow a per-message delay (asked {delay}); "
                "set a DelaySeconds on the queue itself, or let with_queue_lifecycle save "
                "tasks with a later execute_after as SCHEDULED"
            )
        check_delay(delay, MAX_DELAY, queue=self._url)
        body = encode_parcel(parcel, self._converter)
        check_body_size(body, MAX_BODY_BYTES, queue=self._url)
        entry: dict[str, Any] = {"MessageBody": body}
        if self.fifo:
            spec = task_spec(type(parcel.task))
            mutex = spec.mutex_key(parcel.task, self._converter)
            unique = spec.unique_key(parcel.task, self._converter)
            dedup = "|".join(
                [
                    spec.task_type,
                    unique,
                    parcel.meta.enqueue_uuid,
                    str(parcel.meta.requeue_depth),
                    str(parcel.task.attempts),
                ]
            )
            entry["MessageGroupId"] = message_group_id(mutex or spec.task_type)
            entry["MessageDeduplicationId"] = hashlib.sha256(dedup.encode()).hexdigest()
        else:
            entry["DelaySeconds"] = math.ceil(delay.total_seconds())
        return entry

    def check(self, parcel: TaskParcel[AsyncTask], *, delay: timedelta = timedelta(0)) -> None:
        """Raise ``QueueLimitError`` if sending this parcel (or the task the DAO stores
        from it) would be refused; encodes it only when its size is in doubt."""
        if self.fifo or not fits_without_encoding(parcel, MAX_BODY_BYTES, self._converter):
            self._entry(parcel, delay)
        else:
            check_delay(delay, MAX_DELAY, queue=self._url)

    def push(self, parcel: TaskParcel[AsyncTask], *, delay: timedelta = timedelta(0)) -> None:
        entry = self._entry(parcel, delay)
        self.client.send_message(QueueUrl=self._url, **entry)

    def push_many(
        self, parcels: Sequence[TaskParcel[AsyncTask]], *, delay: timedelta = timedelta(0)
    ) -> None:
        """Send with SendMessageBatch: 10 entries and 1 MiB per call; failed entries retried."""
        entries = [self._entry(p, delay) for p in parcels]
        batch: list[dict[str, Any]] = []
        size = 0
        for entry in entries:
            body_size = len(entry["MessageBody"].encode("utf-8"))
            if batch and (len(batch) == MAX_BATCH or size + body_size > MAX_BODY_BYTES):
                self._send_batch(batch)
                batch, size = [], 0
            batch.append(entry)
            size += body_size
        if batch:
            self._send_batch(batch)

    def _send_batch(self, entries: list[dict[str, Any]]) -> None:
        pending = {str(i): {**e, "Id": str(i)} for i, e in enumerate(entries)}
        failed: list[dict[str, Any]] = []
        for attempt in range(BATCH_RETRIES):
            out = self.client.send_message_batch(
                QueueUrl=self._url,
                Entries=list(pending.values()),  # type: ignore[arg-type]
            )
            failed = [dict(f) for f in out.get("Failed", [])]
            if not failed:
                return
            retry = {f["Id"] for f in failed if not f.get("SenderFault")}
            pending = {k: v for k, v in pending.items() if k in retry}
            if not pending or len(retry) < len(failed):
                break
            time.sleep(min(0.1 * 2**attempt, 1.0))
        summary = ", ".join(
            f"entry {f.get('Id')}: {f.get('Code')} {f.get('Message', '')}".strip() for f in failed
        )
        raise QueueSendError(
            f"{len(failed)} message(s) could not be sent to {self._url} after "
            f"{BATCH_RETRIES} tries ({summary}); their tasks stay QUEUED and the requeue sweep "
            "will push them again",
            failed=failed,
        )
