"""Traces across the queue with OpenTelemetry (``pip install "simple-async-tasks[otel]"``).

The application sets up its tracer provider as usual (here the SDK, printing spans);
the enqueue's span and the run's span then share one trace, through SQS and Lambda.
"""

from typing import ClassVar

import attrs
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from simple_async_tasks import AsyncTask, TaskApp
from simple_async_tasks.observability import OpenTelemetryHooks
from simple_async_tasks.testing import drain

provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
trace.set_tracer_provider(provider)

app = TaskApp("memory://", hooks=[OpenTelemetryHooks()])


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


@app.task(SendWelcomeEmail)
def send_welcome_email(task: SendWelcomeEmail) -> None: ...


with trace.get_tracer("web").start_as_current_span("POST /signup"):
    send_welcome_email.enqueue(user_id="u1")  # "SendWelcomeEmail publish", a child span
drain(app)  # "SendWelcomeEmail process": same trace id, its parent the publish span
