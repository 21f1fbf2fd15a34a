from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from simple_async_tasks import AsyncTaskStatus, InMemoryTaskQueue
from simple_async_tasks.conditions import (
    LeaseExpiredBy,
    UpdatedBefore,
    VersionEquals,
    absent,
    evaluate,
    status_in,
)
from simple_async_tasks.contracts import MutexLock, ParcelMeta, TaskParcel, Transition
from simple_async_tasks.errors import ConditionFailedError, MutexHeldError, QueueLimitError
from simple_async_tasks.parcel import parse_parcel

from .tasks import SendEmail

S = AsyncTaskStatus


def parcel(user_id: str) -> TaskParcel[SendEmail]:
    return TaskParcel(
        task=SendEmail(user_id=user_id),
        meta=ParcelMeta(queue_type="MEMORY", queue_url="memory://m", task_type="SendEmail"),
    )


def test_save_stamps_version_and_times_and_keeps_identity(dao, clock):
    first = dao.save(SendEmail(user_id="u1"), condition=absent())
    assert (first.version, first.created_at, first.updated_at) == (1, clock.now(), clock.now())
    clock.advance(5)
    second = dao.save(SendEmail(user_id="u1", email="new@x"), condition=VersionEquals(1))
    assert second.version == 2
    assert second.uuid == first.uuid
    assert second.created_at == first.created_at
    assert second.updated_at == clock.now()
    assert second.email == "new@x"


def test_failed_condition_carries_the_current_record(dao):
    stored = dao.save(SendEmail(user_id="u1"), condition=absent())
    with pytest.raises(ConditionFailedError) as caught:
        dao.save(SendEmail(user_id="u1"), condition=absent())
    assert caught.value.current == stored
    with pytest.raises(ConditionFailedError) as caught:
        dao.transition("u2", Transition(status=S.ATTEMPTED), condition=status_in(S.QUEUED))
    assert caught.value.current is None


def test_transition_changes_lifecycle_fields_only(dao, clock):
    dao.save(SendEmail(user_id="u1", email="keep@x"), condition=None)
    out = dao.transition(
        "u1",
        Transition(status=S.ATTEMPTED, add_attempts=1, attempted_at=clock.now()),
        condition=status_in(S.QUEUED),
    )
    assert (out.status, out.attempts, out.version, out.email) == (S.ATTEMPTED, 1, 2, "keep@x")
    out = dao.transition(
        "u1", Transition(status=S.FAILED, last_error="E: x"), condition=VersionEquals(2)
    )
    assert out.attempted_at == clock.now()  # kept
    assert out.last_error == "E: x"


def test_mutex_is_taken_with_the_transition_and_released(mutex_dao, clock):
    from .tasks import SyncAccount

    for job in (1, 2):
        mutex_dao.save(SyncAccount(account_id="a", job=job), condition=None)
    now = clock.now()
    lock1 = MutexLock(key="k", owner="t1", acquired_at=now, expires_at=now + timedelta(minutes=1))
    lock2 = attrs.evolve(lock1, owner="t2")
    mutex_dao.transition(
        '["a",1]', Transition(status=S.ATTEMPTED), condition=status_in(S.QUEUED), acquire=lock1
    )
    with pytest.raises(MutexHeldError, match="held by task 't1'"):
        mutex_dao.transition(
            '["a",2]', Transition(status=S.ATTEMPTED), condition=status_in(S.QUEUED), acquire=lock2
        )
    assert mutex_dao.get('["a",2]').status is S.QUEUED  # nothing written
    mutex_dao.release_mutex(lock2)  # not the owner: no effect
    assert mutex_dao.mutex_holder("k") == lock1
    mutex_dao.transition(
        '["a",1]', Transition(status=S.FULFILLED), condition=status_in(S.ATTEMPTED), release=lock1
    )
    assert mutex_dao.mutex_holder("k") is None


