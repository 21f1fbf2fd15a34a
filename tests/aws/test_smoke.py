from __future__ import annotations

from simple_async_tasks import AsyncTaskStatus
from simple_async_tasks.aws import DynamoTaskDao
from simple_async_tasks.conditions import absent

from ..tasks import SendEmail


def test_save_and_get(dynamodb, table):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    stored = dao.save(SendEmail(user_id="u1"), condition=absent())
    assert stored.version == 1
    assert dao.get("u1") == stored
    assert stored.status is AsyncTaskStatus.QUEUED
