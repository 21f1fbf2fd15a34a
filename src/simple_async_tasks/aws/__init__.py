"""AWS: DynamoDB records, SQS parcels, and the Lambda entry points.

Importing this module does not import boto3; clients are created on first use
(once per process, so warm Lambda invocations reuse them) unless you pass your
own. Install with ``pip install "simple-async-tasks[aws]"``.
"""

from __future__ import annotations

from ..backends._aws_clients import dynamodb_client, reset_clients, sqs_client
from ..backends.dynamodb import DynamoTaskDao
from ..backends.sqs import SqsDeadLetters, SqsTaskQueue
from .events import BatchItemFailure, LambdaContext, SqsBatchResponse, SqsEvent, SqsRecord
from .handler import SqsHandler, create_sqs_handler
from .schedule_handler import ScheduleHandler, create_schedule_handler
from .table import create_table


def __getattr__(name: str) -> object:
    if name == "QueueSendError":  # exported here before 0.2; its home is the errors module
        import warnings

        from ..errors import QueueSendError

        warnings.warn(
            "simple_async_tasks.aws.QueueSendError moved: import it with "
            "`from simple_async_tasks.errors import QueueSendError` (kept here until 1.0)",
            DeprecationWarning,
            stacklevel=2,
        )
        return QueueSendError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BatchItemFailure",
    "DynamoTaskDao",
    "LambdaContext",
    "ScheduleHandler",
    "SqsBatchResponse",
    "SqsDeadLetters",
    "SqsEvent",
    "SqsHandler",
    "SqsRecord",
    "SqsTaskQueue",
    "create_schedule_handler",
    "create_sqs_handler",
    "create_table",
    "dynamodb_client",
    "reset_clients",
    "sqs_client",
]
