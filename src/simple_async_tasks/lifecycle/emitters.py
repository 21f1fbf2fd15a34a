"""Structured logs and CloudWatch metrics, built on the hooks.

- ``LogHooks`` logs one line per enqueue, finish, retry and skip, with the task's type,
  uuid, attempt, outcome and duration as fields of the record (never its values).
- ``JsonLogFormatter`` writes any log record as one JSON line with the field names of
  AWS Lambda Powertools' Logger (``level``, ``location``, ``message``, ``timestamp``,
  ``service``, ``xray_trace_id``), so the same CloudWatch Logs Insights queries work.
- ``EmfMetrics`` counts tasks and their durations per task type and outcome, and writes
  them in CloudWatch's Embedded Metric Format: CloudWatch turns such log lines into
  metrics without an API call. The Lambda handler flushes it after each invocation, the
  worker every minute and when it stops.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TextIO

from .hooks import EnqueueEvent, FinishEvent, RetryEvent, SkipEvent, TaskHooks

TASK_FIELDS = ("task_type", "task_uuid", "attempt", "outcome", "duration_ms", "reason")
"""The fields ``LogHooks`` puts on its records (as ``extra``), written by the formatter."""


class LogHooks(TaskHooks):
    """One log line per enqueue (DEBUG), finish (INFO, or WARNING when failed), retry
    (INFO) and skip (DEBUG), with the task fields as record attributes."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("simple_async_tasks.events")

    def _log(self, level: int, message: str, **fields: object) -> None:
        if self.logger.isEnabledFor(level):
            self.logger.log(level, message, extra=fields, stacklevel=2)

    def on_enqueue(self, event: EnqueueEvent) -> None:
        what = "duplicate of" if event.duplicate else "enqueued"
        self._log(
            logging.DEBUG,
            f"{what} {event.task_type} {event.task.uuid}",
            task_type=event.task_type,
            task_uuid=event.task.uuid,
            outcome="DUPLICATE" if event.duplicate else event.task.status.value,
        )

    def on_finish(self, event: FinishEvent) -> None:
        failed = event.error is not None
        status = event.task.status.value
        self._log(
            logging.WARNING if failed else logging.INFO,
            f"{event.task_type} {event.task.uuid} attempt {event.task.attempts}: {status}"
            + (f" ({type(event.error).__name__})" if failed else ""),
            task_type=event.task_type,
            task_uuid=event.task.uuid,
            attempt=event.task.attempts,
            outcome=event.outcome.value,
            duration_ms=round(event.duration.total_seconds() * 1000, 3),
        )

    def on_retry(self, event: RetryEvent) -> None:
        self._log(
            logging.INFO,
            f"{event.task_type} {event.task.uuid}: again in {event.delay.total_seconds():.0f}s",
            task_type=event.task_type,
            task_uuid=event.task.uuid,
            attempt=event.task.attempts,
            outcome="RETRY_LATER",
            reason=event.reason,
        )

    def on_skip(self, event: SkipEvent) -> None:
        self._log(
            logging.DEBUG,
            f"{event.task_type} skipped: {event.reason}",
            task_type=event.task_type,
            task_uuid=event.task.uuid if event.task else None,
            outcome="SKIPPED",
            reason=event.reason,
        )


class JsonLogFormatter(logging.Formatter):
    """A log record as one JSON line, with Powertools Logger's field names and the task
    fields of ``LogHooks``; ``service`` defaults to ``POWERTOOLS_SERVICE_NAME``."""

    def __init__(self, service: str | None = None) -> None:
        super().__init__()
        self.service = service or os.environ.get("POWERTOOLS_SERVICE_NAME") or "service_undefined"

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, timezone.utc)
        entry: dict[str, object] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": moment.strftime("%Y-%m-%d %H:%M:%S,")
            + f"{moment.microsecond // 1000:03d}+0000",
            "service": self.service,
            "logger": record.name,
        }
        for name in TASK_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        trace = _xray_trace_id()
        if trace:
            entry["xray_trace_id"] = trace
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
            entry["exception_name"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(entry, ensure_ascii=False, default=str)


def _xray_trace_id() -> str | None:
    """The Root of ``_X_AMZN_TRACE_ID`` (set by Lambda per invocation), as Powertools does."""
    header = os.environ.get("_X_AMZN_TRACE_ID", "")
    for part in header.split(";"):
        if part.startswith("Root="):
            return part[len("Root=") :]
    return None


MAX_VALUES = 100
"""CloudWatch takes at most 100 values of one metric in one EMF document."""


class EmfMetrics(TaskHooks):
    """Counts (``Tasks``) and durations (``Duration``, ms) per ``TaskType`` and ``Outcome``
    (EXECUTED, FAILED, RETRY_LATER, SKIPPED), written as CloudWatch Embedded Metric Format
    documents by ``flush()`` (one per task type and outcome seen since the last flush)."""

    def __init__(
        self,
        namespace: str = "SimpleAsyncTasks",
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.namespace = namespace
        self.stream = stream
        self.clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._durations: dict[tuple[str, str], list[float]] = {}

    def _add(self, task_type: str, outcome: str, duration_ms: float | None = None) -> None:
        key = (task_type, outcome)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            if duration_ms is not None:
                self._durations.setdefault(key, []).append(round(duration_ms, 3))

    def on_finish(self, event: FinishEvent) -> None:
        self._add(event.task_type, event.outcome.value, event.duration.total_seconds() * 1000)

    def on_retry(self, event: RetryEvent) -> None:
        if not event.after_failure:  # a failed attempt counts as FAILED already
            self._add(event.task_type, "RETRY_LATER")

    def on_skip(self, event: SkipEvent) -> None:
        self._add(event.task_type, "SKIPPED")

    def documents(self) -> list[dict[str, object]]:
        """The EMF documents of what was recorded since the last call (and forget it)."""
        with self._lock:
            counts, durations = self._counts, self._durations
            self._counts, self._durations = {}, {}
        stamp = int(self.clock() * 1000)
        found: list[dict[str, object]] = []
        for (task_type, outcome), count in sorted(counts.items()):
            values = durations.get((task_type, outcome), [])
            for start in range(0, max(len(values), 1), MAX_VALUES):
                chunk = values[start : start + MAX_VALUES]
                metrics: list[dict[str, str]] = []
                document: dict[str, object] = {"TaskType": task_type, "Outcome": outcome}
                if start == 0:  # the count once; the next documents carry durations only
                    metrics.append({"Name": "Tasks", "Unit": "Count"})
                    document["Tasks"] = count
                if chunk:
                    metrics.append({"Name": "Duration", "Unit": "Milliseconds"})
                    document["Duration"] = chunk
                document["_aws"] = {
                    "Timestamp": stamp,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": self.namespace,
                            "Dimensions": [["TaskType", "Outcome"]],
                            "Metrics": metrics,
                        }
                    ],
                }
                found.append(document)
        return found

    def flush(self) -> int:
        """Write the recorded metrics (one JSON line per document); return how many."""
        documents = self.documents()
        stream = self.stream or sys.stdout
        for document in documents:
            stream.write(json.dumps(document, separators=(",", ":")) + "\n")
        stream.flush()
        return len(documents)
