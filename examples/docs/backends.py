"""The embedded backends built by hand: in memory (one process) and SQLite (a file)."""

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import attrs

from simple_async_tasks import (
    AsyncTask,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    SqliteTaskDao,
    SqliteTaskQueue,
)
from simple_async_tasks.testing import FakeClock


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


clock = FakeClock()
memory_dao = InMemoryTaskDao(SendWelcomeEmail, clock=clock)
memory_queue = InMemoryTaskQueue(order="FIFO", clock=clock)

path = Path(tempfile.mkdtemp()) / "tasks.db"  # "tasks.db" in the working directory, usually
sqlite_dao = SqliteTaskDao(SendWelcomeEmail, path)
sqlite_queue = SqliteTaskQueue(path, visibility_timeout=timedelta(minutes=5), max_receives=5)
