"""The lower level, for composing backends by hand: the two lifecycle wrappers."""

from typing import ClassVar

import attrs

from simple_async_tasks import (
    AsyncTask,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    RetryPolicy,
    with_execute_lifecycle,
    with_queue_lifecycle,
)


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str
    email: str


dao = InMemoryTaskDao(SendWelcomeEmail)  # or SqliteTaskDao, DynamoTaskDao
queue = InMemoryTaskQueue()  # or SqliteTaskQueue, SqsTaskQueue


def get_new(user_id: str, email: str) -> SendWelcomeEmail:
    return SendWelcomeEmail(user_id=user_id, email=email)


def send(task: SendWelcomeEmail) -> str:
    return "ok"  # the business logic; raise to fail (retried with backoff)


enqueue = with_queue_lifecycle(get_new=get_new, dao=dao, queue=queue)  # get_new's signature
execute = with_execute_lifecycle(send, dao=dao, queue=queue, retry=RetryPolicy(max_attempts=5))

task = enqueue("u1", "ada@example.com")  # saved QUEUED, one message pushed
enqueue("u1", "ada@example.com")  # a duplicate: returns the stored task, pushes nothing
result = execute(task)  # a TaskParcel from the queue, or a bare task
print(result.outcome.value, result.task.status.value, result.result)  # EXECUTED FULFILLED ok
