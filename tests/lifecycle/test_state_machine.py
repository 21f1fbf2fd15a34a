"""Random interleavings of enqueue, delivery, clock moves and logic outcomes.

Whatever the order, no transition DESIGN.md forbids ever happens: finished
tasks stay finished, a task only runs after a claim, a claim is needed for
every run, attempts only grow, and failures only grow, one per failed run. It runs on memory
and on SQLite, observing every write through the one storage primitive both use.
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from simple_async_tasks import (
    AsyncTaskStatus,
    ExecuteOptions,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    RetryLaterError,
    RetryPolicy,
    SimpleAsyncTasksError,
    SqliteTaskDao,
)
from simple_async_tasks.parcel import decode_parcel
from simple_async_tasks.serialization import default_converter
from simple_async_tasks.testing import FakeClock

from ..tasks import SendEmail
from .paths import enqueuer, executor

S = AsyncTaskStatus
KEYS = ["a", "b", "c"]

# (from, to) pairs the lifecycles may write; None is "no record".
LIFECYCLE_MOVES = {
    (None, S.QUEUED),
    (None, S.SCHEDULED),
    (S.HALTED, S.QUEUED),
    (S.SCHEDULED, S.QUEUED),
    (S.FAILED, S.QUEUED),
    (S.HALTED, S.SCHEDULED),
    (S.SCHEDULED, S.SCHEDULED),  # enqueued again, still far out: the new schedule replaces it
    (S.FAILED, S.SCHEDULED),
    (S.QUEUED, S.ATTEMPTED),
    (S.SCHEDULED, S.ATTEMPTED),
    (S.FAILED, S.ATTEMPTED),
    (S.ATTEMPTED, S.ATTEMPTED),  # takeover of a stale attempt
    (S.ATTEMPTED, S.FULFILLED),
    (S.ATTEMPTED, S.FAILED),
    (S.ATTEMPTED, S.QUEUED),  # RetryLaterError
}


class Recording:
    """Records every write through the storage primitive all writes of a LockedDao use."""

    moves: list[tuple[S | None, S, bool]]
    by_logic: bool

    def _write(self, session, key, old, new):  # type: ignore[no-untyped-def]
        self.moves.append((old.status if old else None, new.status, self.by_logic))
        super()._write(session, key, old, new)  # type: ignore[misc]


class RecordingMemoryDao(Recording, InMemoryTaskDao[SendEmail]):
    pass


class RecordingSqliteDao(Recording, SqliteTaskDao[SendEmail]):
    pass


def recording_dao(backend: str, clock: FakeClock) -> Recording:
    dao: Recording
    if backend == "memory":
        dao = RecordingMemoryDao(SendEmail, clock=clock)
    else:
        path = Path(tempfile.mkdtemp(prefix="state-machine-")) / "tasks.db"
        dao = RecordingSqliteDao(SendEmail, path, clock=clock)
    dao.moves = []
    dao.by_logic = False
    return dao


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_the_recording_sees_every_write(backend, path):
    """The invariants below read ``moves``: if the hook were not called they could not fail."""
    clock = FakeClock()
    dao = recording_dao(backend, clock)
    queue = InMemoryTaskQueue(clock=clock)
    enqueuer(path, get_new=lambda: SendEmail(user_id="a"), dao=dao, queue=queue)()
    execute = executor(path, lambda task: None, dao=dao, queue=queue, clock=clock)
    for message in queue.receive(1):
        execute(decode_parcel(message.body, SendEmail, default_converter))
    assert [(old, new) for old, new, _ in dao.moves] == [
        (None, S.QUEUED),
        (S.QUEUED, S.ATTEMPTED),
        (S.ATTEMPTED, S.FULFILLED),
    ]


class Lifecycle(RuleBasedStateMachine):
    backend = "memory"
    path = "sync"
    """``sync``, or ``async``: the enqueue awaited and the logic an ``async def`` awaited by
    ``aexecute`` (``paths``), driven by the same rules and held to the same invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.dao = recording_dao(self.backend, self.clock)
        self.queue = InMemoryTaskQueue(clock=self.clock)
        self.behaviour: dict[str, str] = {}
        self.runs: list[tuple[str, int, S]] = []
        self.failures: dict[str, int] = {}
        self.enqueue = enqueuer(
            self.path, get_new=self._get_new, dao=self.dao, queue=self.queue, clock=self.clock
        )
        self.execute = executor(
            self.path,
            self._logic,
            dao=self.dao,
            queue=self.queue,
            clock=self.clock,
            retry=RetryPolicy(max_attempts=3, initial_delay=timedelta(seconds=5), jitter=0.0),
            lease=timedelta(minutes=1),
            options=ExecuteOptions(max_requeue_depth=20),
        )

    def _get_new(self, key: str, delay_s: int) -> SendEmail:
        after = self.clock.now() + timedelta(seconds=delay_s) if delay_s else None
        return SendEmail(user_id=key, execute_after=after)

    def _logic(self, task: SendEmail) -> None:
        self.runs.append((task.user_id, task.attempts, task.status))
        kind = self.behaviour.get(task.user_id, "ok")
        if kind == "fail":
            raise RuntimeError("boom")
        if kind == "later":
            raise RetryLaterError(delay=timedelta(seconds=3))
        if kind in ("halt", "cancel"):
            self.dao.by_logic = True
            try:
                self.dao.upsert(
                    attrs.evolve(task, status=S.HALTED if kind == "halt" else S.CANCELED)
                )
            finally:
                self.dao.by_logic = False

    @rule(key=st.sampled_from(KEYS), delay_s=st.sampled_from([0, 0, 10, 3600]))
    def enqueue_task(self, key: str, delay_s: int) -> None:
        self.enqueue(key, delay_s)

    @rule(
        key=st.sampled_from(KEYS),
        kind=st.sampled_from(["ok", "ok", "fail", "later", "halt", "cancel"]),
    )
    def set_behaviour(self, key: str, kind: str) -> None:
        self.behaviour[key] = kind

    @rule(n=st.integers(min_value=1, max_value=3))
    def deliver_next(self, n: int) -> None:
        for message in self.queue.receive(n):
            self._deliver(decode_parcel(message.body, SendEmail, default_converter))

    @rule(key=st.sampled_from(KEYS))
    def redeliver_stored(self, key: str) -> None:
        stored = self.dao.get(key)
        if stored is not None:
            self._deliver(stored)

    def _deliver(self, item):  # type: ignore[no-untyped-def]
        before = self.dao.get(self.dao.unique_key(item.task if hasattr(item, "meta") else item))
        runs_before = len(self.runs)
        with contextlib.suppress(RuntimeError, SimpleAsyncTasksError):
            self.execute(item)
        ran = len(self.runs) - runs_before
        assert ran <= 1
        if ran:
            assert before is not None
            assert before.status not in (S.FULFILLED, S.CANCELED, S.HALTED)

    @rule(seconds=st.sampled_from([1, 5, 30, 61, 3600]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def only_allowed_moves(self) -> None:
        for old, new, by_logic in self.dao.moves:
            if by_logic:
                assert old is S.ATTEMPTED, (old, new)
            else:
                assert (old, new) in LIFECYCLE_MOVES, (old, new)

    @invariant()
    def failures_only_grow_and_each_is_a_run(self) -> None:
        for key in KEYS:
            stored = self.dao.get(key)
            if stored is not None:
                assert self.failures.get(key, 0) <= stored.failures <= stored.attempts
                self.failures[key] = stored.failures

    @invariant()
    def every_run_follows_its_own_claim(self) -> None:
        last: dict[str, int] = {}
        for key, attempts, status in self.runs:
            assert status is S.ATTEMPTED
            assert attempts > last.get(key, 0)
            last[key] = attempts


class SqliteLifecycle(Lifecycle):
    backend = "sqlite"


class AsyncLifecycle(Lifecycle):
    path = "async"


class AsyncSqliteLifecycle(Lifecycle):
    backend = "sqlite"
    path = "async"


TestLifecycleStateMachine = Lifecycle.TestCase
TestLifecycleStateMachineOnSqlite = SqliteLifecycle.TestCase
TestLifecycleStateMachineAsync = AsyncLifecycle.TestCase
TestLifecycleStateMachineAsyncOnSqlite = AsyncSqliteLifecycle.TestCase
SqliteLifecycle.TestCase.settings = settings(max_examples=50, stateful_step_count=30)
AsyncLifecycle.TestCase.settings = settings(max_examples=50, stateful_step_count=30)
AsyncSqliteLifecycle.TestCase.settings = settings(max_examples=30, stateful_step_count=30)
