from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import attrs
import pytest

from simple_async_tasks import AsyncTaskStatus
from simple_async_tasks.conditions import (
    AttemptsEqual,
    DueBy,
    FailuresBelow,
    LeaseExpiredBy,
    LeaseIs,
    VersionEquals,
    absent,
    status_in,
)
from simple_async_tasks.contracts import MutexLock, Transition
from simple_async_tasks.errors import ConditionFailedError, MutexHeldError

from ..tasks import Address, Color, RichTask, SendEmail, SyncAccount

S = AsyncTaskStatus


def test_save_get_and_identity(make_dao, clock):
    dao = make_dao(SendEmail)
    first = dao.save(SendEmail(user_id="u1"), condition=absent())
    assert (first.version, first.attempts, first.created_at) == (1, 0, clock.now())
    assert dao.get("u1") == first
    assert dao.get("nobody") is None
    clock.advance(3)
    second = dao.save(
        attrs.evolve(first, email="new@x", attempts=99, uuid="other"), condition=VersionEquals(1)
    )
    assert second.uuid == first.uuid
    assert second.created_at == first.created_at
    assert second.attempts == 0  # whole-task writes keep the stored attempt count
    assert (second.version, second.email, second.updated_at) == (2, "new@x", clock.now())


def test_conflict_carries_the_current_record(make_dao):
    dao = make_dao(SendEmail)
    stored = dao.save(SendEmail(user_id="u1"), condition=None)
    with pytest.raises(ConditionFailedError) as lost:
        dao.save(SendEmail(user_id="u1"), condition=absent())
    assert lost.value.current == stored
    with pytest.raises(ConditionFailedError) as lost:
        dao.transition("u1", Transition(status=S.ATTEMPTED), condition=status_in(S.FULFILLED))
    assert lost.value.current == stored
    with pytest.raises(ConditionFailedError) as lost:
        dao.transition("ghost", Transition(status=S.ATTEMPTED), condition=status_in(S.QUEUED))
    assert lost.value.current is None


def test_claim_condition_of_the_lifecycle(make_dao, clock):
    dao = make_dao(SendEmail)
    now = clock.now()
    dao.save(SendEmail(user_id="due", execute_after=now), condition=None)
    dao.save(SendEmail(user_id="later", execute_after=now + timedelta(seconds=1)), condition=None)
    claim = (status_in(S.QUEUED) & DueBy(now) & FailuresBelow(3)) | (
        status_in(S.ATTEMPTED) & LeaseExpiredBy(now)
    )
    until = now + timedelta(minutes=1)
    change = Transition(
        status=S.ATTEMPTED, add_attempts=1, attempted_at=now, lease_id="L1", lease_until=until
    )
    won = dao.transition("due", change, condition=claim)
    assert (won.status, won.attempts, won.attempted_at, won.version) == (S.ATTEMPTED, 1, now, 2)
    assert (won.lease_id, won.lease_until, won.failures) == ("L1", until, 0)
    with pytest.raises(ConditionFailedError):
        dao.transition("later", change, condition=claim)
    with pytest.raises(ConditionFailedError):  # claimed already
        dao.transition("due", change, condition=claim)
    done = dao.transition(
        "due",
        Transition(status=S.FULFILLED, last_error=None, lease_until=None, final=True),
        condition=status_in(S.ATTEMPTED) & LeaseIs("L1") & AttemptsEqual(1),
    )
    assert done.status is S.FULFILLED
    assert (done.lease_id, done.lease_until) == ("L1", None)
    assert done.attempted_at == now  # kept


def test_transition_sets_and_clears_optional_fields(make_dao, clock):
    dao = make_dao(SendEmail)
    dao.save(SendEmail(user_id="u1", email="keep@x"), condition=None)
    due = clock.now() + timedelta(minutes=5)
    failed = dao.transition(
        "u1",
        Transition(status=S.FAILED, last_error="Boom: x", execute_after=due),
        condition=status_in(S.QUEUED),
    )
    assert (failed.last_error, failed.execute_after, failed.email) == ("Boom: x", due, "keep@x")
    cleared = dao.transition(
        "u1", Transition(status=S.QUEUED, execute_after=None), condition=status_in(S.FAILED)
    )
    assert cleared.execute_after is None
    assert cleared.last_error == "Boom: x"


