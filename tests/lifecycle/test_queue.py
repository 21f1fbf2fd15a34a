from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import ClassVar

import attrs
import pytest

from simple_async_tasks import AsyncTask, InMemoryTaskDao, InMemoryTaskQueue, with_queue_lifecycle
from simple_async_tasks.errors import (
    InvalidTaskError,
    QueueLimitError,
    SerializationError,
    TaskDefinitionError,
)
from simple_async_tasks.operations import count_tasks

from ..tasks import RichTask, SendEmail


def stored(dao):
    """How many records the DAO holds, on any backend."""
    return sum(count_tasks(dao).values())


def test_queue_wrapper_keeps_name_and_doc(dao, queue):
    def get_new_welcome(user_id: str) -> SendEmail:
        """Build a welcome email task."""
        return SendEmail(user_id=user_id)

    enqueue = with_queue_lifecycle(get_new=get_new_welcome, dao=dao, queue=queue)
    assert enqueue.__name__ == "get_new_welcome"
    assert enqueue.__doc__ == "Build a welcome email task."


def test_body_over_the_queue_limit_fails_before_any_write(clock):
    dao = InMemoryTaskDao(SendEmail, clock=clock)
    queue = InMemoryTaskQueue(clock=clock, max_body_bytes=1024)
    enqueue = with_queue_lifecycle(
        get_new=lambda: SendEmail(user_id="u1", email="x" * 2000), dao=dao, queue=queue
    )
    with pytest.raises(QueueLimitError, match="over the 1024-byte limit"):
        enqueue()
    assert stored(dao) == 0
    assert len(queue) == 0


def test_value_json_cannot_hold_fails_before_any_write(clock, queue):
    dao = InMemoryTaskDao(RichTask, clock=clock)
    enqueue = with_queue_lifecycle(
        get_new=lambda: RichTask(key="k", ratio=math.nan), dao=dao, queue=queue
    )
    with pytest.raises(SerializationError, match="JSON"):
        enqueue()
    assert stored(dao) == 0


def test_naive_execute_after_is_refused(dao, queue):
    enqueue = with_queue_lifecycle(
        get_new=lambda: SendEmail(user_id="u1", execute_after=datetime(2030, 1, 1)),
        dao=dao,
        queue=queue,
    )
    with pytest.raises(InvalidTaskError, match="naive datetime"):
        enqueue()
    assert stored(dao) == 0


def test_broken_task_class_fails_when_the_lifecycle_is_built(queue):
    @attrs.frozen(kw_only=True)
    class Broken(AsyncTask):
        unique: ClassVar[tuple[str, ...]] = ("missing",)
        x: str

    with pytest.raises(TaskDefinitionError, match="missing"):
        with_queue_lifecycle(
            get_new=lambda: Broken(x="1"), dao=InMemoryTaskDao(Broken), queue=queue
        )


def test_push_failure_leaves_a_queued_record_for_the_sweep(dao, clock):
    class DownQueue(InMemoryTaskQueue):
        def push(self, parcel, *, delay=timedelta(0)):
            raise ConnectionError("queue unreachable")

    enqueue = with_queue_lifecycle(
        get_new=lambda: SendEmail(user_id="u1"), dao=dao, queue=DownQueue(clock=clock)
    )
    with pytest.raises(ConnectionError):
        enqueue()
    assert dao.get("u1").status.value == "QUEUED"  # saved before the push, never attempted
    assert dao.get("u1").attempts == 0


def test_enqueue_many_dedups_and_batches(dao, queue, clock):
    from simple_async_tasks import enqueue_many

    with_queue_lifecycle(get_new=lambda: SendEmail(user_id="u0"), dao=dao, queue=queue)()
    tasks = [SendEmail(user_id=f"u{i}") for i in range(5)] + [SendEmail(user_id="u1")]
    result = enqueue_many(tasks, dao=dao, queue=queue, clock=clock)
    assert [t.user_id for t in result] == ["u0", "u1", "u2", "u3", "u4", "u1"]
    assert stored(dao) == 5
    assert len(queue) == 5  # u0 was already queued; the second u1 is a duplicate


def test_enqueue_many_checks_everything_before_writing(clock):
    dao = InMemoryTaskDao(SendEmail, clock=clock)
    queue = InMemoryTaskQueue(clock=clock, max_body_bytes=1024)
    from simple_async_tasks import enqueue_many

    with pytest.raises(QueueLimitError):
        enqueue_many(
            [SendEmail(user_id="ok"), SendEmail(user_id="big", email="x" * 2000)],
            dao=dao,
            queue=queue,
        )
    assert stored(dao) == 0
