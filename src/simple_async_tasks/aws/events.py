"""Typed shapes of the SQS event a Lambda receives and of its partial batch response."""

from __future__ import annotations

from typing import Any, Protocol, TypedDict


class SqsRecord(TypedDict, total=False):
    """One record of an SQS event (the documented Lambda shape)."""

    messageId: str
    receiptHandle: str
    body: str
    attributes: dict[str, str]
    messageAttributes: dict[str, Any]
    md5OfBody: str
    eventSource: str
    eventSourceARN: str
    awsRegion: str


class SqsEvent(TypedDict):
    """The event of an SQS-triggered Lambda."""

    Records: list[SqsRecord]


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class SqsBatchResponse(TypedDict):
    """The partial batch response (the event source mapping uses ReportBatchItemFailures)."""

    batchItemFailures: list[BatchItemFailure]


class LambdaContext(Protocol):
    """The part of the Lambda context object the handlers use."""

    def get_remaining_time_in_millis(self) -> int: ...
