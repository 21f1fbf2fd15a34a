"""Hooks at enqueue, claim, finish, retry and skip (issue 14): each fires once where the
lifecycle says, a failing hook never fails a task, and the spans carry their context in
the parcel's meta from the enqueue to the attempt."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, RetryLaterError, RetryPolicy, TaskApp
from simple_async_tasks.observability import (
    ClaimEvent,
    EnqueueEvent,
    FinishEvent,
    RetryEvent,
    SkipEvent,
    TaskHooks,
)
from simple_async_tasks.operations import cancel_task
from simple_async_tasks.testing import FakeClock, drain


@attrs.frozen(kw_only=True)
class Job(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("job_id",)
    job_id: str


class Recorder(TaskHooks):
    def __init__(self) -> None:
        self.events: list[object] = []
        self.carried: list[Mapping[str, str]] = []

    def on_enqueue(self, event: EnqueueEvent) -> None:
        self.events.append(("enqueue", event.task.job_id, event.duplicate))

    def on_claim(self, event: ClaimEvent) -> None:
        self.events.append(("claim", event.task.job_id, event.task.attempts))

    def on_finish(self, event: FinishEvent) -> None:
        error = type(event.error).__name__ if event.error else None
        self.events.append(("finish", event.task.job_id, event.outcome.value, error, event.final))
        assert event.duration >= timedelta(0)

    def on_retry(self, event: RetryEvent) -> None:
        self.events.append(("retry", event.task.job_id, event.reason))

    def on_skip(self, event: SkipEvent) -> None:
        self.events.append(("skip", event.task.job_id if event.task else None, event.reason))

    @contextmanager
    def enqueue_span(self, task_type: str, task: AsyncTask) -> Iterator[Mapping[str, str]]:
        yield {"traceparent": f"00-{'a' * 32}-{'b' * 16}-01", "x-job": task.job_id}

    @contextmanager
    def attempt_span(
        self, task_type: str, task: AsyncTask, carried: Mapping[str, str]
    ) -> Iterator[None]:
        self.carried.append(dict(carried))
        yield


def build(*hooks: TaskHooks) -> tuple[TaskApp, dict[str, int]]:
    app = TaskApp("memory://", clock=FakeClock(), hooks=hooks)
    fails = {"flaky": 1, "doomed": 9}

    @app.task(Job, retry=RetryPolicy(max_attempts=2, initial_delay=timedelta(seconds=1)))
    def run(task: Job) -> None:
        if task.job_id == "later" and task.attempts == 1:
            raise RetryLaterError("not yet", delay=timedelta(seconds=5))
        if fails.get(task.job_id, 0) > 0:
            fails[task.job_id] -= 1
            raise ConnectionError("down")

    return app, fails


def test_each_hook_fires_where_the_lifecycle_says():
    recorder = Recorder()
    app, _ = build(recorder)
    for job in ("ok", "flaky", "doomed", "later", "gone"):
        app.enqueue(Job(job_id=job))
    app.enqueue(Job(job_id="ok"))  # a duplicate
    cancel_task(app.dao(Job), "gone")
    drain(app, raise_errors=False)
    events = recorder.events
    assert ("enqueue", "ok", False) in events
    assert ("enqueue", "ok", True) in events
    assert ("claim", "ok", 1) in events
    assert ("finish", "ok", "EXECUTED", None, False) in events
    assert ("finish", "flaky", "FAILED", "ConnectionError", False) in events
    assert ("retry", "flaky", "attempt failed (ConnectionError)") in events
    assert ("finish", "flaky", "EXECUTED", None, False) in events
    assert ("finish", "doomed", "FAILED", "ConnectionError", True) in events
    assert ("retry", "later", "not yet") in events
    assert ("skip", "gone", "already CANCELED") in events
    assert sum(e[0] == "claim" for e in events) == 7  # ok, and two each: flaky, doomed, later


def test_the_span_carrier_travels_in_the_parcel_meta_to_the_attempt():
    recorder = Recorder()
    app, _ = build(recorder)
    app.enqueue(Job(job_id="ok"))
    (message,) = app.queue.receive(1)
    assert '"traceparent":"00-' in message.body
    assert '"x-job":"ok"' in message.body
    app.queue.push_body(message.body)  # back on the queue as it was
    drain(app)
    assert recorder.carried[-1]["x-job"] == "ok"
    assert recorder.carried[-1]["traceparent"].startswith("00-aaaa")


class Broken(TaskHooks):
    def on_finish(self, event: FinishEvent) -> None:
        raise RuntimeError("metrics exporter down")

    def enqueue_span(self, task_type: str, task: AsyncTask) -> object:  # type: ignore[override]
        raise RuntimeError("tracer down")


def test_a_hook_that_raises_never_fails_a_task(caplog):
    recorder = Recorder()
    app, _ = build(Broken(), recorder)  # the one after a broken hook still runs
    app.enqueue(Job(job_id="ok"))
    drain(app)
    assert app.dao(Job).get("ok").status.value == "FULFILLED"
    assert ("finish", "ok", "EXECUTED", None, False) in recorder.events
    assert "hook Broken.on_finish raised RuntimeError: metrics exporter down" in caplog.text
    assert "hook Broken.enqueue_span raised RuntimeError: tracer down" in caplog.text


class ExitBreaks(TaskHooks):
    """Spans that fail as they end (an exporter down)."""

    def __init__(self) -> None:
        self.seen_errors: list[str] = []

    @contextmanager
    def enqueue_span(self, task_type: str, task: AsyncTask) -> Iterator[Mapping[str, str]]:
        yield {"k": "v"}
        raise RuntimeError("exporter down at enqueue")

    @contextmanager
    def attempt_span(
        self, task_type: str, task: AsyncTask, carried: Mapping[str, str]
    ) -> Iterator[None]:
        try:
            yield
        except Exception as error:  # a tracer records the error, and must not eat it
            self.seen_errors.append(type(error).__name__)
            raise
        raise RuntimeError("exporter down at attempt")


def test_a_span_that_fails_as_it_ends_fails_nothing_and_never_hides_the_logics_error(caplog):
    hooks = ExitBreaks()
    app, _ = build(hooks)
    app.enqueue(Job(job_id="ok"))
    app.enqueue(Job(job_id="doomed"))  # raises ConnectionError on each of its 2 attempts
    drain(app, raise_errors=False)
    assert app.dao(Job).get("ok").status.value == "FULFILLED"
    doomed = app.dao(Job).get("doomed")
    assert (doomed.status.value, doomed.failures) == ("FAILED", 2)
    assert hooks.seen_errors == ["ConnectionError", "ConnectionError"]
    assert "hook ExitBreaks.enqueue_span raised RuntimeError: exporter down at enqueue" in (
        caplog.text
    )
    assert "hook ExitBreaks.attempt_span raised RuntimeError: exporter down at attempt" in (
        caplog.text
    )
