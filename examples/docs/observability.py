"""Observability: JSON log lines, CloudWatch EMF metrics and your own hook, on one app."""

import logging
import sys
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, TaskApp
from simple_async_tasks.observability import (
    EmfMetrics,
    FinishEvent,
    JsonLogFormatter,
    LogHooks,
    TaskHooks,
)
from simple_async_tasks.testing import drain

handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(JsonLogFormatter(service="signup"))  # Powertools Logger's fields
logging.getLogger("simple_async_tasks.events").addHandler(handler)
logging.getLogger("simple_async_tasks.events").setLevel(logging.INFO)


class SlowTaskAlarm(TaskHooks):
    """Your own hook: override the events you need (on_enqueue, on_claim, on_finish,
    on_retry, on_skip)."""

    def on_finish(self, event: FinishEvent) -> None:
        if event.duration.total_seconds() > 10:
            print(f"slow: {event.task_type} {event.task.uuid}", file=sys.stderr)


metrics = EmfMetrics(namespace="Signup")  # the Lambda handler flushes it per invocation
app = TaskApp("memory://", hooks=[LogHooks(), metrics, SlowTaskAlarm()])


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


@app.task(SendWelcomeEmail)
def send_welcome_email(task: SendWelcomeEmail) -> None: ...


send_welcome_email.enqueue(user_id="u1")
drain(app)  # prints a JSON line: {"level": "INFO", ..., "task_type": "SendWelcomeEmail", ...}
metrics.flush()  # prints the EMF document: {"TaskType": "SendWelcomeEmail", ...}
