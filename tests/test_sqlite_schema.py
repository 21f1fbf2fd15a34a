"""The SQLite file's layout: versioned, migrated on open, shared by a DAO and a queue."""

from __future__ import annotations

import json
import sqlite3

import pytest

from simple_async_tasks import SqliteTaskDao, SqliteTaskQueue, with_queue_lifecycle
from simple_async_tasks.backends._sqlite_db import SCHEMA_VERSION
from simple_async_tasks.errors import BackendError, ConfigurationError
from simple_async_tasks.parcel import parse_parcel

from .tasks import SendEmail

LAYOUT_1 = """
CREATE TABLE tasks (pk TEXT PRIMARY KEY, task_type TEXT NOT NULL, unique_key TEXT NOT NULL,
    status TEXT NOT NULL, version INTEGER NOT NULL, order_key TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX tasks_by_status ON tasks (task_type, status, order_key, unique_key);
CREATE TABLE mutexes (key TEXT PRIMARY KEY, owner TEXT NOT NULL, acquired_at TEXT NOT NULL,
    expires_at TEXT NOT NULL);
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL,
    body TEXT NOT NULL, visible_at TEXT NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT);
CREATE INDEX messages_visible ON messages (queue, visible_at, id);
CREATE TABLE dead_letters (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, body TEXT NOT NULL,
    receive_count INTEGER NOT NULL, dead_at TEXT NOT NULL);
"""
"""The layout releases 0.1 to 0.4 wrote, with no user_version, copied here so that a change
of the current layout cannot change what this test opens."""

STORED = {
    "uuid": "0b0a3f4e-2d7e-4d3a-9f57-1f2c3d4e5f60",
    "status": "QUEUED",
    "created_at": "2026-01-02T03:04:05.000006+00:00",
    "updated_at": "2026-01-02T03:04:05.000006+00:00",
    "version": 1,
    "attempts": 0,
    "failures": 0,
    "user_id": "old",
    "email": "old@example.com",
}


def _layout_1_file(path):
    conn = sqlite3.connect(path)
    conn.executescript(LAYOUT_1)
    conn.execute(
        "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            "SendEmail#old",
            "SendEmail",
            "old",
            "QUEUED",
            1,
            STORED["updated_at"],
            json.dumps(STORED),
        ),
    )
    body = json.dumps({"task": STORED, "meta": {"queueType": "SQLITE", "taskType": "SendEmail"}})
    conn.execute(
        "INSERT INTO messages (queue, body, visible_at) VALUES ('default', ?, ?)",
        (body, "2026-01-02T03:04:05.000006+00:00"),
    )
    conn.commit()
    conn.close()


def _user_version(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_a_new_file_gets_the_current_layout_version(tmp_path):
    SqliteTaskDao(SendEmail, tmp_path / "t.db")
    assert _user_version(tmp_path / "t.db") == SCHEMA_VERSION


def test_a_file_of_the_first_layout_is_migrated_with_its_tasks_and_messages(tmp_path):
    path = tmp_path / "old.db"
    _layout_1_file(path)
    assert _user_version(path) == 0
    dao = SqliteTaskDao(SendEmail, path)
    queue = SqliteTaskQueue(path)
    assert _user_version(path) == SCHEMA_VERSION
    stored = dao.get("old")
    assert stored is not None
    assert (stored.uuid, stored.status.value, stored.version) == (STORED["uuid"], "QUEUED", 1)
    assert [t.user_id for t in dao.find_by_status(stored.status).items] == ["old"]
    (message,) = queue.receive(10)
    assert parse_parcel(message.body).task["user_id"] == "old"
    assert queue.delete(message)


def test_a_file_of_a_newer_layout_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "new.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ConfigurationError, match="newer than this release"):
        SqliteTaskDao(SendEmail, path)
    assert _user_version(path) == SCHEMA_VERSION + 1


def test_an_enqueue_whose_push_fails_stores_no_record(tmp_path):
    """The record and its message are written in one transaction: a failed push leaves
    neither (a record alone would wait for the requeue sweep)."""
    dao = SqliteTaskDao(SendEmail, tmp_path / "t.db")

    class BrokenQueue(SqliteTaskQueue):
        def push_bodies(self, bodies, *, delay=None):
            super().push_bodies(bodies)
            raise sqlite3.OperationalError("disk I/O error")

    queue = BrokenQueue(tmp_path / "t.db")
    enqueue = with_queue_lifecycle(get_new=lambda u: SendEmail(user_id=u), dao=dao, queue=queue)
    with pytest.raises(BackendError, match="disk I/O error") as failed:
        enqueue("u1")
    assert isinstance(failed.value.__cause__, sqlite3.OperationalError)
    assert dao.get("u1") is None
    assert len(queue) == 0
