"""The peers users would pick instead, set up to do the same work as ours.

Imported only by the benchmarks; install them with ``pip install --group bench``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


class LambdaContext:
    """A stand-in for the Lambda context object."""

    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def powertools_handler(
    dynamodb: Any, table_name: str, work: Callable[[int], object]
) -> Callable[[dict[str, Any], Any], Any]:
    """Powertools BatchProcessor + idempotent_function on DynamoDB, keyed by the task's unique key.

    ``table_name`` must exist with a string partition key ``id`` (see ``create_powertools_table``).
    """
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb)
    config = IdempotencyConfig(event_key_jmespath="powertools_json(body).task.n")
    processor = BatchProcessor(event_type=EventType.SQS)

    @idempotent_function(
        data_keyword_argument="record", persistence_store=persistence, config=config
    )
    def record_handler(record: Any) -> Any:
        return {"result": work(json.loads(record["body"])["task"]["n"])}

    def handler(event: dict[str, Any], context: Any) -> Any:
        config.register_lambda_context(context)
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return handler


def create_powertools_table(dynamodb: Any, table_name: str) -> None:
    dynamodb.create_table(
        TableName=table_name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