def test_mutex_is_taken_atomically_with_the_claim(make_dao, clock):
    dao = make_dao(SyncAccount)
    for job in (1, 2):
        dao.save(SyncAccount(account_id="a", job=job), condition=None)
    now = clock.now()
    lock1 = MutexLock(
        key="SyncAccount#a", owner="t1", acquired_at=now, expires_at=now + timedelta(minutes=1)
    )
    lock2 = attrs.evolve(lock1, owner="t2")
    claim = Transition(status=S.ATTEMPTED, add_attempts=1, attempted_at=now)
    dao.transition('["a",1]', claim, condition=status_in(S.QUEUED), acquire=lock1)
    with pytest.raises(MutexHeldError, match="held by task 't1'") as held:
        dao.transition('["a",2]', claim, condition=status_in(S.QUEUED), acquire=lock2)
    assert held.value.expires_in == timedelta(minutes=1)
    assert dao.get('["a",2]').status is S.QUEUED  # the claim did not happen either
    # a failed task condition wins over the lock check, and takes no lock
    with pytest.raises(ConditionFailedError):
        dao.transition('["a",2]', claim, condition=status_in(S.FULFILLED), acquire=lock2)
    dao.release_mutex(lock2)  # not the owner: nothing happens
    assert dao.mutex_holder("SyncAccount#a") == lock1
    dao.transition(
        '["a",1]', Transition(status=S.FULFILLED), condition=status_in(S.ATTEMPTED), release=lock1
    )
    assert dao.mutex_holder("SyncAccount#a") is None
    # an expired lock is free for others
    dao.transition('["a",2]', claim, condition=status_in(S.QUEUED), acquire=lock2)
    late = attrs.evolve(
        lock1,
        owner="t3",
        acquired_at=now + timedelta(minutes=2),
        expires_at=now + timedelta(minutes=3),
    )
    dao.save(SyncAccount(account_id="a", job=3), condition=None)
    dao.transition('["a",3]', claim, condition=status_in(S.QUEUED), acquire=late)
    assert dao.mutex_holder("SyncAccount#a").owner == "t3"


def test_finish_still_succeeds_when_its_expired_lock_was_taken(make_dao, clock):
    dao = make_dao(SyncAccount)
    dao.save(SyncAccount(account_id="a", job=1), condition=None)
    now = clock.now()
    mine = MutexLock(
        key="SyncAccount#a", owner="t1", acquired_at=now, expires_at=now + timedelta(seconds=1)
    )
    claim = Transition(status=S.ATTEMPTED, add_attempts=1, attempted_at=now)
    dao.transition('["a",1]', claim, condition=status_in(S.QUEUED), acquire=mine)
    dao.save(SyncAccount(account_id="a", job=2), condition=None)
    theirs = MutexLock(
        key="SyncAccount#a",
        owner="t2",
        acquired_at=now + timedelta(seconds=5),
        expires_at=now + timedelta(minutes=1),
    )
    dao.transition('["a",2]', claim, condition=status_in(S.QUEUED), acquire=theirs)
    done = dao.transition(
        '["a",1]', Transition(status=S.FULFILLED), condition=status_in(S.ATTEMPTED), release=mine
    )
    assert done.status is S.FULFILLED
    assert dao.mutex_holder("SyncAccount#a").owner == "t2"  # not released by t1


def test_find_by_status_oldest_first_paginated(make_dao, clock):
    dao = make_dao(SendEmail)
    for i in range(7):
        dao.save(SendEmail(user_id=f"u{i}"), condition=None)
        clock.advance(1)
    dao.transition("u3", Transition(status=S.FULFILLED), condition=status_in(S.QUEUED))
    other = make_dao(SyncAccount)  # another type in the same table is not listed
    other.save(SyncAccount(account_id="x", job=1), condition=None)
    seen, cursor, pages = [], None, 0
    while True:
        page = dao.find_by_status(S.QUEUED, limit=2, cursor=cursor)
        seen.extend(t.user_id for t in page.items)
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == ["u0", "u1", "u2", "u4", "u5", "u6"]
    assert pages >= 3
    assert [t.user_id for t in dao.find_by_status(S.FULFILLED).items] == ["u3"]


def test_every_field_type_is_stored_exactly(make_dao):
    dao = make_dao(RichTask)
    task = RichTask(
        key="k",
        count=-(2**53) - 1,
        ratio=0.1,
        flag=True,
        blob=b"\x00\x01binary\xff",
        when=datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=timezone.utc),
        day=date(2026, 3, 4),
        color=Color.BLUE,
        tags=["", "a", "ü"],
        scores={"a b": 0, "x": -1},
        address=Address(street="", zip_code=None),
        note="",
    )
    stored = dao.save(task, condition=None)
    again = dao.get("k")
    assert again == stored
    for name in (
        "count",
        "ratio",
        "flag",
        "blob",
        "when",
        "day",
        "color",
        "tags",
        "scores",
        "address",
        "note",
    ):
        assert getattr(again, name) == getattr(task, name), name
    assert type(again.color) is Color
    assert type(again.status) is S


