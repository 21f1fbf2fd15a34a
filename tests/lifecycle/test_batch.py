"""Batches of deliveries: claims (one read and one transactional claim, or concurrent
single claims on a ``parallel_claims`` DAO), each task finished alone."""

from __future__ import annotations

import threading
from collections import Counter

import attrs
import pytest

from simple_async_tasks import (
    AsyncTaskStatus,
    ExecuteOutcome,
    InMemoryTaskDao,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.errors import ConditionFailedError, NotStartedError
from simple_async_tasks.lifecycle.batch import execute_many
from simple_async_tasks.parcel import decode_parcel
from simple_async_tasks.serialization import default_converter

from ..tasks import SendEmail

S = AsyncTaskStatus


class CountingDao(InMemoryTaskDao[SendEmail]):
    def __init__(self, clock, *, cancel_batches: bool = False, parallel: bool = False):
        super().__init__(SendEmail, clock=clock)
        self.calls: Counter[str] = Counter()
        self.cancel_batches = cancel_batches
        self.parallel_claims = parallel
        self.threads: set[int] = set()

    def get(self, key):
        self.calls["get"] += 1
        return super().get(key)

    def get_many(self, keys):
        self.calls["get_many"] += 1
        return super().get_many(keys)

    def transition(self, *args, **kwargs):
        self.calls["transition"] += 1
        self.threads.add(threading.get_ident())
        return super().transition(*args, **kwargs)

    def transition_many(self, changes, *, condition):
        self.calls["transition_many"] += 1
        if self.cancel_batches:
            raise ConditionFailedError(None, "cancelled")
        return super().transition_many(changes, condition=condition)


def setup(clock, queue, n=10, **dao_kw):
    dao = CountingDao(clock, **dao_kw)
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def logic(task):
        with lock:
            runs[task.user_id] += 1
        return task.user_id

    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue
    )
    execute = with_execute_lifecycle(logic, dao=dao, queue=queue, clock=clock)
    for i in range(n):
        enqueue(i)
    received = queue.receive(max(n, 100))
    parcels = [decode_parcel(m.body, SendEmail, default_converter) for m in received]
    dao.calls.clear()
    return dao, execute, parcels, runs


def test_a_batch_is_one_read_one_claim_and_one_finish_per_task(clock, queue):
    dao, execute, parcels, runs = setup(clock, queue)
    results = execute_many(execute, parcels, max_workers=4)
    assert [r.outcome for r in results] == [ExecuteOutcome.EXECUTED] * 10
    assert [r.result for r in results] == [p.task.user_id for p in parcels]
    assert dao.calls == Counter({"get_many": 1, "transition_many": 1, "transition": 10})
    assert set(runs.values()) == {1}
    dao.calls.clear()
    again = execute_many(execute, parcels)  # redelivery of finished tasks: no write at all
    assert [r.outcome for r in again] == [ExecuteOutcome.SKIPPED] * 10
    assert dao.calls == Counter({"get_many": 1})


def test_a_parallel_claims_dao_gets_one_claim_per_task_and_no_read(clock, queue):
    dao, execute, parcels, runs = setup(clock, queue, parallel=True)
    results = execute_many(execute, parcels)
    assert [r.outcome for r in results] == [ExecuteOutcome.EXECUTED] * 10
    assert dao.calls == Counter({"transition": 20})  # claim + finish each, nothing batched
    assert len(dao.threads) > 1  # the claims were issued concurrently
    assert set(runs.values()) == {1}
    dao.calls.clear()
    again = execute_many(execute, parcels)  # redelivery: one refused claim each, no change
    assert [r.outcome for r in again] == [ExecuteOutcome.SKIPPED] * 10
    assert dao.calls == Counter({"transition": 10})
    assert all(dao.get(f"u{i}").version == 3 for i in range(10))


