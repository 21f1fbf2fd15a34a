"""Create the DynamoDB table the DAO expects (tests, local use, docs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..backends._dynamo_errors import error_code
from ..backends._dynamo_locks import TTL_ATTRIBUTE
from ..backends.dynamodb import GSI_NAME
from .clients import dynamodb_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def create_table(
    table_name: str,
    *,
    client: DynamoDBClient | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    ttl: bool = True,
    exist_ok: bool = True,
) -> None:
    """Create the task table with exactly the schema ``DynamoTaskDao`` uses, and wait for it.

    Partition key ``pk`` (S); global secondary index ``gsi1`` on ``gsi1pk`` (S,
    hash) and ``gsi1sk`` (S, range), all attributes projected; on-demand
    billing; time-to-live on ``expires_at`` when ``ttl``.
    """
    client = client or dynamodb_client(region, endpoint_url)
    try:
        client.create_table(
            TableName=table_name,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "gsi1pk", "AttributeType": "S"},
                {"AttributeName": "gsi1sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": GSI_NAME,
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    except Exception as error:
        if not (exist_ok and error_code(error) == "ResourceInUseException"):
            raise
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    if ttl:
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
