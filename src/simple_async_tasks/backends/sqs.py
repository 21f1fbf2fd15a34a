"""SQS, in one place: ``SqsTaskQueue`` sends parcels (limits checked before sending),
``SqsSource`` receives them for a worker (long polling, batched deletes) and
``SqsDeadLetters`` lists and redrives the dead-letter queue."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import cattrs

from .._limits import MAX_BODY_BYTES, check_body_size, check_delay
from ..contracts import DeadLetter, Delivery, QueueDepth
from ..definition import task_spec
from ..errors import ConfigurationError, QueueLimitError, QueueSendError
from ..parcel import TaskParcel, encode_parcel, fits_without_encoding
from ..serialization import default_converter
from ..task import AsyncTask
from ._aws_clients import ClientPlace
from ._edges import aws_edge, require_boto3
from ._partial import until_done
from ._pending import PendingDeletes

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from .aws_async import AsyncSqsTaskQueue

logger = logging.getLogger("simple_async_tasks.sqs")

MAX_DELAY = timedelta(seconds=900)
"""SQS's longest per-message delay."""
MAX_VISIBILITY = timedelta(hours=12)
"""SQS's longest visibility timeout."""

MAX_BATCH = 10
"""SQS's most entries per batch call (send, delete, change visibility, receive)."""


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
        with aws_edge("SQS queue", queue_url):
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


class SqsTaskQueue(ClientPlace):
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
        if client is None:
            require_boto3(f"SqsTaskQueue for {queue_url}")
        self._url = queue_url
        self._client = client
        self._region = region
        self._endpoint_url = endpoint_url
        self._converter = converter
        self.fifo = queue_url.endswith(".fifo")

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            from ._aws_clients import sqs_client

            self._client = sqs_client(self._region, self._endpoint_url)
        return self._client

    @property
    def queue_url(self) -> str:
        return self._url

    def entry(self, parcel: TaskParcel[AsyncTask], delay: timedelta) -> dict[str, Any]:
        """The ``SendMessage`` parameters of ``parcel`` (limits checked, nothing sent)."""
        return {"QueueUrl": self._url, **self._entry(parcel, delay)}

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

    def purge(self) -> int | None:
        """``PurgeQueue``: SQS drops every message within about a minute, and refuses a
        second purge of the queue within 60 seconds (``BackendError``,
        ``PurgeQueueInProgress``). Returns None: SQS does not say how many."""
        with aws_edge("SQS queue", self._url):
            self.client.purge_queue(QueueUrl=self._url)
        return None

    def depth(self) -> QueueDepth:
        """SQS's approximate counts (one ``GetQueueAttributes``): visible, not visible (in
        flight, or hidden for a retry's backoff) and delayed. Dead letters are in the
        dead-letter queue (``SqsDeadLetters``)."""
        with aws_edge("SQS queue", self._url):
            out = self.client.get_queue_attributes(
                QueueUrl=self._url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )
        found = out.get("Attributes", {})
        return QueueDepth(
            visible=int(found.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(found.get("ApproximateNumberOfMessagesNotVisible", 0)),
            delayed=int(found.get("ApproximateNumberOfMessagesDelayed", 0)),
            exact=False,
        )

    def push(self, parcel: TaskParcel[AsyncTask], *, delay: timedelta = timedelta(0)) -> None:
        entry = self.entry(parcel, delay)
        with aws_edge("SQS queue", self._url):
            self.client.send_message(**entry)

    def aio(self) -> AsyncSqsTaskQueue:
        """This queue's sends awaited on aiobotocore (the ``aws-async`` extra): see
        ``backends.aws_async``.

        Raises:
            ConfigurationError: aiobotocore is not installed (with the install command).
        """
        from .aws_async import AsyncSqsTaskQueue

        return AsyncSqsTaskQueue(self)

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
        """One ``SendMessageBatch``; entries SQS failed on its side are sent again under
        ``PARTIAL_RETRY``, entries refused as the sender's fault are not."""
        failed: list[dict[str, Any]] = []

        def send(pending: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
            nonlocal failed
            with aws_edge("SQS queue", self._url):
                out = self.client.send_message_batch(
                    QueueUrl=self._url,
                    Entries=list(pending.values()),  # type: ignore[arg-type]
                )
            failed = [dict(f) for f in out.get("Failed", [])]
            retry = {f["Id"] for f in failed if not f.get("SenderFault")}
            if not failed or len(retry) < len(failed):
                return None  # all sent, or some can never be: stop trying
            return {k: v for k, v in pending.items() if k in retry}

        until_done(send, {str(i): {**e, "Id": str(i)} for i, e in enumerate(entries)})
        if not failed:
            return
        summary = ", ".join(
            f"entry {f.get('Id')}: {f.get('Code')} {f.get('Message', '')}".strip() for f in failed
        )
        raise QueueSendError(
            f"{len(failed)} message(s) could not be sent to {self._url} ({summary}); their "
            "tasks stay QUEUED and the requeue sweep will push them again",
            failed=failed,
        )


class SqsSource:
    """Messages of an SQS queue, received with long polling."""

    def __init__(self, queue_url: str, client: Any) -> None:
        self.queue_url = queue_url
        self.client = client
        self._finished = PendingDeletes[str]()

    def take(self, max_messages: int, wait: timedelta) -> list[Delivery]:
        self.flush()
        with aws_edge("SQS queue", self.queue_url):
            out = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(max_messages, 10),
                WaitTimeSeconds=min(int(wait.total_seconds()), 20),
            )
        return [
            Delivery(m["MessageId"], m["Body"], m["ReceiptHandle"])
            for m in out.get("Messages", [])
        ]

    def done(self, delivery: Delivery) -> None:
        self._finished.add(delivery.handle)

    def flush(self) -> None:
        with self._finished.taken() as handles:
            delete_batches(self.client, self.queue_url, handles)

    def later(self, delivery: Delivery, delay: timedelta) -> None:
        with aws_edge("SQS queue", self.queue_url):
            self.client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=delivery.handle,
                VisibilityTimeout=visibility_seconds(delay),
            )


