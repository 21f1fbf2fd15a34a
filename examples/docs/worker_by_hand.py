"""A local worker built by hand: executors, a message source, a concurrency."""

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import attrs

from simple_async_tasks import (
    AsyncTask,
    SqliteTaskDao,
    SqliteTaskQueue,
    Worker,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.worker import SqliteSource


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


path = Path(tempfile.mkdtemp()) / "tasks.db"
dao = SqliteTaskDao(SendWelcomeEmail, path)
queue = SqliteTaskQueue(path)
enqueue = with_queue_lifecycle(get_new=lambda u: SendWelcomeEmail(user_id=u), dao=dao, queue=queue)
execute = with_execute_lifecycle(lambda task: None, dao=dao, queue=queue)
enqueue("u1")

worker = Worker(
    [execute],  # one executor, several, or a mapping
    SqliteSource(queue),  # or SqsSource(queue_url, boto3_sqs_client)
    concurrency=4,
)
summary = worker.run(max_idle=timedelta(seconds=0.5))  # until idle here; else SIGTERM/SIGINT
print(summary)
assert summary.succeeded == 1
