"""``with_queue_lifecycle``: build a task, dedup it by unique key, save it, push it."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Generic, Literal, ParamSpec, TypeVar

import attrs
import cattrs

from ..clock import Clock, system_clock
from ..conditions import absent, status_in
from ..contracts import TaskDao, TaskQueue, indexed_statuses, joint_write
from ..definition import TaskSpec, task_spec
from ..errors import (
    ConditionFailedError,
    ConfigurationError,
    PayloadMismatchError,
    TaskDefinitionError,
)
from ..parcel import ParcelMeta, TaskParcel
from ..serialization import check_round_trip, default_converter
from ..task import AsyncTask, AsyncTaskStatus, with_lifecycle
from .effects import Call, Steps, run
from .hooks import NO_HOOKS, EnqueueEvent, Hooks, TaskHooks

P = ParamSpec("P")
T = TypeVar("T", bound=AsyncTask)

logger = logging.getLogger("simple_async_tasks.queue")

OnMismatch = Literal["warn", "raise", "ignore"]
"""What an enqueue does when the unique key is stored with other field values: log a
WARNING naming the fields (the default), raise ``PayloadMismatchError``, or nothing."""

REPLACEABLE = frozenset(
    {AsyncTaskStatus.HALTED, AsyncTaskStatus.SCHEDULED, AsyncTaskStatus.FAILED}
)
"""Statuses an enqueue replaces; any other stored status makes it a duplicate."""


class Enqueuer(Generic[T]):
    """Saves and pushes candidate tasks; the engine behind ``with_queue_lifecycle``."""

    def __init__(
        self,
        spec: TaskSpec[T],
        dao: TaskDao[T],
        queue: TaskQueue[T],
        clock: Clock,
        converter: cattrs.Converter,
        *,
        on_mismatch: OnMismatch = "warn",
        hooks: Hooks = NO_HOOKS,
    ) -> None:
        self.hooks = hooks
        if on_mismatch not in ("warn", "raise", "ignore"):
            raise ValueError(
                f"on_mismatch must be 'warn', 'raise' or 'ignore', got {on_mismatch!r}"
            )
        self.on_mismatch = on_mismatch
        self.spec = spec
        self.dao = dao
        self.queue = queue
        self.clock = clock
        self.converter = converter
        self._condition = absent() | status_in(REPLACEABLE)
        self.targets = {"dao": dao, "queue": queue}
        """What the sync shell drives the steps on."""

    @classmethod
    def of(
        cls,
        dao: TaskDao[T],
        queue: TaskQueue[T],
        *,
        clock: Clock,
        converter: cattrs.Converter,
        on_mismatch: OnMismatch,
        hooks: Sequence[TaskHooks],
    ) -> Enqueuer[T]:
        """The enqueuer of the DAO's task class, as the public wrappers build it."""
        spec = task_spec(dao.task_class)
        return cls(spec, dao, queue, clock, converter, on_mismatch=on_mismatch, hooks=Hooks(hooks))

    def prepare(self, candidate: T, meta: ParcelMeta) -> tuple[T, timedelta]:
        """Check the candidate and the queue's limits; return what to save, and the delay."""
        if type(candidate) is not self.spec.cls:
            raise TaskDefinitionError(
                f"get_new returned a {type(candidate).__name__}, but the DAO stores "
                f"{self.spec.cls.__name__}; give with_queue_lifecycle a DAO for the same class"
            )
        check_round_trip(candidate, self.converter)
        now = self.clock.now()
        delay = timedelta(0)
        status = AsyncTaskStatus.QUEUED
        if candidate.execute_after is not None:
            wait = candidate.execute_after - now
            if wait > self.queue.max_delay:
                status = AsyncTaskStatus.SCHEDULED
                self._refuse_unsweepable(wait)
            elif wait > timedelta(0):
                delay = wait
        fresh = with_lifecycle(
            candidate, {"status": status, "attempted_at": None, "last_error": None}
        )
        if status is AsyncTaskStatus.QUEUED:
            self.queue.check(TaskParcel(task=fresh, meta=meta), delay=delay)
        return fresh, delay

    def _refuse_unsweepable(self, wait: timedelta) -> None:
        if AsyncTaskStatus.SCHEDULED not in indexed_statuses(self.dao):
            raise ConfigurationError(
                f"a {self.spec.task_type} due in {wait} waits longer than the queue's longest "
                f"delay ({self.queue.max_delay}), so only the scheduler's promote_due can "
                "enqueue it, and this DAO has no status index (status_index=False) to find "
                "it by: turn the index on, or enqueue it nearer its time"
            )

    def meta(self) -> ParcelMeta:
        return ParcelMeta.for_queue(self.queue, self.spec.task_type)

    def _save_steps(self, fresh: T) -> Steps[tuple[T, bool]]:
        """Save unless a duplicate; return the stored task and whether this call wrote it."""
        try:
            saved: T = yield Call("dao", "save", (fresh,), {"condition": self._condition})
        except ConditionFailedError as lost:
            current: T | None = lost.current
            if current is None:  # deleted between check and write: try once more
                again: T = yield Call("dao", "save", (fresh,), {"condition": self._condition})
                return again, True
            logger.debug(
                "duplicate enqueue of %s %s: already %s",
                self.spec.task_type,
                current.uuid,
                current.status.value,
            )
            self._compare(fresh, current)
            return current, False
        return saved, True

    def write_steps(self, fresh: T, meta: ParcelMeta, delay: timedelta) -> Steps[tuple[T, bool]]:
        """Save, then push the parcel of a task this call stored as QUEUED: every decision
        of an enqueue's I/O, for the sync and the async shells alike (``effects``)."""
        stored, written = yield from self._save_steps(fresh)
        if written and stored.status is AsyncTaskStatus.QUEUED:
            yield Call("queue", "push", (TaskParcel(task=stored, meta=meta),), {"delay": delay})
        logger.debug("enqueued %s %s as %s", self.spec.task_type, stored.uuid, stored.status.value)
        return stored, written

    def _compare(self, candidate: T, stored: T) -> None:
        """Report a duplicate whose business fields differ from the stored task's."""
        if self.on_mismatch == "ignore":
            return
        differ = [
            name
            for name in self.spec.business_fields
            if getattr(candidate, name) != getattr(stored, name)
        ]
        if not differ:
            return
        if self.on_mismatch == "raise":
            raise PayloadMismatchError(self.spec.task_type, stored.uuid, differ)
        logger.warning(
            "enqueue of %s %s: the same unique key is stored (%s) with other values of %s; "
            "the stored task was kept",
            self.spec.task_type,
            stored.uuid,
            stored.status.value,
            ", ".join(differ),
        )

    def enqueue_steps(
        self, fresh: T, meta: ParcelMeta, delay: timedelta
    ) -> Steps[tuple[T, EnqueueEvent | None]]:
        """``write_steps`` inside the hooks' enqueue span; returns the stored task and the
        event the caller reports once the write is done (None without hooks)."""
        if not self.hooks:
            stored, _ = yield from self.write_steps(fresh, meta, delay)
            return stored, None
        task_type = self.spec.task_type
        with self.hooks.enqueue_span(task_type, fresh) as carried:
            if carried:
                meta = attrs.evolve(meta, carried=carried)
            stored, written = yield from self.write_steps(fresh, meta, delay)
        event = EnqueueEvent(task_type=task_type, task=stored, duplicate=not written, delay=delay)
        return stored, event

    def enqueue(self, candidate: T) -> T:
        """Store ``candidate`` as QUEUED (or SCHEDULED) and push it, unless it is a duplicate.

        Returns the stored task: the new record, or the one already there.
        """
        meta = self.meta()
        fresh, delay = self.prepare(candidate, meta)
        with joint_write(self.dao, self.queue):  # one transaction where they share a store
            if not self.hooks:  # the hot path: one generator frame fewer
                stored, _ = run(self.write_steps(fresh, meta, delay), self.targets)
                return stored
            stored, event = run(self.enqueue_steps(fresh, meta, delay), self.targets)
        if event is not None:
            self.hooks.enqueued(event)
        return stored

    def enqueue_many(self, candidates: Sequence[T]) -> list[T]:
        """Enqueue several tasks: one conditional write each, then batched pushes.

        Every candidate is checked before anything is written. A crash after
        some saves and before the pushes leaves QUEUED records that the requeue
        sweep pushes.
        """
        metas = [self.meta() for _ in candidates]
        prepared = [self.prepare(c, m) for c, m in zip(candidates, metas, strict=True)]
        stored: list[T] = []
        to_push: dict[timedelta, list[TaskParcel[T]]] = {}
        events: list[EnqueueEvent] = []
        for (fresh, delay), meta in zip(prepared, metas, strict=True):
            with self.hooks.enqueue_span(self.spec.task_type, fresh) as carried:
                if carried:
                    meta = attrs.evolve(meta, carried=carried)  # noqa: PLW2901
                task, written = run(self._save_steps(fresh), self.targets)
            stored.append(task)
            if written and task.status is AsyncTaskStatus.QUEUED:
                to_push.setdefault(delay, []).append(TaskParcel(task=task, meta=meta))
            if self.hooks:
                events.append(
                    EnqueueEvent(
                        task_type=self.spec.task_type,
                        task=task,
                        duplicate=not written,
                        delay=delay,
                    )
                )
        for delay, parcels in to_push.items():
            self.queue.push_many(parcels, delay=delay)
        for event in events:  # once the batch is pushed
            self.hooks.enqueued(event)
        return stored