def _letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    count = attributes.get("ApproximateReceiveCount")
    return DeadLetter(
        message["MessageId"],
        message["Body"],
        int(count) if count is not None else None,
        datetime.fromtimestamp(int(sent) / 1000, timezone.utc) if sent else None,
    )


class SqsDeadLetters:
    """The dead-letter queue named by an SQS queue's ``RedrivePolicy``.

    Listing receives the messages with a short visibility timeout and makes
    them visible again at once, so it raises their receive counts. Redriving
    sends each message to the source queue, then deletes it from the
    dead-letter queue: a crash between the two leaves a duplicate message,
    which the execute lifecycle skips.
    """

    def __init__(self, queue_url: str, client: SQSClient, *, visibility_timeout: int = 30) -> None:
        self.queue_url = queue_url
        self.client = client
        self.visibility_timeout = visibility_timeout
        self._dlq_url: str | None = None

    @property
    def location(self) -> str:
        return f"the dead-letter queue of {self.queue_url}"

    @property
    def dlq_url(self) -> str:
        """The dead-letter queue's URL, read from the source queue's redrive policy once."""
        if self._dlq_url is None:
            out = self.client.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["RedrivePolicy"]
            )
            policy = out.get("Attributes", {}).get("RedrivePolicy")
            if not policy:
                raise ConfigurationError(
                    f"queue {self.queue_url} has no dead-letter queue: give it a RedrivePolicy "
                    "with a deadLetterTargetArn (deploy/template.yaml does)"
                )
            arn = str(json.loads(policy)["deadLetterTargetArn"])
            account, name = arn.split(":")[4:6]
            self._dlq_url = self.client.get_queue_url(
                QueueName=name, QueueOwnerAWSAccountId=account
            )["QueueUrl"]
        return self._dlq_url

    def _receive(self, count: int) -> list[dict[str, Any]]:
        out = self.client.receive_message(
            QueueUrl=self.dlq_url,
            MaxNumberOfMessages=min(count, MAX_BATCH),
            VisibilityTimeout=self.visibility_timeout,
            WaitTimeSeconds=1,  # long polling asks every server: an empty answer means empty
            MessageSystemAttributeNames=["All"],
        )
        return [dict(m) for m in out.get("Messages", [])]

    def _batches(self, limit: int | None) -> Iterator[list[dict[str, Any]]]:
        seen: set[str] = set()
        while limit is None or len(seen) < limit:
            wanted = MAX_BATCH if limit is None else limit - len(seen)
            fresh = [m for m in self._receive(wanted) if m["MessageId"] not in seen]
            if not fresh:
                return
            seen.update(m["MessageId"] for m in fresh)
            yield fresh

    def list(self, limit: int = 100) -> list[DeadLetter]:
        with aws_edge("SQS queue", self.queue_url):
            found: dict[str, DeadLetter] = {}
            latest: dict[str, str] = {}  # message id -> its newest receipt handle
            try:
                while len(found) < limit:
                    batch = self._receive(limit - len(found))
                    latest.update((m["MessageId"], m["ReceiptHandle"]) for m in batch)
                    fresh = [m for m in batch if m["MessageId"] not in found]
                    if not fresh:
                        break
                    found.update((m["MessageId"], _letter(m)) for m in fresh)
            finally:
                self._release(list(latest.values()))
            return list(found.values())

    def _release(self, handles: Sequence[str]) -> None:
        """Make received messages visible again at once."""
        for start in range(0, len(handles), MAX_BATCH):
            chunk = handles[start : start + MAX_BATCH]
            self.client.change_message_visibility_batch(
                QueueUrl=self.dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for i, h in enumerate(chunk)
                ],
            )

    def _entry(self, index: int, message: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
        group = message.get("Attributes", {}).get("MessageGroupId")
        if self.queue_url.endswith(".fifo"):
            entry["MessageGroupId"] = group or "redrive"
            entry["MessageDeduplicationId"] = hashlib.sha256(
                f"redrive|{message['MessageId']}".encode()
            ).hexdigest()
        return entry

    def redrive(self, limit: int | None = None) -> int:
        with aws_edge("SQS queue", self.queue_url):
            moved = 0
            failures: list[dict[str, object]] = []
            for batch in self._batches(limit):
                out = self.client.send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[self._entry(i, m) for i, m in enumerate(batch)],  # type: ignore[misc]
                )
                sent = {int(s["Id"]) for s in out.get("Successful", [])}
                failures.extend(dict(f) for f in out.get("Failed", []))
                done = [m for i, m in enumerate(batch) if i in sent]
                delete_batches(self.client, self.dlq_url, [m["ReceiptHandle"] for m in done])
                moved += len(done)
            if failures:
                raise QueueSendError(
                    f"moved {moved} dead letter(s) back to {self.queue_url}, but {len(failures)} "
                    "could not be sent; they stay in the dead-letter queue: run the redrive again",
                    failed=failures,
                )
            return moved
