"""Fault 5, through real queues: fuzzed bodies delivered by the SQLite worker, and by the
Lambda handler from SQS on the local AWS endpoint (the in-memory fuzz is in
``test_handler_fuzz.py``). Good tasks all end FULFILLED, bad messages end in the
dead-letter box, and nothing crashes the worker or the batch."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simple_async_tasks import (
    AsyncTaskStatus,
    SqliteTaskDao,
    SqliteTaskQueue,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.worker import SqliteSource, Worker

from ..tasks import SendEmail
from .test_handler_fuzz import _bad_body

# Kinds a queue can carry (its bodies are valid Unicode strings of bounded size).
QUEUE_BAD_KINDS = [
    "not-json",
    "json-wrong-shape",
    "unknown-type",
    "missing-field",
    "wrong-type",
    "not-stored",
    "class-trick",
]
RECORDS = 40


def _bad_bodies(data: st.DataObject) -> list[str]:
    kinds = data.draw(
        st.lists(st.sampled_from(QUEUE_BAD_KINDS), min_size=RECORDS // 2, max_size=RECORDS // 2)
    )
    return [_bad_body(kind, data) for kind in kinds]


def test_fuzzed_bodies_through_the_sqlite_worker(tmp_path: Path, scale: int) -> None:
    seen = {"messages": 0}

    @settings(max_examples=4 * scale, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        db = tmp_path / f"fuzz-{seen['messages']}.db"
        dao = SqliteTaskDao(SendEmail, db)
        queue = SqliteTaskQueue(db, visibility_timeout=timedelta(seconds=0.1), max_receives=2)
        enqueue = with_queue_lifecycle(
            get_new=lambda u: SendEmail(user_id=u), dao=dao, queue=queue
        )
        users = [f"user{i}" for i in range(RECORDS // 2)]
        for user in users:
            enqueue(user)
        good = [m.body for m in queue.receive(len(users))]
        queue.push_bodies(good)  # duplicates of the good messages too
        bodies = _bad_bodies(data)
        bad = len(bodies)
        queue.push_bodies(data.draw(st.permutations(bodies)))
        worker = Worker(
            with_execute_lifecycle(lambda t: None, dao=dao, queue=queue),
            SqliteSource(queue),
            concurrency=4,
            poll_wait=timedelta(seconds=0.05),
        )
        summary = worker.run(handle_signals=False, max_idle=timedelta(seconds=0.6))
        for user in users:
            assert dao.get(user).status is AsyncTaskStatus.FULFILLED, user
        assert len(queue) == 0  # every message settled: deleted, or dead-lettered
        assert len(queue.dead_letters()) == bad
        assert summary.failed == 2 * bad  # each bad body: two receives, then the dead letters
        seen["messages"] += len(bodies) + 2 * len(users)

    fuzz()
    assert seen["messages"] >= 4 * scale * RECORDS


@pytest.mark.aws
def test_fuzzed_bodies_through_the_lambda_handler_on_sqs(
    dynamodb: Any, sqs: Any, table: str, scale: int
) -> None:
    from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, create_sqs_handler

    from ..aws.conftest import receive_all
    from .test_bad_input_and_poison import _queue_with_dlq, run_like_the_event_source_mapping

    seen = {"examples": 0}

    @settings(max_examples=2 * scale, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fuzz(data: st.DataObject) -> None:
        n = seen["examples"]
        seen["examples"] += 1
        url, dlq = _queue_with_dlq(sqs, f"fuzz-{table}-{n}", max_receives=2)
        dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
        queue = SqsTaskQueue(url, client=sqs)
        enqueue = with_queue_lifecycle(
            get_new=lambda u: SendEmail(user_id=u), dao=dao, queue=queue
        )
        users = [f"e{n}-user{i}" for i in range(RECORDS // 2)]
        for user in users:
            enqueue(user)
        bodies = _bad_bodies(data)
        for body in bodies:
            sqs.send_message(QueueUrl=url, MessageBody=body)
        handler = create_sqs_handler(with_execute_lifecycle(lambda t: None, dao=dao, queue=queue))
        run_like_the_event_source_mapping(sqs, url, handler, rounds=200)
        for user in users:
            assert dao.get(user).status is AsyncTaskStatus.FULFILLED, user
        assert receive_all(sqs, url) == []
        dead = receive_all(sqs, dlq)
        assert sorted(m["Body"] for m in dead) == sorted(bodies)

    fuzz()
