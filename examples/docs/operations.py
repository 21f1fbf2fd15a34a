"""Operations from Python: look at tasks and act on them (any backend; memory here)."""

from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, AsyncTaskStatus, InMemoryTaskDao, InMemoryTaskQueue
from simple_async_tasks.operations import (
    cancel_task,
    count_tasks,
    halt_task,
    list_tasks,
    resume_task,
    retry_task,
    show_task,
)


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


dao = InMemoryTaskDao(SendWelcomeEmail)
queue = InMemoryTaskQueue()
for user in ("u1", "u2", "u3"):
    dao.save(SendWelcomeEmail(user_id=user), condition=None)
dao.save(SendWelcomeEmail(user_id="u4", status=AsyncTaskStatus.FAILED), condition=None)

print(count_tasks(dao))  # {QUEUED: 3, FAILED: 1, ...}
page = list_tasks(dao, AsyncTaskStatus.QUEUED, limit=2)
for task in page.items:  # oldest change first
    print(task.uuid, task.attempts, task.last_error)
more = list_tasks(dao, AsyncTaskStatus.QUEUED, limit=2, cursor=page.cursor)
print(show_task(dao, "u1"))  # by unique key, a consistent read

retry_task(dao, queue, "u4")  # FAILED -> QUEUED, runs and failures kept, pushed
cancel_task(dao, "u2")  # never runs, even if its message is delivered
halt_task(dao, "u3")  # parked; deliveries skip it
resume_task(dao, queue, "u3")  # back to QUEUED and pushed
