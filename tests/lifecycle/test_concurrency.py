"""Concurrent enqueues, duplicate deliveries and mutexes, on real threads, and on the
async path (issue 16) on coroutines too: awaited together on a loop, and on loops of
several threads at once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from simple_async_tasks import (
    AsyncTaskStatus,
    ExecuteOptions,
    ExecuteOutcome,
    InMemoryTaskQueue,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.aio import with_async_queue_lifecycle
from simple_async_tasks.operations import count_tasks
from simple_async_tasks.parcel import decode_parcel
from simple_async_tasks.serialization import default_converter

from ..tasks import SendEmail, SyncAccount
from .paths import PATHS, Awaited, executor


def gathered(execute: Awaited, items: list[Any]) -> list[Any]:
    """Every delivery of ``items`` awaited at once, on one new event loop."""

    async def main() -> list[Any]:
        return list(await asyncio.gather(*(execute.acall(item) for item in items)))

    return asyncio.run(main())


def stored(dao, status=None):
    """How many records the DAO holds (in ``status``), on any backend."""
    counts = count_tasks(dao)
    return sum(counts.values()) if status is None else counts[status]


@pytest.mark.parametrize("path", PATHS)
def test_fifty_threads_enqueue_one_key_give_one_record_and_one_message(make_dao, path):
    """On the async path, fifty threads each await five enqueues at once on a loop of
    their own: coroutines and threads race together."""
    dao = make_dao(SendEmail)
    queue = InMemoryTaskQueue()
    barrier = threading.Barrier(50)

    def get_new(user_id: str) -> SendEmail:
        return SendEmail(user_id=user_id)

    if path == "sync":
        enqueue = with_queue_lifecycle(get_new=get_new, dao=dao, queue=queue)

        def request(_: int) -> list[SendEmail]:
            barrier.wait()
            return [enqueue("same")]

    else:
        aenqueue = with_async_queue_lifecycle(get_new=get_new, dao=dao, queue=queue)

        async def five() -> list[SendEmail]:
            return list(await asyncio.gather(*(aenqueue("same") for _ in range(5))))

        def request(_: int) -> list[SendEmail]:
            barrier.wait()
            return asyncio.run(five())

    with ThreadPoolExecutor(50) as pool:
        tasks = [t for batch in pool.map(request, range(50)) for t in batch]
    assert stored(dao) == 1
    assert len(queue) == 1
    assert {t.uuid for t in tasks} == {dao.get("same").uuid}


@pytest.mark.parametrize("path", PATHS)
def test_tasks_delivered_three_times_on_eight_threads_run_exactly_once(make_dao, path):
    """On the async path, each of the eight threads awaits its share of the deliveries at
    once on a loop of its own."""
    dao = make_dao(SendEmail)
    queue = InMemoryTaskQueue()
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def logic(task: SendEmail) -> None:
        with lock:
            runs[task.user_id] += 1
        time.sleep(0)  # let other threads in while the task is ATTEMPTED

    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue
    )
    execute = executor(path, logic, dao=dao, queue=queue)
    for i in range(200):
        enqueue(i)
    bodies = [m.body for m in queue.receive(1000)]
    deliveries = [decode_parcel(b, SendEmail, default_converter) for b in bodies] * 3
    with ThreadPoolExecutor(8) as pool:
        if path == "sync":
            results = list(pool.map(execute, deliveries))
        else:
            shares = [deliveries[n::8] for n in range(8)]
            results = [r for rs in pool.map(lambda s: gathered(execute, s), shares) for r in rs]
    assert len(runs) == 200
    assert set(runs.values()) == {1}
    assert stored(dao, AsyncTaskStatus.FULFILLED) == stored(dao) == 200
    outcomes = Counter(r.outcome for r in results)
    assert outcomes[ExecuteOutcome.EXECUTED] == 200
    assert (
        outcomes[ExecuteOutcome.EXECUTED]
        + outcomes[ExecuteOutcome.SKIPPED]
        + outcomes[ExecuteOutcome.RETRY_LATER]
        == 600
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", PATHS)
def test_same_mutex_key_is_never_attempted_twice_at_once_different_keys_run_in_parallel(
    make_dao, path
):
    """On the async path the eight deliveries are awaited at once on one loop."""
    dao = make_dao(SyncAccount)
    queue = InMemoryTaskQueue()
    active: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    overlap_between_keys = threading.Event()
    lock = threading.Lock()

    def enter(task: SyncAccount) -> None:
        with lock:
            active[task.account_id] += 1
            peak[task.account_id] = max(peak[task.account_id], active[task.account_id])
            if sum(1 for v in active.values() if v) > 1:
                overlap_between_keys.set()

    def leave(task: SyncAccount) -> None:
        with lock:
            active[task.account_id] -= 1

    def logic(task: SyncAccount) -> None:
        enter(task)
        time.sleep(0.02)
        leave(task)

    async def async_logic(task: SyncAccount) -> None:
        enter(task)
        await asyncio.sleep(0.02)
        leave(task)

    enqueue = with_queue_lifecycle(
        get_new=lambda acc, job: SyncAccount(account_id=acc, job=job), dao=dao, queue=queue
    )
    options = ExecuteOptions(mutex_retry_delay=timedelta(0))
    execute: Any = with_execute_lifecycle(logic, dao=dao, queue=queue, options=options)
    tasks = [enqueue(acc, job) for acc in ("a", "b") for job in range(4)]
    barrier = threading.Barrier(8)

    def deliver(task: SyncAccount) -> ExecuteOutcome:
        barrier.wait()
        return execute(task).outcome

    if path == "sync":
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(deliver, tasks))
    else:
        execute = Awaited(
            with_execute_lifecycle(async_logic, dao=dao, queue=queue, options=options)
        )
        outcomes = [r.outcome for r in gathered(execute, tasks)]
    assert peak == Counter({"a": 1, "b": 1})
    assert overlap_between_keys.is_set()  # a and b did run side by side
    assert ExecuteOutcome.RETRY_LATER in outcomes  # the blocked ones were put back
    # the put-back parcels complete once the locks are free
    while len(queue):
        for message in queue.receive(100):
            execute(decode_parcel(message.body, SyncAccount, default_converter))
    assert stored(dao, AsyncTaskStatus.FULFILLED) == stored(dao) == 8
    assert dao.mutex_holder("SyncAccount#a") is None


@pytest.mark.parametrize("path", PATHS)
def test_mutex_lock_expires_with_the_attempt(mutex_dao, queue, clock, path):
    enqueue = with_queue_lifecycle(
        get_new=lambda job: SyncAccount(account_id="a", job=job),
        dao=mutex_dao,
        queue=queue,
        clock=clock,
    )
    execute = executor(
        path, lambda t: None, dao=mutex_dao, queue=queue, clock=clock, lease=timedelta(minutes=1)
    )
    first, second = enqueue(1), enqueue(2)
    # first attempt claims the lock then "crashes" (we claim by hand through the DAO)
    from simple_async_tasks.conditions import status_in
    from simple_async_tasks.contracts import MutexLock, Transition

    now = clock.now()
    mutex_dao.transition(
        mutex_dao.unique_key(first),
        Transition(status=AsyncTaskStatus.ATTEMPTED, add_attempts=1, attempted_at=now),
        condition=status_in(AsyncTaskStatus.QUEUED),
        acquire=MutexLock(
            key="SyncAccount#a",
            owner=first.uuid,
            acquired_at=now,
            expires_at=now + timedelta(minutes=1),
        ),
    )
    assert execute(second).outcome is ExecuteOutcome.RETRY_LATER
    clock.advance(timedelta(minutes=2))
    assert execute(second).outcome is ExecuteOutcome.EXECUTED
