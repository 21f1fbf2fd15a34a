"""Traces across the queue with OpenTelemetry (the ``otel`` extra: opentelemetry-api only).

An enqueue starts a PRODUCER span and puts its W3C trace context (``traceparent``, and
``tracestate`` when set) in the parcel's meta; the attempt that runs the task continues
that context in a CONSUMER span. One trace then runs from the web request that enqueued
the task, through SQS, into the Lambda (or the worker) that ran it.

Nothing here is imported unless ``OpenTelemetryHooks`` is used; without the extra it
says how to install it. Spans go to whatever tracer provider the application set up
(``opentelemetry-sdk``, the AWS distro, ...): the API alone records nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..errors import ConfigurationError
from ..task import AsyncTask
from .hooks import TaskHooks

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

OTEL_HINT = 'pip install "simple-async-tasks[otel]"'
TRACER_NAME = "simple_async_tasks"


class OpenTelemetryHooks(TaskHooks):
    """Producer spans at enqueue, consumer spans around each run of the logic, linked by
    the W3C trace context carried in the parcel's meta. ``tracer_provider``: the
    global one by default."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        try:
            from opentelemetry import trace
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )
        except ImportError as error:
            raise ConfigurationError(
                f"OpenTelemetryHooks needs opentelemetry-api, which is not installed: {OTEL_HINT}"
            ) from error
        from .. import __version__

        self._kinds = trace.SpanKind
        self._tracer = trace.get_tracer(TRACER_NAME, __version__, tracer_provider=tracer_provider)
        self._propagator = TraceContextTextMapPropagator()

    @contextmanager
    def enqueue_span(self, task_type: str, task: AsyncTask) -> Iterator[Mapping[str, str]]:
        with self._tracer.start_as_current_span(
            f"{task_type} publish",
            kind=self._kinds.PRODUCER,
            attributes={
                "messaging.operation.type": "publish",
                "task.type": task_type,
                "task.uuid": task.uuid,
            },
        ):
            carrier: dict[str, str] = {}
            self._propagator.inject(carrier)
            yield carrier

    @contextmanager
    def attempt_span(
        self, task_type: str, task: AsyncTask, carried: Mapping[str, str]
    ) -> Iterator[None]:
        parent = self._propagator.extract(dict(carried))
        with self._tracer.start_as_current_span(
            f"{task_type} process",
            context=parent,
            kind=self._kinds.CONSUMER,
            attributes={
                "messaging.operation.type": "process",
                "task.type": task_type,
                "task.uuid": task.uuid,
                "task.attempt": task.attempts,
            },
        ):
            yield
