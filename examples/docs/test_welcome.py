"""Testing your tasks: a pytest test on the in-memory backend (run: pytest this file)."""

from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, AsyncTaskStatus, TaskApp
from simple_async_tasks.testing import FakeClock, drain

app = TaskApp()
sent: list[str] = []


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str
    email: str


@app.task(SendWelcomeEmail)
def send_welcome_email(task: SendWelcomeEmail) -> None:
    sent.append(task.email)


def test_welcome_email_is_sent_once() -> None:
    app.use("memory://", clock=FakeClock())  # no file, no network, no sleeping
    send_welcome_email.enqueue(user_id="u1", email="ada@example.com")
    send_welcome_email.enqueue(user_id="u1", email="ada@example.com")  # a duplicate

    report = drain(app)

    assert sent == ["ada@example.com"]
    task = app.dao(SendWelcomeEmail).get("u1")
    assert task is not None
    assert task.status is AsyncTaskStatus.FULFILLED
    assert report.failures == []
