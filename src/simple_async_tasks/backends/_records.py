"""Record stamping and ordering shared by the backends that hold task objects themselves."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, Generic, TypeVar

import cattrs

from ..clock import Clock
from ..contracts import KEEP, Transition
from ..definition import task_spec
from ..errors import ConfigurationError, SerializationError
from ..task import AsyncTask, AsyncTaskStatus, with_lifecycle

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")

logger = logging.getLogger("simple_async_tasks.backends")

TOMBSTONE_RETENTION = timedelta(days=14)
"""How long a deleted task's tombstone is kept: SQS's longest message retention, so that
every message the task may still have on a queue is delivered while it stands."""


def live_tombstone(at: datetime | None, now: datetime) -> datetime | None:
    """``at`` (when a task was deleted) while its tombstone is kept; None past
    ``TOMBSTONE_RETENTION`` (a store may remove it later than that: DynamoDB's TTL)."""
    return None if at is None or at < now - TOMBSTONE_RETENTION else at


OPTIONAL_LIFECYCLE_FIELDS = (
    "attempted_at",
    "last_error",
    "execute_after",
    "lease_id",
    "lease_until",
    "result",
)
"""The lifecycle fields a ``Transition`` may set, clear or keep."""


class TaskClassDao(Generic[T]):
    """The part of every DAO that knows its task class: its spec, clock and converter."""

    def __init__(self, task_class: type[T], clock: Clock, converter: cattrs.Converter) -> None:
        self._spec = task_spec(task_class)
        self._clock = clock
        self._converter = converter

    @property
    def task_class(self) -> type[T]:
        return self._spec.cls

    def unique_key(self, task: T) -> str:
        return self._spec.unique_key(task, self._converter)


def split_cursor(cursor: str) -> tuple[str, str]:
    """The (order key, unique key) a local listing's cursor holds.

    Raises:
        ConfigurationError: not a cursor a listing of this backend returned.
    """
    order, sep, key = cursor.partition("|")
    if not sep or not order:
        raise ConfigurationError(
            f"{cursor!r} is not a cursor of this listing: pass the cursor the previous page "
            "returned, as is (quoted in a shell)"
        )
    return order, key


NO_UUID = "(no readable uuid)"
"""How a report names a stored record whose uuid cannot be read (never by its key)."""


def decode_listing(
    rows: Iterable[tuple[str, R]], decode: Callable[[R], T], task_type: str
) -> tuple[list[T], list[str]]:
    """Decode the stored rows of a listing, each named by a fallback id (its uuid when
    readable); the undecodable ones are logged and returned apart, never raised."""
    items: list[T] = []
    unreadable: list[str] = []
    for name, row in rows:
        try:
            items.append(decode(row))
        except SerializationError as error:
            unreadable.append(name)
            logger.warning("unreadable %s record %s left out: %s", task_type, name, error)
    return items, unreadable


def stamp_save(task: T, stored: T | None, now: datetime) -> T:
    """The record a whole-task write stores.

    ``uuid``, ``created_at``, ``attempts`` and ``failures`` are kept from
    ``stored``: the counts change only through transitions.
    """
    if stored is None:
        return with_lifecycle(
            task,
            {"created_at": now, "updated_at": now, "version": 1, "attempts": 0, "failures": 0},
        )
    return with_lifecycle(
        task,
        {
            "uuid": stored.uuid,
            "created_at": stored.created_at,
            "attempts": stored.attempts,
            "failures": stored.failures,
            "updated_at": now,
            "version": stored.version + 1,
        },
    )


def utc_text(moment: datetime) -> str:
    """A UTC time as fixed-width text, so that text order is time order."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def order_key(task: AsyncTask) -> str:
    """The listing order: when a SCHEDULED task is due, when any other last changed."""
    moment = task.updated_at
    if task.status is AsyncTaskStatus.SCHEDULED and task.execute_after is not None:
        moment = task.execute_after
    return utc_text(moment) if moment is not None else ""


MAX_TRANSITIONS_PER_BATCH = 100
"""DynamoDB's limit of items per transaction; every backend keeps it."""


def as_seeded(task: T) -> T:
    """A task stored exactly as given by ``seed``, except that version 0 (never stored)
    becomes 1."""
    return with_lifecycle(task, {"version": 1}) if task.version == 0 else task


def check_batch_size(count: int) -> None:
    if count > MAX_TRANSITIONS_PER_BATCH:
        raise ValueError(
            f"transition_many takes at most {MAX_TRANSITIONS_PER_BATCH} changes, got {count}; "
            "split the batch"
        )


def apply_transition(stored: T, change: Transition, now: datetime) -> T:
    """The record a lifecycle transition stores."""
    changes: dict[str, Any] = {
        "status": change.status,
        "updated_at": now,
        "version": stored.version + 1,
    }
    if change.add_attempts:
        changes["attempts"] = stored.attempts + change.add_attempts
    if change.add_failures:
        changes["failures"] = stored.failures + change.add_failures
    for name in OPTIONAL_LIFECYCLE_FIELDS:
        value = getattr(change, name)
        if value is not KEEP:
            changes[name] = value
    return with_lifecycle(stored, changes)
