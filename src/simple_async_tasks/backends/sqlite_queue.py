"""``SqliteTaskQueue``: durable messages in a SQLite file, with delays, a visibility timeout,
receive counts and a dead-letter table, like SQS on one machine."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import cattrs

from .._limits import MAX_BODY_BYTES
from ..clock import Clock, system_clock
from ..contracts import DeadLetter, Delivery, QueueDepth, ReceivedMessage
from ..serialization import default_converter
from ._edges import SQLITE_QUEUE_READS, sqlite_edge
from ._local_queue import LocalQueue
from ._pending import PendingDeletes
from ._records import utc_text as _utc
from ._sqlite_db import SqliteDatabase


@sqlite_edge(SQLITE_QUEUE_READS)
class SqliteTaskQueue(LocalQueue):
    """A durable queue in a SQLite file, safe across threads and processes.

    A received message is hidden for ``visibility_timeout``; if it is not
    deleted by then (the worker crashed), it is delivered again. A message
    received ``max_receives`` times without being deleted moves to the
    dead-letter table (``dead_letters()``, ``redrive()``).
    """

    queue_type = "SQLITE"

    def __init__(
        self,
        path: str | Path = "tasks.db",
        *,
        name: str = "default",
        clock: Clock = system_clock,
        converter: cattrs.Converter = default_converter,
        visibility_timeout: timedelta = timedelta(minutes=5),
        max_receives: int = 5,
        max_delay: timedelta = timedelta(minutes=15),
        max_body_bytes: int = MAX_BODY_BYTES,
        timeout: float = 30.0,
    ) -> None:
        if max_receives < 1:
            raise ValueError(f"max_receives must be at least 1, got {max_receives}")
        self.name = name
        self._clock = clock
        self._converter = converter
        self.visibility_timeout = visibility_timeout
        self.max_receives = max_receives
        self._max_delay = max_delay
        self._max_body_bytes = max_body_bytes
        self.db = SqliteDatabase.of(path, timeout=timeout)
        self._url = f"sqlite://{Path(path)}#{name}"

    def push_bodies(self, bodies: Sequence[str], *, delay: timedelta = timedelta(0)) -> None:
        """Queue raw message bodies (one transaction)."""
        visible = _utc(self._clock.now() + delay)
        with self.db.write() as conn:
            conn.executemany(
                "INSERT INTO messages (queue, body, visible_at) VALUES (?, ?, ?)",
                [(self.name, body, visible) for body in bodies],
            )

    def receive(
        self, max_messages: int = 10, *, delete: Sequence[ReceivedMessage] = ()
    ) -> list[ReceivedMessage]:
        """Take up to ``max_messages`` visible messages, hiding them for the visibility timeout.

        ``delete``: finished messages to delete in the same transaction (the worker's
        batched deletes), as ``delete_many`` does.
        """
        now = self._clock.now()
        out: list[ReceivedMessage] = []
        with self.db.write() as conn:
            if delete:
                self._delete(conn, delete)
            rows = conn.execute(
                "SELECT id, body, receive_count FROM messages "
                "WHERE queue = ? AND visible_at <= ? ORDER BY visible_at, id LIMIT ?",
                (self.name, _utc(now), max_messages),
            ).fetchall()
            for message_id, body, count in rows:
                if count >= self.max_receives:
                    conn.execute(
                        "INSERT INTO dead_letters (id, queue, body, receive_count, dead_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (message_id, self.name, body, count, _utc(now)),
                    )
                    conn.execute("DELETE FROM messages WHERE id = ?", (message_id,))
                    continue
                receipt = uuid.uuid4().hex
                conn.execute(
                    "UPDATE messages SET visible_at = ?, receive_count = ?, receipt = ? "
                    "WHERE id = ?",
                    (_utc(now + self.visibility_timeout), count + 1, receipt, message_id),
                )
                out.append(ReceivedMessage(str(message_id), receipt, body, count + 1))
        return out

    def delete(self, message: ReceivedMessage) -> bool:
        """Delete a processed message; False if its receipt expired (it was received again)."""
        return self.delete_many([message]) == 1

    def delete_many(self, messages: Sequence[ReceivedMessage]) -> int:
        """Delete processed messages in one transaction; return how many were still held
        (a message whose receipt expired was received again and is left alone)."""
        with self.db.write() as conn:
            return self._delete(conn, messages)

    @staticmethod
    def _delete(conn: sqlite3.Connection, messages: Sequence[ReceivedMessage]) -> int:
        before = conn.total_changes
        conn.executemany(
            "DELETE FROM messages WHERE id = ? AND receipt = ?",
            [(int(m.message_id), m.receipt) for m in messages],
        )
        return conn.total_changes - before

    def release(self, message: ReceivedMessage, *, delay: timedelta = timedelta(0)) -> None:
        """Make a received message visible again after ``delay`` (a failed delivery)."""
        with self.db.write() as conn:
            conn.execute(
                "UPDATE messages SET visible_at = ? WHERE id = ? AND receipt = ?",
                (_utc(self._clock.now() + delay), int(message.message_id), message.receipt),
            )

    def purge(self) -> int:
        """Drop every message of this queue (visible, in flight and delayed; the dead
        letters stay); return how many."""
        with self.db.write() as conn:
            return conn.execute("DELETE FROM messages WHERE queue = ?", (self.name,)).rowcount

    def __len__(self) -> int:
        row = (
            self.db.get()
            .execute("SELECT COUNT(*) FROM messages WHERE queue = ?", (self.name,))
            .fetchone()
        )
        return int(row[0])

    def depth(self) -> QueueDepth:
        """Exact, in one read: visible now, received and hidden (in flight, or waiting for
        a retry's backoff), sent with a delay not yet passed, and dead letters."""
        now = _utc(self._clock.now())
        visible, in_flight, delayed = (
            self.db.get()
            .execute(
                "SELECT COALESCE(SUM(visible_at <= ?), 0), "
                "COALESCE(SUM(visible_at > ? AND receipt IS NOT NULL), 0), "
                "COALESCE(SUM(visible_at > ? AND receipt IS NULL), 0) "
                "FROM messages WHERE queue = ?",
                (now, now, now, self.name),
            )
            .fetchone()
        )
        (dead,) = (
            self.db.get()
            .execute("SELECT COUNT(*) FROM dead_letters WHERE queue = ?", (self.name,))
            .fetchone()
        )
        return QueueDepth(
            visible=int(visible), in_flight=int(in_flight), delayed=int(delayed), dead=int(dead)
        )

    def dead_letters(self, limit: int | None = None) -> list[tuple[str, str, int, datetime]]:
        """Messages moved to the dead-letter table, oldest first (up to ``limit``):
        (id, body, receive count, when)."""
        rows = self.db.get().execute(
            "SELECT id, body, receive_count, dead_at FROM dead_letters "
            "WHERE queue = ? ORDER BY id LIMIT ?",
            (self.name, -1 if limit is None else limit),
        )
        return [(str(i), b, c, datetime.fromisoformat(d)) for i, b, c, d in rows]

    def redrive(self, limit: int | None = None) -> int:
        """Move dead letters back to the queue (oldest first, up to ``limit``, default all),
        receive counts reset; return how many."""
        now = _utc(self._clock.now())
        with self.db.write() as conn:
            rows = conn.execute(
                "SELECT id, body FROM dead_letters WHERE queue = ? ORDER BY id LIMIT ?",
                (self.name, -1 if limit is None else limit),
            ).fetchall()
            conn.executemany(
                "INSERT INTO messages (queue, body, visible_at) VALUES (?, ?, ?)",
                [(self.name, body, now) for _, body in rows],
            )
            conn.executemany("DELETE FROM dead_letters WHERE id = ?", [(i,) for i, _ in rows])
        return len(rows)


class SqliteSource:
    """Messages of a ``SqliteTaskQueue``; a failed delivery is hidden until its visibility
    timeout ends, like SQS."""

    def __init__(self, queue: SqliteTaskQueue) -> None:
        self.queue = queue
        self._finished = PendingDeletes[ReceivedMessage]()

    def take(self, max_messages: int, wait: timedelta) -> list[Delivery]:
        with self._finished.taken() as finished:
            found = self.queue.receive(max_messages, delete=finished)
        return [Delivery(m.message_id, m.body, m) for m in found]

    def done(self, delivery: Delivery) -> None:
        self._finished.add(delivery.handle)

    def flush(self) -> None:
        with self._finished.taken() as finished:
            if finished:
                self.queue.delete_many(finished)

    def later(self, delivery: Delivery, delay: timedelta) -> None:
        handle: ReceivedMessage = delivery.handle
        self.queue.release(handle, delay=delay)


class SqliteDeadLetters:
    """The dead-letter table of a ``SqliteTaskQueue``."""

    def __init__(self, queue: SqliteTaskQueue) -> None:
        self.queue = queue

    @property
    def location(self) -> str:
        return f"the dead-letter table of {self.queue.queue_url}"

    def list(self, limit: int = 100) -> list[DeadLetter]:
        return [
            DeadLetter(message_id, body, count, dead_at)
            for message_id, body, count, dead_at in self.queue.dead_letters(limit)
        ]

    def redrive(self, limit: int | None = None) -> int:
        return self.queue.redrive(limit)
