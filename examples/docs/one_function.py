"""Getting started: one class and one function per task, on the in-memory backend."""

from datetime import timedelta
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, RetryPolicy, TaskApp
from simple_async_tasks.testing import FakeClock, drain

app = TaskApp("memory://", clock=FakeClock())  # TaskApp() reads SIMPLE_ASYNC_TASKS_BACKEND


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)  # required: identifies one task
    user_id: str
    email: str


@app.task(SendWelcomeEmail, retry=RetryPolicy(max_attempts=5))
def send_welcome_email(task: SendWelcomeEmail) -> str:
    return f"sent to {task.email}"  # raise to fail: retried with backoff


send_welcome_email.enqueue(user_id="u1", email="ada@example.com")  # typed by the fields
send_welcome_email.enqueue(user_id="u1", email="ada@example.com")  # a duplicate: no-op
send_welcome_email.enqueue_in(timedelta(minutes=5), user_id="u2", email="grace@example.com")

drain(app)  # tests and demos: run everything queued (the clock jumps to the delayed one)
print(send_welcome_email.result("u1"))  # 'sent to ada@example.com', read from the record
assert send_welcome_email.result("u2") == "sent to grace@example.com"
