"""What the AWS benchmarks share: the task classes, SQS helpers and the meter of what AWS bills.

Imported by benchmarks/aws_cost.py and benchmarks/e2e.py only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from simple_async_tasks import AsyncTask

# On-demand prices, us-east-1, as published by AWS in November 2026 (USD per million).
PRICE_WRITE_UNIT = 0.625
PRICE_READ_UNIT = 0.125
PRICE_SQS_REQUEST = 0.40

_WRITES = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
_CONDITION_FAILED = "ConditionalCheckFailedException"


@attrs.frozen(kw_only=True)
class Job(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("n",)
    n: int


@attrs.frozen(kw_only=True)
class LockedJob(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("n",)
    mutex: ClassVar[tuple[str, ...] | None] = ("group",)
    n: int
    group: str


@attrs.define
class Bill:
    """What a piece of work cost: calls by operation, capacity units, SQS requests."""

    calls: Counter[str] = attrs.field(factory=Counter)
    table_writes: float = 0.0
    index_writes: float = 0.0
    reads: float = 0.0
    failed_conditions: float = 0.0
    sqs_requests: float = 0.0

    @property
    def writes(self) -> float:
        """Write units, a failed conditional write billed as 1 (DynamoDB's documented rule;
        the engine does not report it)."""
        return self.table_writes + self.index_writes + self.failed_conditions

    def dollars_per_million(self, per: float) -> float:
        return (
            self.writes * PRICE_WRITE_UNIT
            + self.reads * PRICE_READ_UNIT
            + self.sqs_requests * PRICE_SQS_REQUEST
        ) / per

    def scaled(self, factor: float) -> Bill:
        return Bill(
            self.calls,
            self.table_writes * factor,
            self.index_writes * factor,
            self.reads * factor,
            self.failed_conditions * factor,
            self.sqs_requests * factor,
        )

    def __add__(self, other: Bill) -> Bill:
        return Bill(
            self.calls + other.calls,
            self.table_writes + other.table_writes,
            self.index_writes + other.index_writes,
            self.reads + other.reads,
            self.failed_conditions + other.failed_conditions,
            self.sqs_requests + other.sqs_requests,
        )


class Meter:
    """Counts what AWS bills for the calls made through the given clients.

    Every DynamoDB request that accepts it gets ``ReturnConsumedCapacity=INDEXES``;
    the units the engine reports are summed per table and per index.
    """

    def __init__(self, dynamodb: Any, sqs: Any | None = None, *, aio: bool = False) -> None:
        self.bill = Bill()
        dynamodb.meta.events.register("provide-client-params.dynamodb", self._ask_capacity)
        dynamodb.meta.events.register("after-call.dynamodb", self._dynamodb)
        if sqs is not None:
            sqs.meta.events.register("after-call.sqs", self._sqs)
        if aio:  # the aiobotocore clients of the async paths, made from the library's session
            from simple_async_tasks.backends.aws_async import _session

            session = _session()
            session.register("provide-client-params.dynamodb", self._ask_capacity)
            session.register("after-call.dynamodb", self._dynamodb)
            session.register("after-call.sqs", self._sqs)

    @staticmethod
    def _ask_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params.setdefault("ReturnConsumedCapacity", "INDEXES")

    def _dynamodb(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.bill.calls[model.name] += 1
        if parsed.get("Error", {}).get("Code") == _CONDITION_FAILED:
            self.bill.failed_conditions += 1
        consumed = parsed.get("ConsumedCapacity") or []
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            table = float(entry.get("Table", {}).get("CapacityUnits", 0.0))
            indexes = sum(
                float(i.get("CapacityUnits", 0.0))
                for i in entry.get("GlobalSecondaryIndexes", {}).values()
            )
            if model.name in _WRITES:
                self.bill.table_writes += table
                self.bill.index_writes += indexes
            else:
                self.bill.reads += table + indexes

    def _sqs(self, model: Any, **_: Any) -> None:
        self.bill.calls[model.name] += 1
        self.bill.sqs_requests += 1

    def measure(self, fn: Callable[[], object]) -> Bill:
        """The bill of ``fn`` alone (calls made outside ``measure`` are not kept)."""
        self.bill = Bill()
        try:
            fn()
            return self.bill
        finally:
            self.bill = Bill()


def receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every visible message of the queue, deleted as received (not metered: pass a client
    without a meter, as the Lambda service's own calls are the same for every library)."""
    out: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        out.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return out


def events(messages: list[dict[str, Any]], arn: str, size: int = 10) -> list[dict[str, Any]]:
    """SQS Lambda events of ``size`` records each."""
    return [
        {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                }
                for m in messages[i : i + size]
            ]
        }
        for i in range(0, len(messages), size)
    ]


def queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])
