"""Observability: hooks into the lifecycle, and what is built on them.

- ``TaskHooks`` and its events: subclass it to plug in your own logging, metrics or
  tracing (``TaskApp(hooks=[...])``, or ``hooks=`` of the lifecycle wrappers).
- ``LogHooks`` and ``JsonLogFormatter``: one JSON line per finish, retry and skip, with
  the task's type, uuid, attempt, outcome and duration, in Powertools Logger's fields.
- ``EmfMetrics``: counts and durations per task type and outcome, as CloudWatch
  Embedded Metric Format lines, flushed by the Lambda handler after each invocation.
- ``OpenTelemetryHooks``: one trace from the enqueue, through the queue, to the run
  (the ``otel`` extra; imported on first use, so this module never loads OpenTelemetry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lifecycle.emitters import EmfMetrics, JsonLogFormatter, LogHooks
from .lifecycle.hooks import (
    ClaimEvent,
    EnqueueEvent,
    FinishEvent,
    RetryEvent,
    SkipEvent,
    TaskHooks,
)

if TYPE_CHECKING:
    from .lifecycle.tracing import OpenTelemetryHooks


def __getattr__(name: str) -> object:
    if name == "OpenTelemetryHooks":
        from .lifecycle.tracing import OpenTelemetryHooks

        return OpenTelemetryHooks
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ClaimEvent",
    "EmfMetrics",
    "EnqueueEvent",
    "FinishEvent",
    "JsonLogFormatter",
    "LogHooks",
    "OpenTelemetryHooks",
    "RetryEvent",
    "SkipEvent",
    "TaskHooks",
]