def test_get_many(make_dao):
    dao = make_dao(SendEmail)
    for i in range(120):
        dao.save(SendEmail(user_id=f"u{i}"), condition=None)
    found = dao.get_many([f"u{i}" for i in range(0, 130, 1)])
    assert sorted(found) == sorted(f"u{i}" for i in range(120))
    assert found["u7"].user_id == "u7"


@pytest.mark.aws
def test_dynamodb_refuses_what_it_cannot_store_before_the_call(dynamodb, table):
    from simple_async_tasks.aws import DynamoTaskDao
    from simple_async_tasks.errors import InvalidTaskError

    dao = DynamoTaskDao(RichTask, table_name=table, client=dynamodb)
    with pytest.raises(InvalidTaskError, match="empty key"):
        dao.save(RichTask(key="k", scores={"": 1}), condition=None)
    with pytest.raises(InvalidTaskError, match="over the 409,600-byte limit"):
        dao.save(RichTask(key="k", note="x" * 410_000), condition=None)
    assert dao.get("k") is None


def test_transition_many_is_all_or_nothing(make_dao, clock):
    dao = make_dao(SendEmail)
    records = [dao.save(SendEmail(user_id=f"u{i}"), condition=None) for i in range(3)]
    change = Transition(status=S.ATTEMPTED, add_attempts=1, attempted_at=clock.now())
    out = dao.transition_many([(r, change) for r in records[:2]], condition=status_in(S.QUEUED))
    assert [(t.status, t.attempts, t.version) for t in out] == [(S.ATTEMPTED, 1, 2)] * 2
    assert [dao.get(f"u{i}") for i in range(2)] == out
    # u0 changed since it was read (stale version): nothing of the batch is written
    with pytest.raises(ConditionFailedError):
        dao.transition_many(
            [(records[2], change), (records[0], change)], condition=status_in(S.QUEUED)
        )
    assert dao.get("u2").status is S.QUEUED
    assert dao.transition_many([], condition=status_in(S.QUEUED)) == []


def test_inspection_counts_lists_and_shows(make_dao):
    from simple_async_tasks.operations import count_tasks, list_tasks, show_task

    dao = make_dao(SendEmail)
    for i in range(5):
        dao.save(SendEmail(user_id=f"u{i}"), condition=None)
    dao.transition(
        "u0", Transition(status=S.FAILED, last_error="E: x"), condition=status_in(S.QUEUED)
    )
    other = make_dao(SyncAccount)  # another type in the same storage is not counted
    other.save(SyncAccount(account_id="a", job=1), condition=None)
    counts = count_tasks(dao)
    assert counts[S.QUEUED] == 4
    assert counts[S.FAILED] == 1
    assert sum(counts.values()) == 5
    failed = list_tasks(dao, S.FAILED)
    assert [(t.user_id, t.last_error) for t in failed.items] == [("u0", "E: x")]
    assert show_task(dao, "u3").user_id == "u3"
    assert show_task(dao, "nobody") is None


def test_a_transition_keeps_the_result_and_a_save_clears_it(make_dao):
    dao = make_dao(SendEmail)
    dao.save(SendEmail(user_id="u1"), condition=None)
    text = '{"id":"m-1","sizes":[1,2.5],"ok":true,"note":"é"}'
    done = dao.transition(
        "u1",
        Transition(status=S.FULFILLED, result=text, final=True),
        condition=status_in(S.QUEUED),
    )
    assert done.result == text
    assert dao.get("u1").result == text
    later = dao.transition("u1", Transition(status=S.FULFILLED), condition=status_in(S.FULFILLED))
    assert later.result == text  # kept unless the transition names it
    again = dao.save(attrs.evolve(later, status=S.QUEUED, result=None), condition=None)
    assert again.result is None
    assert dao.get("u1").result is None


