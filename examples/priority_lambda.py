"""Two queues on Lambda: one function per queue, each subscribed to its own SQS queue.

Lambda takes messages per event source mapping, so priority between queues is given by
how much each function may run at once (``MaximumConcurrency``, reserved concurrency),
not by one consumer choosing: see docs/deploy.md, "Several queues". The environment:

    TASKS_TABLE            the DynamoDB table
    TASKS_QUEUE_URL        the default queue (bulk work)
    TASKS_HIGH_QUEUE_URL   the high queue (what users wait for)
"""

from __future__ import annotations

import os
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, TaskApp
from simple_async_tasks.aws import create_sqs_handler

tasks = TaskApp(
    f"dynamodb://{os.environ.get('TASKS_TABLE', 'simple-async-tasks')}",
    queue=os.environ.get(
        "TASKS_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/tasks"
    ),
    # a queue URL, not sqs://NAME: a name would be looked up (GetQueueUrl) at cold start
    queues={
        "high": os.environ.get(
            "TASKS_HIGH_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/tasks-high"
        )
    },
)


@attrs.frozen(kw_only=True)
class ResetPassword(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("request_id",)
    request_id: str


@attrs.frozen(kw_only=True)
class RebuildSearchIndex(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("shard",)
    shard: int


@tasks.task(ResetPassword, queue="high")
def reset_password(task: ResetPassword) -> None:
    """A user waits for this mail."""


@tasks.task(RebuildSearchIndex)  # the "default" queue
def rebuild_search_index(task: RebuildSearchIndex) -> None:
    """Nobody waits for this one."""


high_handler = create_sqs_handler(tasks.executors(queue="high"))
"""The function subscribed to the high queue (handler: examples.priority_lambda.high_handler)."""
handler = create_sqs_handler(tasks.executors(queue="default"))
"""The function subscribed to the default queue."""
