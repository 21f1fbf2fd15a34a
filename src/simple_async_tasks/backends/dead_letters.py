"""Dead letters: messages a queue gave up on, listed and moved back for another try.

A message lands in a dead-letter queue after too many receives without being
deleted: a poison body, a task whose executor kept crashing, a handler
timing out. Redriving puts it back on its queue; the execute lifecycle still
decides from the stored record, so a redriven message of a task that finished
meanwhile is skipped, never run twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ..errors import ConfigurationError, ParcelDecodeError, QueueSendError
from ..parcel import parse_parcel
from .sqlite_queue import SqliteTaskQueue
from .sqs import MAX_BATCH, delete_batches

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@attrs.frozen
class DeadLetter:
    """One dead-lettered message."""

    message_id: str
    body: str
    receive_count: int | None
    """Receives before it was given up on (SQS: receives so far, listing included)."""
    dead_at: datetime | None
    """When it was moved aside (SQLite), or first sent (SQS)."""

    @property
    def task_type(self) -> str | None:
        """The task type its parcel names, or None when the body is not a parcel."""
        try:
            return parse_parcel(self.body).meta.task_type
        except ParcelDecodeError:
            return None


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


class DeadLetterBox(Protocol):
    """The dead letters of one queue."""

    @property
    def location(self) -> str:
        """Where the dead letters are (for messages to a person)."""
        ...

    def list(self, limit: int = 100) -> list[DeadLetter]:
        """Up to ``limit`` dead letters, oldest first where the backend knows the order."""
        ...

    def redrive(self, limit: int | None = None) -> int:
        """Move up to ``limit`` (default: all) dead letters back to the queue; return how many."""
        ...


class SqliteDeadLetters:
    """The dead-letter table of a ``SqliteTaskQueue``."""

    def __init__(self, queue: SqliteTaskQueue) -> None:
        self.queue = queue

    @property
    def location(self) -> str:
        return f"the dead-letter table of {self.queue.queue_url}"

    def list(self, limit: int = 100) -> list[DeadLetter]:
        return [
            DeadLetter(message_id, body, count, dead_at)
            for message_id, body, count, dead_at in self.queue.dead_letters(limit)
        ]

    def redrive(self, limit: int | None = None) -> int:
        return self.queue.redrive(limit)


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
