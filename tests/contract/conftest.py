"""Backends side by side: every contract test runs on memory, SQLite and DynamoDB (on
DynamoDB Local)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simple_async_tasks import InMemoryTaskDao
from simple_async_tasks.testing import FakeClock

DaoFactory = Callable[..., Any]


@pytest.fixture(params=["memory", "sqlite", pytest.param("dynamodb", marks=pytest.mark.aws)])
def make_dao(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Any) -> DaoFactory:
    if request.param == "memory":
        return lambda cls, **kw: InMemoryTaskDao(cls, clock=clock, **kw)
    if request.param == "sqlite":
        from simple_async_tasks import SqliteTaskDao

        return lambda cls, **kw: SqliteTaskDao(cls, tmp_path / "tasks.db", clock=clock, **kw)
    pytest.importorskip("boto3")
    from simple_async_tasks.aws import DynamoTaskDao

    client = request.getfixturevalue("dynamodb")
    table_name = request.getfixturevalue("table")
    return lambda cls, **kw: DynamoTaskDao(
        cls, table_name=table_name, client=client, clock=clock, **kw
    )
