"""What the memory and SQLite DAOs share: every conditional write is checked in Python
while holding an exclusive lock over the store (a threading lock; SQLite's write lock).

``LockedDao`` writes the contract's operations once (``save``, ``transition``,
``transition_many``, ``seed``, ``release_mutex``) on top of a few storage
primitives that each backend gives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Generic, TypeVar

from ..conditions import Condition, evaluate
from ..contracts import MutexLock, Transition
from ..errors import ConditionFailedError, MutexHeldError
from ..serialization import refuse_unstorable
from ..task import AsyncTask
from ._records import (
    TaskClassDao,
    apply_transition,
    as_seeded,
    check_batch_size,
    live_tombstone,
    stamp_save,
)

T = TypeVar("T", bound=AsyncTask)
H = TypeVar("H")
"""What an exclusive session hands the primitives (a connection, or nothing)."""


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
    changes: Sequence[tuple[T, Transition]], current: list[T | None], condition: Condition
) -> list[T]:
    """The stored records of a ``transition_many``: each still at the version given with it,
    and meeting ``condition``; else ConditionFailedError and nothing may be written."""
    checked = []
    for (record, _), stored in zip(changes, current, strict=True):
        if stored is None or stored.version != record.version:
            raise ConditionFailedError(stored)
        checked.append(require(condition, stored))
    return checked


class LockedDao(TaskClassDao[T], ABC, Generic[T, H]):
    """The conditional writes of a DAO that holds an exclusive lock while it checks."""

    # -- storage primitives, always called inside ``_exclusive()`` -------------------------

    @abstractmethod
    def _exclusive(self) -> AbstractContextManager[H]:
        """Hold the store's write lock for the block."""

    @abstractmethod
    def _read(self, session: H, unique_key: str, /) -> T | None: ...

    @abstractmethod
    def _write(self, session: H, unique_key: str, old: T | None, new: T, /) -> None:
        """Store ``new`` in place of ``old`` (None: a new record)."""

    @abstractmethod
    def _remove(self, session: H, unique_key: str, old: T, /) -> None:
        """Delete the record ``old`` stored under ``unique_key``."""

    @abstractmethod
    def _bury(self, session: H, unique_key: str, at: datetime, /) -> None:
        """Store the tombstone of ``unique_key`` (replacing an older one), and drop the
        tombstones older than ``TOMBSTONE_RETENTION``."""

    @abstractmethod
    def _tombstone(self, session: H, unique_key: str, /) -> datetime | None:
        """When ``unique_key``'s tombstone was laid, if it is stored."""

    @abstractmethod
    def _lock_of(self, session: H, mutex_key: str, /) -> MutexLock | None: ...

    @abstractmethod
    def _hold(self, session: H, lock: MutexLock, /) -> None:
        """Store ``lock``, replacing any lock of its key."""

    @abstractmethod
    def _release(self, session: H, lock: MutexLock, /) -> None:
        """Delete ``lock`` if its owner still holds it."""

    # -- the contract's writes ---------------------------------------------------------------

    def seed(self, task: T) -> T:
        """Store ``task`` exactly as given (attempts and timestamps included).

        For tests and data imports that need a record in a precise state; the
        lifecycles never call it. A version of 0 is stored as 1.
        """
        key = self.unique_key(task)
        task = as_seeded(task)
        with self._exclusive() as session:
            self._write(session, key, self._read(session, key), task)
        return task

    def save(self, task: T, *, condition: Condition | None) -> T:
        refuse_unstorable(task)
        key = self.unique_key(task)
        with self._exclusive() as session:
            stored = self._read(session, key)
            if condition is not None and not evaluate(condition, stored):
                raise ConditionFailedError(stored)
            new = stamp_save(task, stored, self._clock.now())
            self._write(session, key, stored, new)
            return new

    def upsert(self, task: T) -> T:
        return self.save(task, condition=None)

    def transition(
        self,
        unique_key: str,
        change: Transition,
        *,
        condition: Condition,
        acquire: MutexLock | None = None,
        release: MutexLock | None = None,
    ) -> T:
        with self._exclusive() as session:
            stored = require(condition, self._read(session, unique_key))
            if acquire is not None:
                require_lock_free(self._lock_of(session, acquire.key), acquire)
                self._hold(session, acquire)
            if release is not None:
                self._release(session, release)
            new = apply_transition(stored, change, self._clock.now())
            self._write(session, unique_key, stored, new)
            return new

    def transition_many(
        self, changes: Sequence[tuple[T, Transition]], *, condition: Condition
    ) -> list[T]:
        check_batch_size(len(changes))
        keys = [self.unique_key(record) for record, _ in changes]
        with self._exclusive() as session:
            current = [self._read(session, key) for key in keys]
            checked = require_unchanged(changes, current, condition)
            now = self._clock.now()
            out = []
            for key, stored, (_, change) in zip(keys, checked, changes, strict=True):
                new = apply_transition(stored, change, now)
                self._write(session, key, stored, new)
                out.append(new)
            return out

    def delete(self, unique_key: str, *, condition: Condition) -> T:
        """Remove the record if it meets ``condition`` and lay its tombstone, in one write
        (see ``contracts.DeletingDao``); return the removed record."""
        with self._exclusive() as session:
            stored = require(condition, self._read(session, unique_key))
            self._remove(session, unique_key, stored)
            self._bury(session, unique_key, self._clock.now())
            return stored

    def deleted_at(self, unique_key: str) -> datetime | None:
        """When the task under ``unique_key`` was deleted, while its tombstone is kept."""
        return live_tombstone(self._read_tombstone(unique_key), self._clock.now())

    def _read_tombstone(self, unique_key: str) -> datetime | None:
        """The stored tombstone's time, read under the store's lock (SQLite reads without)."""
        with self._exclusive() as session:
            return self._tombstone(session, unique_key)

    def release_mutex(self, lock: MutexLock) -> None:
        with self._exclusive() as session:
            self._release(session, lock)
