"""Quickstart: define a task, enqueue it (with a duplicate), run everything, print the result.

Runs on the in-memory backends, no AWS needed:

    python examples/quickstart.py
"""

from __future__ import annotations

import logging
from datetime import timedelta
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
from simple_async_tasks.testing import FakeClock, drain


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    """Send one welcome email per user."""

    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str
    email: str


clock = FakeClock()  # delays and backoff pass instantly in this demo
dao = InMemoryTaskDao(SendWelcomeEmail, clock=clock)
queue = InMemoryTaskQueue(clock=clock)

flaky_mail_server_failures = {"u2": 1}  # u2's first send fails, to show the retry
sent: list[str] = []


def get_new(user_id: str, email: str) -> SendWelcomeEmail:
    return SendWelcomeEmail(user_id=user_id, email=email)


def send_welcome_email(task: SendWelcomeEmail) -> str:
    if flaky_mail_server_failures.get(task.user_id, 0) > 0:
        flaky_mail_server_failures[task.user_id] -= 1
        raise ConnectionError("mail server unavailable")
    sent.append(task.email)
    return f"sent to {task.email}"


enqueue_welcome_email = with_queue_lifecycle(get_new=get_new, dao=dao, queue=queue, clock=clock)
execute_welcome_email = with_execute_lifecycle(
    send_welcome_email,
    dao=dao,
    queue=queue,
    clock=clock,
    retry=RetryPolicy(max_attempts=3, initial_delay=timedelta(seconds=5), jitter=0.0),
)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  log: %(message)s")
    enqueue_welcome_email("u1", "ada@example.com")
    enqueue_welcome_email("u2", "grace@example.com")
    enqueue_welcome_email("u1", "ada@example.com")  # a duplicate: deduplicated, not queued
    print(f"queued messages: {len(queue)} (3 calls, 1 duplicate)")

    report = drain(queue, execute_welcome_email)
    print(f"deliveries: {report.delivered}, emails sent: {len(sent)}")
    for task in sorted(dao.all(), key=lambda t: t.user_id):
        print(
            f"{task.user_id}: {task.status.value:<9} attempts={task.attempts} "
            f"last_error={task.last_error!r}"
        )


if __name__ == "__main__":
    main()