def with_queue_lifecycle(
    *,
    get_new: Callable[P, T],
    dao: TaskDao[T],
    queue: TaskQueue[T],
    clock: Clock = system_clock,
    converter: cattrs.Converter = default_converter,
    on_mismatch: OnMismatch = "warn",
    hooks: Sequence[TaskHooks] = (),
) -> Callable[P, T]:
    """Wrap ``get_new`` so that each call enqueues the task it builds, once.

    The returned function takes ``get_new``'s own parameters and returns the
    stored task. Per call: build the candidate; if a task with the same unique
    key is already QUEUED, ATTEMPTED, FULFILLED or CANCELED, return it and push
    nothing; otherwise save it as QUEUED with one conditional write (the loser
    of a race returns the winner) and push its parcel. A task whose
    ``execute_after`` lies beyond the queue's longest delay is saved SCHEDULED
    and not pushed; the scheduler enqueues it when due. A duplicate whose other
    fields differ from the stored task's is reported as ``on_mismatch`` says.
    ``hooks`` are called after each call and around its save and push (``TaskHooks``).

    Raises:
        TaskDefinitionError: at wrap time, if the DAO's task class is invalid.
        InvalidTaskError: before any write, if the task does not survive its round trip
            into its declared field types (the message names the field).
        QueueLimitError: before any write, if the parcel breaks the queue's limits.
        SerializationError: before any write, if the task cannot be written as JSON.
        PayloadMismatchError: with ``on_mismatch="raise"``, for such a duplicate.
    """
    enqueuer = Enqueuer.of(
        dao, queue, clock=clock, converter=converter, on_mismatch=on_mismatch, hooks=hooks
    )

    @functools.wraps(get_new)
    def enqueue(*args: P.args, **kwargs: P.kwargs) -> T:
        return enqueuer.enqueue(get_new(*args, **kwargs))

    return enqueue


def enqueue_many(
    tasks: Sequence[T],
    *,
    dao: TaskDao[T],
    queue: TaskQueue[T],
    clock: Clock = system_clock,
    converter: cattrs.Converter = default_converter,
    on_mismatch: OnMismatch = "warn",
    hooks: Sequence[TaskHooks] = (),
) -> list[T]:
    """Enqueue several tasks with the rules of ``with_queue_lifecycle``, batching the pushes.

    One conditional write per task and one push per 10 messages on SQS
    (``SendMessageBatch``). Returns the stored tasks, in order (duplicates are
    the records already there).

    Raises:
        QueueLimitError, SerializationError, InvalidTaskError: before any write.
    """
    enqueuer = Enqueuer.of(
        dao, queue, clock=clock, converter=converter, on_mismatch=on_mismatch, hooks=hooks
    )
    return enqueuer.enqueue_many(tasks)
