"""What only DynamoDB has: the table helper, retention (TTL) and clear errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from simple_async_tasks import AsyncTaskStatus
from simple_async_tasks.aws import DynamoTaskDao
from simple_async_tasks.conditions import status_in
from simple_async_tasks.contracts import Transition
from simple_async_tasks.errors import BackendError

from ..tasks import SendEmail

S = AsyncTaskStatus


def test_create_table_matches_the_schema_the_dao_uses(dynamodb, table):
    desc = dynamodb.describe_table(TableName=table)["Table"]
    assert desc["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    (gsi,) = desc["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "gsi1"
    assert [k["AttributeName"] for k in gsi["KeySchema"]] == ["gsi1pk", "gsi1sk"]
    assert desc["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_create_table_again_on_an_existing_table_is_a_no_op(dynamodb, table):
    from simple_async_tasks.aws import create_table

    create_table(table, client=dynamodb)  # TTL already enabled: the real engine refuses to
    create_table(table, client=dynamodb)  # enable it twice, so this must not ask again
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_retention_writes_the_ttl_attribute_on_finished_tasks_only(dynamodb, table):
    from simple_async_tasks.testing import FakeClock

    clock = FakeClock()
    dao = DynamoTaskDao(
        SendEmail, table_name=table, client=dynamodb, clock=clock, retention=timedelta(days=7)
    )

    def ttl_of(key):
        item = dynamodb.get_item(TableName=table, Key={"pk": {"S": f"SendEmail#{key}"}})["Item"]
        return int(item["expires_at"]["N"]) if "expires_at" in item else None

    dao.save(SendEmail(user_id="u1"), condition=None)
    assert ttl_of("u1") is None
    dao.transition("u1", Transition(status=S.ATTEMPTED), condition=status_in(S.QUEUED))
    assert ttl_of("u1") is None
    dao.transition(
        "u1", Transition(status=S.FULFILLED, final=True), condition=status_in(S.ATTEMPTED)
    )
    assert ttl_of("u1") == int((clock.now() + timedelta(days=7)).timestamp())
    dao.transition("u1", Transition(status=S.FAILED), condition=status_in(S.FULFILLED))
    assert ttl_of("u1") is None  # a retriable failure is kept
    dao.transition("u1", Transition(status=S.FAILED, final=True), condition=status_in(S.FAILED))
    assert ttl_of("u1") is not None  # failed for good: expires
    off = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb, clock=clock)
    off.save(SendEmail(user_id="u2", status=S.CANCELED), condition=None)
    assert ttl_of("u2") is None  # retention is off by default


def test_missing_table_is_a_clear_permanent_error(dynamodb):
    dao = DynamoTaskDao(SendEmail, table_name="no-such-table", client=dynamodb)
    with pytest.raises(BackendError, match="table 'no-such-table' does not exist"):
        dao.get("u1")
