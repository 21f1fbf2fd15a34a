"""Durable embedded backends on SQLite (standard library): no server, nothing lost on restart.

``SqliteTaskDao`` keeps task records in one database file; every write runs
in a write transaction (``SqliteDatabase.write``: SQLite's write lock, shared
by every thread and process using the file), which reads the record, checks
the condition and writes (``UPDATE ... WHERE version = ?``) atomically. The
file is in WAL mode, so readers never wait for the writer.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import cattrs

from ..clock import Clock, system_clock
from ..contracts import MutexLock, Page
from ..errors import ConditionFailedError
from ..serialization import default_converter, dumps, structure_task, unstructure_task
from ..task import AsyncTask, AsyncTaskStatus
from ._edges import SQLITE_DAO_READS, sqlite_edge
from ._locked_dao import LockedDao
from ._records import (
    NO_UUID,
    TOMBSTONE_RETENTION,
    decode_listing,
    order_key,
    split_cursor,
    utc_text,
)
from ._sqlite_db import SqliteDatabase

T = TypeVar("T", bound=AsyncTask)


def _uuid_in(data: str) -> str:
    """The uuid of a stored record, for reports about it (never its unique key)."""
    try:
        return str(json.loads(data)["uuid"])
    except (ValueError, KeyError, TypeError):
        return NO_UUID


@sqlite_edge(SQLITE_DAO_READS)
class SqliteTaskDao(LockedDao[T, sqlite3.Connection]):
    """Stores the tasks of one class in a SQLite file shared by threads and processes."""

    def __init__(
        self,
        task_class: type[T],
        path: str | Path = "tasks.db",
        *,
        clock: Clock = system_clock,
        converter: cattrs.Converter = default_converter,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(task_class, clock, converter)
        self.db = SqliteDatabase.of(path, timeout=timeout)

    def _pk(self, unique_key: str) -> str:
        return f"{self._spec.task_type}#{unique_key}"

    def _decode(self, data: str) -> T:
        return structure_task(json.loads(data), self._spec.cls, self._converter)

    def _exclusive(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.db.write()

    def _read(self, conn: sqlite3.Connection, unique_key: str) -> T | None:
        row = conn.execute(
            "SELECT data FROM tasks WHERE pk = ?", (self._pk(unique_key),)
        ).fetchone()
        return self._decode(row[0]) if row else None

    def _write(self, conn: sqlite3.Connection, key: str, old: T | None, new: T) -> None:
        data = dumps(unstructure_task(new, self._converter))
        if old is None:
            conn.execute(
                "INSERT INTO tasks (pk, task_type, unique_key, status, version, order_key, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self._pk(key),
                    self._spec.task_type,
                    key,
                    new.status.value,
                    new.version,
                    order_key(new),
                    data,
                ),
            )
            return
        cursor = conn.execute(
            "UPDATE tasks SET status = ?, version = ?, order_key = ?, data = ? "
            "WHERE pk = ? AND version = ?",
            (new.status.value, new.version, order_key(new), data, self._pk(key), old.version),
        )
        if cursor.rowcount != 1:  # cannot happen under the write lock; refuse rather than lose
            raise ConditionFailedError(self._read(conn, key))

    def _remove(self, conn: sqlite3.Connection, key: str, old: T) -> None:
        conn.execute(
            "DELETE FROM tasks WHERE pk = ? AND version = ?", (self._pk(key), old.version)
        )

    def _bury(self, conn: sqlite3.Connection, key: str, at: datetime) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO deleted_tasks (pk, deleted_at) VALUES (?, ?)",
            (self._pk(key), utc_text(at)),
        )
        conn.execute(
            "DELETE FROM deleted_tasks WHERE deleted_at < ?",
            (utc_text(at - TOMBSTONE_RETENTION),),
        )

    def _tombstone(self, conn: sqlite3.Connection, key: str) -> datetime | None:
        row = conn.execute(
            "SELECT deleted_at FROM deleted_tasks WHERE pk = ?", (self._pk(key),)
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def _read_tombstone(self, unique_key: str) -> datetime | None:
        """A plain read (WAL): no write lock taken."""
        return self._tombstone(self.db.get(), unique_key)

    def get(self, unique_key: str) -> T | None:
        return self._read(self.db.get(), unique_key)

    def get_many(self, unique_keys: Sequence[str]) -> dict[str, T]:
        found: dict[str, T] = {}
        keys = list(dict.fromkeys(unique_keys))
        conn = self.db.get()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT unique_key, data FROM tasks WHERE pk IN ({marks})",
                [self._pk(k) for k in chunk],
            ).fetchall()
            found.update((key, self._decode(data)) for key, data in rows)
        return found

    def _lock_of(self, conn: sqlite3.Connection, key: str) -> MutexLock | None:
        row = conn.execute(
            "SELECT owner, acquired_at, expires_at FROM mutexes WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return MutexLock(
            key=key,
            owner=row[0],
            acquired_at=datetime.fromisoformat(row[1]),
            expires_at=datetime.fromisoformat(row[2]),
        )

    def _hold(self, conn: sqlite3.Connection, lock: MutexLock) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO mutexes (key, owner, acquired_at, expires_at) "
            "VALUES (?, ?, ?, ?)",
            (lock.key, lock.owner, utc_text(lock.acquired_at), utc_text(lock.expires_at)),
        )

    def _release(self, conn: sqlite3.Connection, lock: MutexLock) -> None:
        conn.execute("DELETE FROM mutexes WHERE key = ? AND owner = ?", (lock.key, lock.owner))

    def mutex_holder(self, mutex_key: str) -> MutexLock | None:
        """The lock stored for ``mutex_key`` (expired or not), or None."""
        return self._lock_of(self.db.get(), mutex_key)

    def mutex_locks(self) -> list[MutexLock]:
        """The stored locks of this task type's mutex keys (expired ones included)."""
        prefix = f"{self._spec.task_type}#"
        rows = (
            self.db.get()
            .execute(
                "SELECT key, owner, acquired_at, expires_at FROM mutexes "
                "WHERE substr(key, 1, ?) = ? ORDER BY key",
                (len(prefix), prefix),
            )
            .fetchall()
        )
        return [
            MutexLock(
                key=key,
                owner=owner,
                acquired_at=datetime.fromisoformat(acquired),
                expires_at=datetime.fromisoformat(expires),
            )
            for key, owner, acquired, expires in rows
        ]

    def break_mutex(self, mutex_key: str) -> MutexLock | None:
        """Remove the lock of ``mutex_key`` whoever holds it; return it (None if none)."""
        with self.db.write() as conn:
            found = self._lock_of(conn, mutex_key)
            conn.execute("DELETE FROM mutexes WHERE key = ?", (mutex_key,))
            return found

    def count_by_status(self, status: AsyncTaskStatus) -> int:
        row = (
            self.db.get()
            .execute(
                "SELECT COUNT(*) FROM tasks WHERE task_type = ? AND status = ?",
                (self._spec.task_type, status.value),
            )
            .fetchone()
        )
        return int(row[0])

    def find_by_status(
        self, status: AsyncTaskStatus, *, limit: int = 100, cursor: str | None = None
    ) -> Page[T]:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        after_order, after_key = split_cursor(cursor) if cursor else ("", "")
        rows = (
            self.db.get()
            .execute(
                "SELECT order_key, unique_key, data FROM tasks "
                "WHERE task_type = ? AND status = ? AND (order_key, unique_key) > (?, ?) "
                "ORDER BY order_key, unique_key LIMIT ?",
                (self._spec.task_type, status.value, after_order, after_key, limit + 1),
            )
            .fetchall()
        )
        page = rows[:limit]
        more = len(rows) > limit
        next_cursor = f"{page[-1][0]}|{page[-1][1]}" if more and page else None
        items, unreadable = decode_listing(
            ((_uuid_in(r[2]), r[2]) for r in page), self._decode, self._spec.task_type
        )
        return Page(items=items, cursor=next_cursor, unreadable=unreadable)
