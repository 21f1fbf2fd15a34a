"""Record stamping shared by the backends that hold task objects themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import attrs

from ..conditions import Condition, evaluate
from ..contracts import KEEP, MutexLock, Transition
from ..errors import ConditionFailedError, MutexHeldError
from ..task import AsyncTask

T = TypeVar("T", bound=AsyncTask)


def stamp_save(task: T, stored: T | None, now: datetime) -> T:
    """The record a whole-task write stores.

    ``uuid``, ``created_at`` and ``attempts`` are kept from ``stored``: the
    attempt count only grows, through transitions, so it can fence a finished
    attempt from a later one.
    """
    if stored is None:
        return attrs.evolve(task, created_at=now, updated_at=now, version=1, attempts=0)
    return attrs.evolve(
        task,
        uuid=stored.uuid,
        created_at=stored.created_at,
        attempts=stored.attempts,
        updated_at=now,
        version=stored.version + 1,
    )


MAX_TRANSITIONS_PER_BATCH = 100
"""DynamoDB's limit of items per transaction; every backend keeps it."""


def as_seeded(task: T) -> T:
    """A task stored exactly as given by ``seed``, except that version 0 (never stored)
    becomes 1."""
    return attrs.evolve(task, version=1) if task.version == 0 else task


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
    if change.add_attempt:
        changes["attempts"] = stored.attempts + 1
    if change.attempted_at is not KEEP:
        changes["attempted_at"] = change.attempted_at
    if change.last_error is not KEEP:
        changes["last_error"] = change.last_error
    if change.execute_after is not KEEP:
        changes["execute_after"] = change.execute_after
    return attrs.evolve(stored, **changes)


# The checks of a conditional write, for the backends that check in Python
# under a lock they hold (memory: a threading lock; SQLite: the file's write lock).


def require(condition: Condition, stored: T | None) -> T:
    """``stored`` if it exists and meets ``condition``; else ConditionFailedError with it."""
    if stored is None or not evaluate(condition, stored):
        raise ConditionFailedError(stored)
    return stored


def require_lock_free(held: MutexLock | None, acquire: MutexLock) -> None:
    """Raise MutexHeldError if ``held`` (the stored lock) keeps ``acquire`` out."""
    if held is not None and not held.is_free_for(acquire):
        raise MutexHeldError(acquire.key, held.owner, held.expires_at - acquire.acquired_at)


def require_unchanged(
    changes: list[tuple[T, Transition]], current: list[T | None], condition: Condition
) -> list[T]:
    """The stored records of a ``transition_many``: each still at the version given with it,
    and meeting ``condition``; else ConditionFailedError and nothing may be written."""
    checked = []
    for (record, _), stored in zip(changes, current, strict=True):
        if stored is None or stored.version != record.version:
            raise ConditionFailedError(stored)
        checked.append(require(condition, stored))
    return checked