def test_find_by_status_oldest_first_paginated(dao, clock):
    for i in range(7):
        dao.save(SendEmail(user_id=f"u{i}"), condition=None)
        clock.advance(1)
    dao.transition("u3", Transition(status=S.FULFILLED), condition=status_in(S.QUEUED))
    seen, cursor = [], None
    while True:
        page = dao.find_by_status(S.QUEUED, limit=2, cursor=cursor)
        seen.extend(t.user_id for t in page.items)
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == ["u0", "u1", "u2", "u4", "u5", "u6"]
    assert [t.user_id for t in dao.find_by_status(S.FULFILLED).items] == ["u3"]
    with pytest.raises(ValueError, match="limit"):
        dao.find_by_status(S.QUEUED, limit=0)


def test_conditions_reference_semantics(clock):
    task = SendEmail(user_id="u1", lease_until=clock.now(), updated_at=clock.now())
    later = clock.now() + timedelta(seconds=1)
    assert evaluate(LeaseExpiredBy(clock.now()), task)  # a lease ends at its end
    assert not evaluate(LeaseExpiredBy(clock.now() - timedelta(microseconds=1)), task)
    assert evaluate(LeaseExpiredBy(later), SendEmail(user_id="u2"))  # no lease: free
    assert evaluate(UpdatedBefore(later), task)
    assert not evaluate(_never(), task)
    assert evaluate(absent() | status_in(S.QUEUED), task)
    assert not evaluate(absent() & status_in(S.QUEUED), task)
    assert not evaluate(status_in(S.QUEUED), None)
    assert evaluate(absent(), None)


def _never():
    return status_in()


@pytest.mark.parametrize("order", ["FIFO", "LIFO"])
def test_queue_order(clock, order):
    queue = InMemoryTaskQueue(clock=clock, order=order)
    for name in ("a", "b", "c"):
        queue.push(parcel(name))
    got = [parse_parcel(m.body).task["user_id"] for m in queue.receive(3)]
    assert got == (["a", "b", "c"] if order == "FIFO" else ["c", "b", "a"])


def test_queue_delays_follow_the_clock(queue, clock):
    queue.push(parcel("late"), delay=timedelta(seconds=30))
    queue.push(parcel("now"))
    assert [parse_parcel(m.body).task["user_id"] for m in queue.receive(5)] == ["now"]
    assert queue.next_visible_at() == clock.now() + timedelta(seconds=30)
    clock.advance(29)
    assert queue.receive() == []
    clock.advance(1)
    assert [parse_parcel(m.body).task["user_id"] for m in queue.receive()] == ["late"]


def test_queue_limits_are_checked_before_sending(clock):
    queue = InMemoryTaskQueue(clock=clock, max_body_bytes=300)
    with pytest.raises(QueueLimitError, match="out of range"):
        queue.push(parcel("a"), delay=timedelta(minutes=16))
    with pytest.raises(QueueLimitError, match="out of range"):
        queue.push(parcel("a"), delay=timedelta(seconds=-1))
    with pytest.raises(QueueLimitError, match="byte limit"):
        queue.push_many([parcel("a"), parcel("b" * 400)])
    assert len(queue) == 0  # push_many checks all before sending any
    with pytest.raises(ValueError, match="order"):
        InMemoryTaskQueue(order="RANDOM")  # type: ignore[arg-type]


def test_queue_is_thread_safe(clock):
    from concurrent.futures import ThreadPoolExecutor

    queue = InMemoryTaskQueue(clock=clock, keep_history=False)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: queue.push(parcel(f"u{i}")), range(2000)))
    with ThreadPoolExecutor(8) as pool:
        batches = list(pool.map(lambda _: queue.receive(10), range(300)))
    ids = [m.message_id for b in batches for m in b]
    assert len(ids) == len(set(ids)) == 2000


def test_the_queue_keeps_no_history_unless_asked(clock):
    """A long-running app on the memory queue must not grow with every message it sent."""
    queue = InMemoryTaskQueue(clock=clock)
    for i in range(50):
        queue.push(parcel(f"u{i}"))
        queue.receive(1)
    assert queue.history is None
    assert len(queue) == 0
    kept = InMemoryTaskQueue(clock=clock, keep_history=True)
    kept.push(parcel("u1"))
    kept.receive(1)
    assert [parse_parcel(m.body).task["user_id"] for m in kept.history] == ["u1"]
