"""Create the DynamoDB table the DAO expects (tests, local use, docs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..backends._aws_clients import dynamodb_client
from ..backends._dynamo_locks import TTL_ATTRIBUTE
from ..backends._edges import aws_code as error_code
from ..backends._edges import aws_edge, require_boto3
from ..backends.dynamodb import GSI_NAME
from ..errors import ConfigurationError

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
    status_index: bool = True,
) -> None:
    """Create the task table with exactly the schema ``DynamoTaskDao`` uses, and wait for it.

    Partition key ``pk`` (S); on-demand billing; time-to-live on ``expires_at``
    when ``ttl``; and, when ``status_index``, the sparse global secondary index
    ``gsi1`` on ``gsi1pk`` (S, hash) and ``gsi1sk`` (S, range), keys only.

    Raises:
        ConfigurationError: no boto3, region or credentials, or a TTL on another attribute.
        BackendError: DynamoDB refused (``BackendUnavailableError``: try again later).
    """
    if client is None:
        require_boto3("create_table")
    with aws_edge("DynamoDB table", table_name):
        _create(
            client or dynamodb_client(region, endpoint_url),
            table_name,
            ttl=ttl,
            exist_ok=exist_ok,
            status_index=status_index,
        )


def _create(
    client: DynamoDBClient, table_name: str, *, ttl: bool, exist_ok: bool, status_index: bool
) -> None:
    attributes: list[Any] = [{"AttributeName": "pk", "AttributeType": "S"}]
    indexes: dict[str, Any] = {}
    if status_index:
        attributes += [
            {"AttributeName": "gsi1pk", "AttributeType": "S"},
            {"AttributeName": "gsi1sk", "AttributeType": "S"},
        ]
        indexes["GlobalSecondaryIndexes"] = [
            {
                "IndexName": GSI_NAME,
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ]
    try:
        client.create_table(
            TableName=table_name,
            AttributeDefinitions=attributes,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            **indexes,
        )
    except Exception as error:
        if not (exist_ok and error_code(error) == "ResourceInUseException"):
            raise
    client.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    if ttl:
        _enable_ttl(client, table_name)


def _enable_ttl(client: DynamoDBClient, table_name: str) -> None:
    """Turn on time-to-live on ``expires_at`` unless it is on already (DynamoDB refuses to
    enable it twice: ``ValidationException: TimeToLive is already enabled``)."""
    described = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    status = described.get("TimeToLiveStatus", "DISABLED")
    attribute = described.get("AttributeName")
    if status in ("ENABLED", "ENABLING"):
        if attribute != TTL_ATTRIBUTE:
            raise ConfigurationError(
                f"table {table_name!r} has time-to-live on {attribute!r}, not on "
                f"{TTL_ATTRIBUTE!r}: retention would never expire a task; turn that TTL off "
                f"(it can be changed once an hour) or pass ttl=False"
            )
        return
    try:
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    except Exception as error:  # another process enabled it between the two calls
        if not (error_code(error) == "ValidationException" and "already enabled" in str(error)):
            raise
