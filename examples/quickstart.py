"""Quickstart: one class and one function per task; enqueue, run, read the result back.

Runs on the in-memory backends, no AWS needed:

    python examples/quickstart.py

The same module runs on the durable embedded backend (a SQLite file) with
the worker of the command line:

    python examples/quickstart.py --enqueue        # two tasks into tasks.db
    simple-async-tasks worker --app examples.quickstart:app --until-idle 3
    simple-async-tasks tasks list --app examples.quickstart:app
"""

from __future__ import annotations

import logging
import sys
from datetime import timedelta
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, AsyncTaskStatus, RetryPolicy, TaskApp
from simple_async_tasks.operations import count_tasks
from simple_async_tasks.testing import FakeClock, drain

app = TaskApp()
"""Backend from SIMPLE_ASYNC_TASKS_BACKEND, else the SQLite file tasks.db."""


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    """Send one welcome email per user."""

    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str
    email: str


flaky_mail_server_failures = {"u2": 1}  # u2's first send fails, to show the retry
sent: list[str] = []


retry = RetryPolicy(max_attempts=3, initial_delay=timedelta(seconds=1), jitter=0.0)


@app.task(SendWelcomeEmail, retry=retry)
def send_welcome_email(task: SendWelcomeEmail) -> str:
    if flaky_mail_server_failures.get(task.user_id, 0) > 0:
        flaky_mail_server_failures[task.user_id] -= 1
        raise ConnectionError("mail server unavailable")
    sent.append(task.email)
    return f"sent to {task.email}"


def enqueue_demo_tasks() -> None:
    # enqueue takes the class's own fields, typed: mypy and pyright check the call
    send_welcome_email.enqueue(user_id="u1", email="ada@example.com")
    send_welcome_email.enqueue(user_id="u2", email="grace@example.com")
    send_welcome_email.enqueue(user_id="u1", email="ada@example.com")  # a duplicate: not queued
    # a delay is an argument of the call: this one runs in ten minutes
    send_welcome_email.enqueue_in(timedelta(minutes=10), user_id="u3", email="alan@example.com")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  log: %(message)s")
    if "--enqueue" in sys.argv[1:]:
        enqueue_demo_tasks()
        print(f"enqueued on {app.backend.store_url}: now run")
        print("  simple-async-tasks worker --app examples.quickstart:app --until-idle 3")
        print("  (u3 is due in ten minutes: the worker runs it then)")
        return
    app.use("memory://", clock=FakeClock())  # delays and backoff pass instantly in this demo
    enqueue_demo_tasks()
    queued = count_tasks(app.dao(SendWelcomeEmail))[AsyncTaskStatus.QUEUED]
    print(f"queued tasks: {queued} (4 calls, 1 duplicate)")

    report = drain(app)
    print(f"deliveries: {report.delivered}, emails sent: {len(sent)}")
    dao = app.dao(SendWelcomeEmail)
    for user_id in ("u1", "u2", "u3"):
        task = dao.get(user_id)
        assert task is not None
        print(
            f"{task.user_id}: {task.status.value:<9} runs={task.attempts} "
            f"failures={task.failures} "
            f"last_error={task.last_error!r}"
        )
    print(f"u1's result, read back from its record: {send_welcome_email.result('u1')!r}")


if __name__ == "__main__":
    main()
