"""The SQLite file the embedded backends share: connections, the write lock, the schema.

One ``SqliteDatabase`` per file and process (``SqliteDatabase.of(path)``), shared by
every DAO and queue on that file, so that:

- each thread has one connection to the file, in WAL mode (readers never wait for the
  writer) with ``synchronous=NORMAL`` (a commit survives a process crash; a power cut
  may lose the last ones);
- the threads of a process take turns at writing on a lock of their own before SQLite's
  (``BEGIN IMMEDIATE``): SQLite makes a thread that finds the file locked sleep 1 ms or
  more before it looks again, which cost the worker most of its time. Other processes
  still wait on SQLite's lock, up to ``timeout``;
- a DAO and a queue on one file can write in one transaction (``write()`` nests: an
  inner block joins the outer one), so an enqueue saves its record and queues its
  message together or not at all.

The schema is versioned with ``PRAGMA user_version``; opening a file of an older layout
migrates it in one transaction, and a file of a newer layout is refused.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from ..errors import ConfigurationError
from ._edges import sqlite_error

_V1 = """
CREATE TABLE IF NOT EXISTS tasks (
    pk TEXT PRIMARY KEY,
    task_type TEXT NOT NULL,
    unique_key TEXT NOT NULL,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    order_key TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (task_type, status, order_key, unique_key);
CREATE TABLE IF NOT EXISTS mutexes (
    key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    visible_at TEXT NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (queue, visible_at, id);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    receive_count INTEGER NOT NULL,
    dead_at TEXT NOT NULL
);
"""
"""Layout 1 (0.1 to 0.4): what files without a ``user_version`` hold."""

_V2 = """
CREATE TABLE IF NOT EXISTS deleted_tasks (
    pk TEXT PRIMARY KEY,
    deleted_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deleted_tasks_by_time ON deleted_tasks (deleted_at);
"""
"""Layout 2 (0.5): the tombstones of deleted tasks."""

_V3 = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL,
    expires_at TEXT,
    PRIMARY KEY (kind, name)
);
"""
"""Layout 3 (0.5): named documents (worker heartbeats, stored schedules)."""

MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: lambda conn: _script(conn, _V1),
    2: lambda conn: _script(conn, _V2),
    3: lambda conn: _script(conn, _V3),
}
"""``MIGRATIONS[n]`` brings a file from layout ``n - 1`` to layout ``n`` (0: empty)."""

SCHEMA_VERSION = max(MIGRATIONS)
"""The layout this release writes."""


def _script(conn: sqlite3.Connection, script: str) -> None:
    """Run the statements of ``script`` in the open transaction (``executescript`` would
    commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


class _Closer:
    """Closes a thread's connection when the thread ends (its ``threading.local`` values
    go with it) or the database object goes, instead of leaving it to the garbage
    collector, which Python 3.13 reports as an unclosed database."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


class SqliteDatabase:
    """One SQLite file as this process uses it; get it with ``SqliteDatabase.of(path)``."""

    _open: ClassVar[weakref.WeakValueDictionary[str, SqliteDatabase]] = (
        weakref.WeakValueDictionary()
    )
    """The files open in this process; one is closed when its last DAO and queue go."""
    _open_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = str(path)
        self.timeout = timeout
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self.write() as conn:
            migrate(conn, self.path)

    @classmethod
    def of(cls, path: str | Path, *, timeout: float = 30.0) -> SqliteDatabase:
        """The database of ``path`` in this process (opened, and migrated, on first use).

        ``timeout`` is how long a write waits for another process's; a later, longer
        one raises the file's.
        """
        key = os.path.realpath(path)
        with cls._open_lock:
            found = cls._open.get(key)
            if found is None:
                found = cls._open[key] = cls(path, timeout=timeout)
            elif timeout > found.timeout:
                found.timeout = timeout
            return found

    def get(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                # used by this thread only; closed from whichever thread drops it last
                conn = sqlite3.connect(
                    self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as error:
                raise sqlite_error(error, path=self.path) from error
            self._local.conn = conn
            self._local.depth = 0
            self._local.closer = _Closer(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: this process's write lock, then ``BEGIN IMMEDIATE`` (the
        file's). Inside another ``write()`` of this thread, the block joins that one."""
        conn = self.get()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield conn
            finally:
                self._local.depth -= 1
            return
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._local.depth = 1
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                else:
                    conn.execute("COMMIT")
                finally:
                    self._local.depth = 0
            except sqlite3.Error as error:  # the backend's edge: every write passes here
                raise sqlite_error(error, path=self.path) from error


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the file to ``SCHEMA_VERSION`` (inside the caller's write transaction).

    Raises:
        ConfigurationError: the file has a newer layout than this release knows.
    """
    found = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise ConfigurationError(
            f"{path} has the SQLite layout {found}, newer than this release of "
            f"simple-async-tasks knows ({SCHEMA_VERSION}): upgrade the package, or use "
            "another file"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[version](conn)
    if found != SCHEMA_VERSION:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
