"""The sparse, sharded status index on DynamoDB Local: what it costs, what it lists."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from simple_async_tasks import AsyncTaskStatus
from simple_async_tasks.aws import DynamoTaskDao, create_table
from simple_async_tasks.conditions import status_in
from simple_async_tasks.contracts import Transition
from simple_async_tasks.errors import ConfigurationError
from simple_async_tasks.operations import count_tasks

from ..tasks import SendEmail

S = AsyncTaskStatus


class Units:
    """The capacity units DynamoDB reports for the calls of one client, table and index apart."""

    def __init__(self, client: Any) -> None:
        self.table = 0.0
        self.index = 0.0
        client.meta.events.register("provide-client-params.dynamodb.*", self._ask)
        client.meta.events.register("after-call.dynamodb.*", self._add)

    @staticmethod
    def _ask(params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params["ReturnConsumedCapacity"] = "INDEXES"

    def _add(self, parsed: dict[str, Any], **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity") or []
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            self.table += float(entry.get("Table", {}).get("CapacityUnits", 0.0))
            for index in entry.get("GlobalSecondaryIndexes", {}).values():
                self.index += float(index["CapacityUnits"])

    def take(self) -> tuple[float, float]:
        out = (self.table, self.index)
        self.table = self.index = 0.0
        return out


@pytest.fixture
def units(aws_endpoint: Any) -> tuple[Any, Units]:
    client = aws_endpoint.client("dynamodb")
    return client, Units(client)


def test_the_happy_path_writes_the_index_twice_and_the_claim_not_at_all(units, table):
    client, meter = units
    dao = DynamoTaskDao(SendEmail, table_name=table, client=client)
    dao.save(SendEmail(user_id="u1"), condition=None)
    assert meter.take() == (1.0, 1.0)  # the record, and its OPEN entry
    claim = Transition(status=S.ATTEMPTED, add_attempts=1, lease_id="l1")
    dao.transition("u1", claim, condition=status_in(S.QUEUED))
    assert meter.take() == (1.0, 0.0)  # same index keys, keys-only projection: no index write
    renew = Transition(status=S.ATTEMPTED, lease_id="l1")
    dao.transition("u1", renew, condition=status_in(S.ATTEMPTED))
    assert meter.take() == (1.0, 0.0)
    done = Transition(status=S.FULFILLED, final=True, lease_id=None)
    dao.transition("u1", done, condition=status_in(S.ATTEMPTED))
    assert meter.take() == (1.0, 1.0)  # the entry is deleted: FULFILLED is not indexed


def test_without_the_index_a_task_costs_table_writes_only(units, dynamodb):
    client, meter = units
    create_table("no-index", client=dynamodb, status_index=False)
    assert "GlobalSecondaryIndexes" not in dynamodb.describe_table(TableName="no-index")["Table"]
    dao = DynamoTaskDao(SendEmail, table_name="no-index", client=client, status_index=False)
    meter.take()
    dao.save(SendEmail(user_id="u1"), condition=None)
    dao.transition("u1", Transition(status=S.ATTEMPTED), condition=status_in(S.QUEUED))
    dao.transition(
        "u1", Transition(status=S.FULFILLED, final=True), condition=status_in(S.ATTEMPTED)
    )
    assert meter.take() == (3.0, 0.0)
    item = dynamodb.get_item(TableName="no-index", Key={"pk": {"S": "SendEmail#u1"}})["Item"]
    assert "gsi1pk" not in item
    with pytest.raises(ConfigurationError, match="status_index=False"):
        dao.find_by_status(S.QUEUED)
    with pytest.raises(ConfigurationError, match="status_index=False"):
        dao.count_by_status(S.FAILED)
    assert count_tasks(dao) == {}  # nothing it could count cheaply


def test_entries_spread_over_the_shards_and_list_in_order_across_pages(dynamodb, table):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb, index_shards=4)
    keys = [f"u{i:03d}" for i in range(60)]
    for key in keys:
        dao.save(SendEmail(user_id=key), condition=None)
    items = dynamodb.scan(TableName=table)["Items"]
    per_shard = Counter(i["gsi1pk"]["S"] for i in items)
    assert set(per_shard) == {f"SendEmail#OPEN#{n}" for n in range(4)}
    assert max(per_shard.values()) < 30  # no key holds most of them
    listed, cursor, pages = [], None, 0
    while True:
        page = dao.find_by_status(S.QUEUED, limit=7, cursor=cursor)
        assert len(page.items) <= 7
        listed.extend(page.items)
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert sorted(t.user_id for t in listed) == keys  # each once
    created = [t.created_at for t in listed]
    assert created == sorted(created)  # oldest created first, merged over the shards
    assert pages >= 60 // 7
    assert dao.count_by_status(S.QUEUED) == 60


def test_open_tasks_are_split_by_status_when_listed_and_counted(dynamodb, table):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    for i in range(5):
        dao.save(SendEmail(user_id=f"u{i}"), condition=None)
    for i in range(2):
        dao.transition(f"u{i}", Transition(status=S.ATTEMPTED), condition=status_in(S.QUEUED))
    assert sorted(t.user_id for t in dao.find_by_status(S.ATTEMPTED).items) == ["u0", "u1"]
    assert (dao.count_by_status(S.QUEUED), dao.count_by_status(S.ATTEMPTED)) == (3, 2)


def test_finished_tasks_are_not_indexed_but_still_listed_and_counted_by_a_scan(dynamodb, table):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    for i in range(12):
        dao.save(SendEmail(user_id=f"u{i}", status=S.FULFILLED), condition=None)
    dao.save(SendEmail(user_id="q"), condition=None)
    listed, cursor = [], None
    while True:
        page = dao.find_by_status(S.FULFILLED, limit=5, cursor=cursor)
        listed.extend(t.user_id for t in page.items)
        cursor = page.cursor
        if cursor is None:
            break
    assert sorted(listed) == sorted(f"u{i}" for i in range(12))
    assert dao.count_by_status(S.FULFILLED) == 12
    counts = count_tasks(dao)  # the cheap ones only
    assert S.FULFILLED not in counts
    assert counts[S.QUEUED] == 1


def test_a_shard_count_out_of_range_is_refused_with_the_reason(dynamodb):
    with pytest.raises(ConfigurationError, match="between 1 and 100"):
        DynamoTaskDao(SendEmail, table_name="t", client=dynamodb, index_shards=0)


def test_a_cursor_from_another_listing_is_refused(dynamodb, table):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb, index_shards=8)
    small = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb, index_shards=2)
    for i in range(5):
        dao.save(SendEmail(user_id=f"u{i}"), condition=None)
    cursor = dao.find_by_status(S.QUEUED, limit=1).cursor
    assert cursor is not None
    with pytest.raises(ConfigurationError, match="another index_shards"):
        small.find_by_status(S.QUEUED, cursor=cursor)
    with pytest.raises(ConfigurationError, match="not a cursor"):
        dao.find_by_status(S.QUEUED, cursor="garbage!")


def test_the_stale_sweep_looks_past_a_recently_changed_older_task(dynamodb, table, sqs, queue_url):
    from datetime import timedelta

    from simple_async_tasks.aws import SqsTaskQueue
    from simple_async_tasks.operations import requeue_stale
    from simple_async_tasks.testing import FakeClock

    clock = FakeClock()
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb, clock=clock)
    dao.save(SendEmail(user_id="older"), condition=None)  # listed first: created first
    clock.advance(1)
    dao.save(SendEmail(user_id="stale"), condition=None)
    clock.advance(timedelta(minutes=30))
    dao.transition("older", Transition(status=S.QUEUED), condition=status_in(S.QUEUED))
    queue = SqsTaskQueue(queue_url, client=sqs)
    report = requeue_stale(dao=dao, queue=queue, older_than=timedelta(minutes=15), clock=clock)
    assert [t.user_id for t in report.requeued] == ["stale"]


def test_without_the_index_nothing_waits_on_a_sweep_that_cannot_run(dynamodb, sqs, queue_url):
    from datetime import timedelta

    from simple_async_tasks import with_queue_lifecycle
    from simple_async_tasks.aws import SqsTaskQueue
    from simple_async_tasks.operations import Scheduler, recurring_schedule
    from simple_async_tasks.testing import FakeClock

    create_table("no-index-2", client=dynamodb, status_index=False)
    clock = FakeClock()
    dao = DynamoTaskDao(
        SendEmail, table_name="no-index-2", client=dynamodb, status_index=False, clock=clock
    )
    queue = SqsTaskQueue(queue_url, client=sqs)
    enqueue = with_queue_lifecycle(
        get_new=lambda due: SendEmail(user_id="later", execute_after=due),
        dao=dao,
        queue=queue,
        clock=clock,
    )
    with pytest.raises(ConfigurationError, match="no status index"):
        enqueue(clock.now() + timedelta(days=1))  # only promote_due could ever enqueue it
    assert dao.get("later") is None
    enqueue(clock.now() + timedelta(minutes=5))  # within SQS's delay: sent delayed, fine
    with pytest.raises(ConfigurationError, match="cannot sweep SendEmail"):
        Scheduler(sweep=[(dao, queue)], clock=clock)
    schedule = recurring_schedule(
        name="daily",
        get_new=lambda moment: SendEmail(user_id=f"d{moment.day}"),
        every=timedelta(days=1),
        start_at=clock.now(),
        dao=dao,
        queue=queue,
        clock=clock,
    )
    report = Scheduler(schedules=[schedule], clock=clock).run_once()  # occurrences, no sweep
    assert report.enqueued == 1
