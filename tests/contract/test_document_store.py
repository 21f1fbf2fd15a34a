"""The ``DocumentStore`` contract (worker heartbeats and stored schedules are written in
it), on memory, SQLite and DynamoDB Local (with and without the status index)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from simple_async_tasks.contracts import ANY_VERSION
from simple_async_tasks.errors import ConditionFailedError
from simple_async_tasks.testing import FakeClock


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("dynamodb", marks=pytest.mark.aws),
        pytest.param("dynamodb-scan", marks=pytest.mark.aws),
    ]
)
def store(request: pytest.FixtureRequest, clock: FakeClock, tmp_path: Any) -> Any:
    if request.param == "memory":
        from simple_async_tasks.backends.documents import InMemoryDocumentStore

        return InMemoryDocumentStore(clock=clock)
    if request.param == "sqlite":
        from simple_async_tasks.backends.documents import SqliteDocumentStore

        return SqliteDocumentStore(tmp_path / "t.db", clock=clock)
    from simple_async_tasks.aws import create_table
    from simple_async_tasks.backends.dynamodb_documents import DynamoDocumentStore

    client = request.getfixturevalue("dynamodb")
    indexed = request.param == "dynamodb"
    name = f"docs-{request.node.name}".replace("[", "-").replace("]", "")[:200]
    create_table(name, client=client, status_index=indexed, exist_ok=True)
    return DynamoDocumentStore(table_name=name, client=client, clock=clock, status_index=indexed)


def test_create_read_update_delete_with_version_fences(store, clock):
    assert store.get_document("schedule", "nightly") is None
    created = store.put_document("schedule", "nightly", {"a": [1, "x"]}, expected_version=0)
    assert (created.version, created.data, created.updated_at) == (1, {"a": [1, "x"]}, clock.now())
    assert store.get_document("schedule", "nightly") == created
    with pytest.raises(ConditionFailedError) as lost:
        store.put_document("schedule", "nightly", {"a": 2}, expected_version=0)
    assert lost.value.current == created  # the winner, without another read
    clock.advance(5)
    updated = store.put_document("schedule", "nightly", {"a": 2}, expected_version=1)
    assert (updated.version, updated.data, updated.updated_at) == (2, {"a": 2}, clock.now())
    with pytest.raises(ConditionFailedError, match="changed by someone else"):
        store.put_document("schedule", "nightly", {"a": 3}, expected_version=1)  # stale
    forced = store.put_document("schedule", "nightly", {"a": 4}, expected_version=ANY_VERSION)
    assert forced.version == 3
    with pytest.raises(ConditionFailedError):
        store.delete_document("schedule", "nightly", expected_version=2)
    assert store.delete_document("schedule", "nightly", expected_version=3) is True
    assert store.delete_document("schedule", "nightly", expected_version=ANY_VERSION) is False
    assert store.get_document("schedule", "nightly") is None


def test_listing_is_per_kind_by_name_and_leaves_out_expired(store, clock):
    store.put_document("worker", "w2", {"n": 2}, expected_version=ANY_VERSION)
    store.put_document(
        "worker", "w1", {"n": 1}, expected_version=0, expires_at=clock.now() + timedelta(hours=1)
    )
    store.put_document("schedule", "w0", {}, expected_version=0)
    assert [d.name for d in store.list_documents("worker")] == ["w1", "w2"]
    assert [d.kind for d in store.list_documents("schedule")] == ["schedule"]
    clock.advance(timedelta(hours=1, seconds=1))
    assert [d.name for d in store.list_documents("worker")] == ["w2"]
    assert store.get_document("worker", "w1") is None
    again = store.put_document("worker", "w1", {"n": 5}, expected_version=0)  # expired: free
    assert (again.version, again.expires_at) == (1, None)
    assert store.list_documents("nothing") == []