@pytest.mark.parametrize("parallel", [False, True], ids=["batched", "parallel"])
def test_a_cancelled_batch_claim_falls_back_to_one_by_one(clock, queue, parallel):
    dao, execute, parcels, runs = setup(clock, queue, cancel_batches=True, parallel=parallel)
    results = execute_many(execute, parcels)
    assert all(r.outcome is ExecuteOutcome.EXECUTED for r in results)
    assert dao.calls["transition"] == 20  # claim + finish each
    assert set(runs.values()) == {1}


@pytest.mark.parametrize("parallel", [False, True], ids=["batched", "parallel"])
def test_the_same_task_twice_in_a_batch_runs_once(clock, queue, parallel):
    _, execute, parcels, runs = setup(clock, queue, n=3, parallel=parallel)
    results = execute_many(execute, parcels + parcels[:2])
    assert [r.outcome for r in results] == [ExecuteOutcome.EXECUTED] * 3 + [
        ExecuteOutcome.SKIPPED
    ] * 2
    assert set(runs.values()) == {1}


@pytest.mark.parametrize("parallel", [False, True], ids=["batched", "parallel"])
def test_a_batch_mixes_runnable_finished_and_missing(clock, queue, parallel):
    dao, execute, parcels, _ = setup(clock, queue, n=3, parallel=parallel)
    dao.seed(attrs.evolve(dao.get("u1"), status=S.FULFILLED))
    ghost = attrs.evolve(parcels[0], task=SendEmail(user_id="ghost"))
    results = execute_many(execute, [*parcels, ghost])
    assert results[0].outcome is ExecuteOutcome.EXECUTED
    assert results[1].outcome is ExecuteOutcome.SKIPPED
    assert results[2].outcome is ExecuteOutcome.EXECUTED
    assert type(results[3]).__name__ == "TaskNotFoundError"


@pytest.mark.parametrize("parallel", [False, True], ids=["batched", "parallel"])
def test_tasks_not_started_in_time_are_put_back(clock, queue, parallel):
    dao, execute, parcels, runs = setup(clock, queue, n=4, parallel=parallel)
    budget = iter([True, True, False, False])
    results = execute_many(execute, parcels, may_start=lambda: next(budget))
    assert [isinstance(r, NotStartedError) for r in results] == [False, False, True, True]
    assert [dao.get(f"u{i}").status for i in range(4)] == [
        S.FULFILLED,
        S.FULFILLED,
        S.QUEUED,
        S.QUEUED,
    ]
    rerun = execute_many(execute, [parcels[2], parcels[3]])
    assert all(r.outcome is ExecuteOutcome.EXECUTED for r in rerun)
    assert set(runs.values()) == {1}


def test_more_deliveries_than_one_transaction_takes_are_claimed_in_chunks(clock, queue):
    dao, execute, parcels, runs = setup(clock, queue, n=230)
    results = execute_many(execute, parcels)
    assert all(r.outcome is ExecuteOutcome.EXECUTED for r in results)
    assert dao.calls["transition_many"] == 3  # 100 + 100 + 30
    assert set(runs.values()) == {1}
    assert len(runs) == 230


@pytest.mark.timeout(30)  # a deadlock fails here, not at the suite's 300 s
def test_a_task_that_runs_a_batch_of_its_own_does_not_deadlock_the_pool(clock, queue):
    from simple_async_tasks import InMemoryTaskQueue
    from simple_async_tasks.lifecycle._pools import pool_map

    inner_queue = InMemoryTaskQueue(clock=clock)
    _, inner, inner_parcels, inner_runs = setup(clock, inner_queue, n=4, parallel=True)

    all_busy = threading.Barrier(10, timeout=5)

    def outer(_: int) -> int:  # every pool thread busy, each running a batch of its own
        all_busy.wait()
        return len(execute_many(inner, inner_parcels, max_workers=10))

    assert pool_map(10, outer, range(10)) == [4] * 10  # returns: nested batches run inline
    assert set(inner_runs.values()) == {1}
