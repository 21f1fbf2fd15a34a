"""Structured logs and CloudWatch EMF metrics (issue 14), built on the hooks."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, RetryPolicy, TaskApp
from simple_async_tasks.aws import create_sqs_handler
from simple_async_tasks.observability import EmfMetrics, JsonLogFormatter, LogHooks
from simple_async_tasks.testing import FakeClock, drain


@attrs.frozen(kw_only=True)
class Report(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("report_id",)
    report_id: str
    secret: str = "s3cr3t"


def app_with(*hooks) -> TaskApp:
    app = TaskApp("memory://", clock=FakeClock(), hooks=hooks)

    @app.task(Report, retry=RetryPolicy(max_attempts=2, initial_delay=timedelta(seconds=1)))
    def build(task: Report) -> None:
        if task.report_id == "bad":
            raise ValueError(f"cannot build {task.secret}")

    return app


def test_json_lines_carry_the_task_fields_in_powertools_names(monkeypatch):
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=1")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter(service="billing"))
    events = logging.getLogger("simple_async_tasks.events")
    events.addHandler(handler)
    events.setLevel(logging.INFO)
    try:
        app = app_with(LogHooks())
        app.enqueue(Report(report_id="ok"))
        app.enqueue(Report(report_id="bad"))
        drain(app, raise_errors=False)
    finally:
        events.removeHandler(handler)
        events.setLevel(logging.NOTSET)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    done = [line for line in lines if line.get("outcome") == "EXECUTED"]
    assert len(done) == 1
    (ok,) = done
    assert {"level", "location", "message", "timestamp", "service", "xray_trace_id"} <= set(ok)
    assert (ok["level"], ok["service"], ok["task_type"], ok["attempt"]) == (
        "INFO",
        "billing",
        "Report",
        1,
    )
    assert ok["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert isinstance(ok["duration_ms"], float)
    assert len(ok["task_uuid"]) == 36
    failed = [line for line in lines if line.get("outcome") == "FAILED"]
    assert [f["level"] for f in failed] == ["WARNING", "WARNING"]
    retried = [line for line in lines if line.get("outcome") == "RETRY_LATER"]
    assert retried[0]["reason"] == "attempt failed (ValueError)"
    assert "s3cr3t" not in stream.getvalue()  # the logs name tasks, never their values


def test_emf_documents_count_and_time_each_task_type_and_outcome():
    metrics = EmfMetrics(namespace="Billing", stream=io.StringIO(), clock=lambda: 1_700_000_000)
    app = app_with(metrics)
    for i in range(3):
        app.enqueue(Report(report_id=f"ok-{i}"))
    app.enqueue(Report(report_id="bad"))
    drain(app, raise_errors=False)
    documents = {(d["TaskType"], d["Outcome"]): d for d in metrics.documents()}
    assert set(documents) == {("Report", "EXECUTED"), ("Report", "FAILED")}
    executed = documents[("Report", "EXECUTED")]
    assert executed["Tasks"] == 3
    assert len(executed["Duration"]) == 3
    assert documents[("Report", "FAILED")]["Tasks"] == 2
    emf = executed["_aws"]
    assert emf["Timestamp"] == 1_700_000_000_000
    (directive,) = emf["CloudWatchMetrics"]
    assert directive["Namespace"] == "Billing"
    assert directive["Dimensions"] == [["TaskType", "Outcome"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"Tasks", "Duration"}
    assert metrics.documents() == []  # taken once


def test_the_lambda_handler_flushes_the_metrics_after_each_invocation():
    stream = io.StringIO()
    metrics = EmfMetrics(stream=stream)
    app = app_with(metrics)
    handler = create_sqs_handler(app.executors())
    app.enqueue(Report(report_id="ok"))
    (message,) = app.queue.receive(1)
    event = {
        "Records": [
            {
                "messageId": message.message_id,
                "receiptHandle": "r",
                "body": message.body,
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
            }
        ]
    }
    assert handler(event, None) == {"batchItemFailures": []}
    (line,) = stream.getvalue().splitlines()
    document = json.loads(line)
    assert (document["TaskType"], document["Outcome"], document["Tasks"]) == (
        "Report",
        "EXECUTED",
        1,
    )


def test_more_than_100_durations_split_into_documents_that_count_once():
    from datetime import timedelta

    from simple_async_tasks.lifecycle.results import ExecuteOutcome
    from simple_async_tasks.observability import FinishEvent

    metrics = EmfMetrics(stream=io.StringIO())
    task = Report(report_id="r")
    for _ in range(150):
        metrics.on_finish(
            FinishEvent(
                task_type="Report",
                task=task,
                outcome=ExecuteOutcome.EXECUTED,
                duration=timedelta(milliseconds=5),
            )
        )
    first, second = metrics.documents()
    assert (first["Tasks"], len(first["Duration"])) == (150, 100)
    assert "Tasks" not in second
    assert len(second["Duration"]) == 50
    (directive,) = second["_aws"]["CloudWatchMetrics"]
    assert [m["Name"] for m in directive["Metrics"]] == ["Duration"]
