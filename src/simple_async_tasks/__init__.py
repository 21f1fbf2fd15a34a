"""simple-async-tasks: the typed lifecycle of background tasks.

Define a task as a frozen attrs class and its logic as one function registered
with a ``TaskApp``; enqueue it from the class's fields (dedup by unique key), and
let a worker or the Lambda handler run it (claimed with a conditional write, run
once, recorded FULFILLED or FAILED, retried with backoff), on in-memory or SQLite
backends or on DynamoDB + SQS + Lambda (``simple_async_tasks.aws``).

The root holds what a user needs to define, enqueue, execute and test tasks.
Operations live in ``simple_async_tasks.operations``, every error in
``simple_async_tasks.errors``, the contracts and their values in
``simple_async_tasks.contracts``.

Only the task base class and two errors load with the package; every other name
loads its module on first use (PEP 562), so a program pays at start-up only for
what it uses: one on the memory backend never imports SQLite, the scheduler or the
command line, and a Lambda never imports the embedded backends.
"""

from __future__ import annotations

import importlib
import logging
import warnings
from typing import TYPE_CHECKING

from . import errors as _errors
from .errors import RetryLaterError, SimpleAsyncTasksError
from .task import AsyncTask, AsyncTaskStatus

if TYPE_CHECKING:
    from .app import Backend, TaskApp, TaskFunction
    from .backends.memory import InMemoryTaskDao, InMemoryTaskQueue
    from .backends.sqlite import SqliteTaskDao
    from .backends.sqlite_queue import SqliteTaskQueue
    from .clock import Clock
    from .contracts import TaskDao, TaskQueue
    from .lifecycle.enqueue import enqueue_many, with_queue_lifecycle
    from .lifecycle.execute import TaskExecutor, with_execute_lifecycle
    from .lifecycle.lease import Lease, current_lease
    from .lifecycle.options import ExecuteOptions, OnFailure
    from .lifecycle.results import ExecuteOutcome, ExecuteResult
    from .lifecycle.retry import RetryPolicy
    from .worker import Worker, WorkerSummary

__version__ = "0.1.0"

_LAZY: dict[str, tuple[str, str]] = {
    "Backend": (".app", "Backend"),
    "Clock": (".clock", "Clock"),
    "ExecuteOptions": (".lifecycle.options", "ExecuteOptions"),
    "ExecuteOutcome": (".lifecycle.results", "ExecuteOutcome"),
    "ExecuteResult": (".lifecycle.results", "ExecuteResult"),
    "InMemoryTaskDao": (".backends.memory", "InMemoryTaskDao"),
    "InMemoryTaskQueue": (".backends.memory", "InMemoryTaskQueue"),
    "Lease": (".lifecycle.lease", "Lease"),
    "OnFailure": (".lifecycle.options", "OnFailure"),
    "RetryPolicy": (".lifecycle.retry", "RetryPolicy"),
    "SqliteTaskDao": (".backends.sqlite", "SqliteTaskDao"),
    "SqliteTaskQueue": (".backends.sqlite_queue", "SqliteTaskQueue"),
    "TaskApp": (".app", "TaskApp"),
    "TaskDao": (".contracts", "TaskDao"),
    "TaskExecutor": (".lifecycle.execute", "TaskExecutor"),
    "TaskFunction": (".app", "TaskFunction"),
    "TaskQueue": (".contracts", "TaskQueue"),
    "Worker": (".worker", "Worker"),
    "WorkerSummary": (".worker", "WorkerSummary"),
    "current_lease": (".lifecycle.lease", "current_lease"),
    "enqueue_many": (".lifecycle.enqueue", "enqueue_many"),
    "with_execute_lifecycle": (".lifecycle.execute", "with_execute_lifecycle"),
    "with_queue_lifecycle": (".lifecycle.enqueue", "with_queue_lifecycle"),
}
"""Public name: (module, name in it), imported on first use."""

_MOVED: dict[str, tuple[str, str]] = {
    **{
        name: ("simple_async_tasks.errors", name)
        for name in _errors.__all__
        if name not in ("RetryLaterError", "SimpleAsyncTasksError")
    },
    **{
        name: ("simple_async_tasks.operations", name)
        for name in (
            "RecurringSchedule",
            "Scheduler",
            "SchedulerReport",
            "SweepReport",
            "cancel_task",
            "count_tasks",
            "halt_task",
            "list_tasks",
            "promote_due",
            "recurring_schedule",
            "requeue_stale",
            "resume_task",
            "retry_task",
            "show_task",
        )
    },
    **{
        name: ("simple_async_tasks.contracts", name)
        for name in ("Condition", "MutexLock", "Page", "ParcelMeta", "TaskParcel", "Transition")
    },
    "SystemClock": ("simple_async_tasks.clock", "SystemClock"),
    "default_converter": ("simple_async_tasks.serialization", "default_converter"),
    "make_converter": ("simple_async_tasks.serialization", "make_converter"),
}
"""Names the root held before 0.2 and where they live now: still found here, with a
``DeprecationWarning`` naming the new import, until 1.0."""


def __getattr__(name: str) -> object:
    found = _LAZY.get(name)
    if found is not None:
        module, attribute = found
        value = getattr(importlib.import_module(module, __name__), attribute)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    moved = _MOVED.get(name)
    if moved is not None:
        module, attribute = moved
        warnings.warn(
            f"simple_async_tasks.{name} moved: import it with `from {module} import {attribute}`"
            " (the root keeps it until 1.0)",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'simple_async_tasks' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


logging.getLogger("simple_async_tasks").addHandler(logging.NullHandler())

__all__ = [
    "AsyncTask",
    "AsyncTaskStatus",
    "Backend",
    "Clock",
    "ExecuteOptions",
    "ExecuteOutcome",
    "ExecuteResult",
    "InMemoryTaskDao",
    "InMemoryTaskQueue",
    "Lease",
    "OnFailure",
    "RetryLaterError",
    "RetryPolicy",
    "SimpleAsyncTasksError",
    "SqliteTaskDao",
    "SqliteTaskQueue",
    "TaskApp",
    "TaskDao",
    "TaskExecutor",
    "TaskFunction",
    "TaskQueue",
    "Worker",
    "WorkerSummary",
    "current_lease",
    "enqueue_many",
    "with_execute_lifecycle",
    "with_queue_lifecycle",
]
