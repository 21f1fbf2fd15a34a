"""One trace from the web request that enqueues, through SQS, into the Lambda that runs the
task (issue 14): DynamoDB Local and moto's SQS, the real handler, OpenTelemetry's SDK."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from simple_async_tasks import AsyncTask, TaskApp
from simple_async_tasks.aws import create_sqs_handler, reset_clients
from simple_async_tasks.observability import OpenTelemetryHooks
from simple_async_tasks.testing.local_aws import LocalAws

from .conftest import lambda_event, queue_arn, receive_all


@attrs.frozen(kw_only=True)
class Welcome(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


def test_one_trace_runs_from_the_request_through_sqs_into_the_handler(
    aws_endpoint: LocalAws, table: str, sqs: Any, queue_url: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = TaskApp(
        f"dynamodb://{table}?region=us-east-1&endpoint={aws_endpoint.dynamodb}",
        queue=queue_url,
        hooks=[OpenTelemetryHooks(tracer_provider=provider)],
    )
    ran: list[str] = []

    @app.task(Welcome)
    def welcome(task: Welcome) -> None:
        ran.append(task.user_id)

    handler = create_sqs_handler(app.executors())
    tracer = provider.get_tracer("the web app")
    try:
        with tracer.start_as_current_span("POST /signup", kind=SpanKind.SERVER):
            welcome.enqueue(user_id="u1")
        messages = receive_all(sqs, queue_url)
        assert len(messages) == 1
        assert '"traceparent":"00-' in messages[0]["Body"]
        # the Lambda runs in another process: no span is current there
        response = handler(lambda_event(messages, queue_arn(sqs, queue_url)), None)
    finally:
        reset_clients()
    assert response == {"batchItemFailures": []}
    assert ran == ["u1"]
    spans = {span.name: span for span in exporter.get_finished_spans()}
    request, publish, process = (
        spans["POST /signup"],
        spans["Welcome publish"],
        spans["Welcome process"],
    )
    trace_id = request.context.trace_id
    assert publish.context.trace_id == trace_id
    assert process.context.trace_id == trace_id
    assert publish.parent.span_id == request.context.span_id
    assert process.parent.span_id == publish.context.span_id
    assert (publish.kind, process.kind) == (SpanKind.PRODUCER, SpanKind.CONSUMER)
    assert process.attributes["task.attempt"] == 1


def test_a_failed_attempt_marks_its_span() -> None:
    exporter = InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = TaskApp("memory://", hooks=[OpenTelemetryHooks(tracer_provider=provider)])

    @app.task(Welcome)
    def welcome(task: Welcome) -> None:
        raise ConnectionError("mail server down")

    from simple_async_tasks.testing import drain

    welcome.enqueue(user_id="u2")
    drain(app, raise_errors=False, max_deliveries=1)
    (process,) = [s for s in exporter.get_finished_spans() if s.name == "Welcome process"]
    assert not process.status.is_ok
    assert process.events[0].name == "exception"


def test_without_the_extra_nothing_is_imported_and_the_hooks_say_how_to_install_it():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import simple_async_tasks.observability as o\n"
        "from simple_async_tasks import TaskApp\n"
        "TaskApp('memory://')\n"
        "assert not any(m.startswith('opentelemetry') for m in sys.modules)\n"
        "sys.modules['opentelemetry'] = None  # not installed\n"
        "try:\n"
        "    o.OpenTelemetryHooks()\n"
        "except Exception as error:\n"
        "    print(type(error).__name__, error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("ConfigurationError OpenTelemetryHooks needs opentelemetry-api")
    assert 'pip install "simple-async-tasks[otel]"' in out.stdout