def test_locks_are_listed_per_task_type_and_broken_with_care(make_dao, clock):
    from simple_async_tasks.operations import break_lock, mutex_locks

    from ..tasks import SendEmail

    dao = make_dao(SyncAccount)
    other = make_dao(SendEmail)
    assert mutex_locks(dao) == []
    now = clock.now()
    claim = Transition(status=S.ATTEMPTED, add_attempts=1, attempted_at=now)
    locks = {}
    for account, minutes in (("b", 1), ("a", 5)):
        dao.save(SyncAccount(account_id=account, job=1), condition=None)
        locks[account] = MutexLock(
            key=f"SyncAccount#{account}",
            owner=f"lease-{account}",
            acquired_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
        key = f'["{account}",1]'
        dao.transition(key, claim, condition=status_in(S.QUEUED), acquire=locks[account])
    assert mutex_locks(dao) == [locks["a"], locks["b"]]  # by key
    assert mutex_locks(other) == []  # another task type's locks are not its
    with pytest.raises(MutexHeldError, match="'SyncAccount#a' is held by task 'lease-a'"):
        break_lock(dao, "SyncAccount#a", clock=clock)  # live: refused
    assert mutex_locks(dao) == [locks["a"], locks["b"]]
    clock.advance(timedelta(minutes=2))  # b's lock expired
    assert break_lock(dao, "SyncAccount#b", clock=clock) == locks["b"]
    assert break_lock(dao, "SyncAccount#a", force=True, clock=clock) == locks["a"]
    assert break_lock(dao, "SyncAccount#a", force=True, clock=clock) is None
    assert mutex_locks(dao) == []
    # the attempt whose lock was broken finishes: its fenced release changes nothing
    dao.transition(
        '["a",1]',
        Transition(status=S.FULFILLED),
        condition=status_in(S.ATTEMPTED),
        release=locks["a"],
    )
    assert dao.mutex_holder("SyncAccount#a") is None


def test_delete_removes_the_record_and_leaves_a_tombstone(make_dao, clock):
    from simple_async_tasks.operations import delete_task

    dao = make_dao(SendEmail)
    other = make_dao(RichTask)
    stored = dao.save(SendEmail(user_id="u1"), condition=None)
    assert dao.deleted_at("u1") is None
    clock.advance(5)
    assert delete_task(dao, "u1") == stored
    assert dao.get("u1") is None
    assert dao.deleted_at("u1") == clock.now()
    assert dao.count_by_status(S.QUEUED) == 0
    assert dao.find_by_status(S.QUEUED).items == []
    assert other.deleted_at("u1") is None  # a tombstone is its task type's only
    clock.advance(timedelta(days=14))
    assert dao.deleted_at("u1") == clock.now() - timedelta(days=14)  # kept 14 days
    clock.advance(1)
    assert dao.deleted_at("u1") is None  # past it, ignored where it is not removed yet
    # the key is free again: a new task under it is stored as new, tombstone or not
    again = dao.save(SendEmail(user_id="u1"), condition=absent())
    assert (again.version, again.uuid != stored.uuid) == (1, True)


def test_delete_refuses_a_running_task_and_names_a_missing_one(make_dao, clock):
    from simple_async_tasks.errors import InvalidTaskError, TaskNotFoundError
    from simple_async_tasks.operations import delete_task

    dao = make_dao(SendEmail)
    dao.save(SendEmail(user_id="u1"), condition=None)
    claim = Transition(status=S.ATTEMPTED, add_attempts=1, attempted_at=clock.now())
    running = dao.transition("u1", claim, condition=status_in(S.QUEUED))
    with pytest.raises(InvalidTaskError, match=r"it is ATTEMPTED.*wait for the running attempt"):
        delete_task(dao, "u1")
    assert dao.get("u1") == running
    assert dao.deleted_at("u1") is None
    with pytest.raises(TaskNotFoundError, match="SendEmail"):
        delete_task(dao, "ghost")
    assert dao.deleted_at("ghost") is None


def test_delete_failed_removes_every_failed_task_and_nothing_else(make_dao, clock):
    from simple_async_tasks.operations import delete_failed

    dao = make_dao(SendEmail)
    for user in ("f1", "f2", "f3", "q1"):
        dao.save(SendEmail(user_id=user), condition=None)
    fail = Transition(status=S.FAILED, add_failures=1)
    for user in ("f1", "f2", "f3"):
        dao.transition(user, fail, condition=status_in(S.QUEUED))
    assert delete_failed(dao, page_size=2) == 3  # across pages
    assert dao.count_by_status(S.FAILED) == 0
    assert [t.user_id for t in dao.find_by_status(S.QUEUED).items] == ["q1"]
    assert {dao.deleted_at(u) is not None for u in ("f1", "f2", "f3")} == {True}
    assert delete_failed(dao) == 0
