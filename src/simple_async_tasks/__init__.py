"""simple-async-tasks: the typed lifecycle of background tasks.

Define a task as a frozen attrs class, enqueue it with
``with_queue_lifecycle`` (dedup by unique key), run it with
``with_execute_lifecycle`` (claimed with a conditional write, run once,
recorded FULFILLED or FAILED, retried with backoff), on in-memory backends or
on DynamoDB + SQS + Lambda (``simple_async_tasks.aws``).

Only the task base class and the errors load with the package; every other name
loads its module on first use (PEP 562), so a program pays at start-up only for
what it uses: one on the memory backend never imports SQLite, the scheduler or the
command line, and a Lambda never imports the embedded backends.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from .errors import (
    BackendError,
    ConditionFailedError,
    ConfigurationError,
    InvalidEventError,
    InvalidTaskError,
    LeaseLostError,
    MutexHeldError,
    NotStartedError,
    ParcelDecodeError,
    PayloadMismatchError,
    QueueLimitError,
    QueueSendError,
    RequeueDepthExceededError,
    RetryLaterError,
    SerializationError,
    SimpleAsyncTasksError,
    TaskDefinitionError,
    TaskNotFoundError,
    TimeLimitExceededError,
    UnknownTaskTypeError,
)
from .task import AsyncTask, AsyncTaskStatus

if TYPE_CHECKING:
    from .app import TaskApp
    from .backends.memory import InMemoryTaskDao, InMemoryTaskQueue
    from .backends.sqlite import SqliteTaskDao
    from .backends.sqlite_queue import SqliteTaskQueue
    from .clock import Clock, SystemClock
    from .conditions import Condition
    from .contracts import MutexLock, Page, TaskDao, TaskQueue, Transition
    from .lifecycle.control import cancel as cancel_task
    from .lifecycle.control import halt as halt_task
    from .lifecycle.control import resume as resume_task
    from .lifecycle.control import retry as retry_task
    from .lifecycle.execute import TaskExecutor, with_execute_lifecycle
    from .lifecycle.inspect import count_tasks, list_tasks, show_task
    from .lifecycle.lease import Lease, current_lease
    from .lifecycle.options import ExecuteOptions, OnFailure
    from .lifecycle.queue import enqueue_many, with_queue_lifecycle
    from .lifecycle.recurring import RecurringSchedule, recurring_schedule
    from .lifecycle.results import ExecuteOutcome, ExecuteResult
    from .lifecycle.retry import RetryPolicy
    from .lifecycle.scheduler import Scheduler, SchedulerReport
    from .lifecycle.sweeps import SweepReport, promote_due, requeue_stale
    from .parcel import ParcelMeta, TaskParcel
    from .serialization import default_converter, make_converter
    from .task_function import TaskFunction

__version__ = "0.1.0"

_LAZY: dict[str, tuple[str, str]] = {
    "Clock": (".clock", "Clock"),
    "Condition": (".conditions", "Condition"),
    "ExecuteOptions": (".lifecycle.options", "ExecuteOptions"),
    "ExecuteOutcome": (".lifecycle.results", "ExecuteOutcome"),
    "ExecuteResult": (".lifecycle.results", "ExecuteResult"),
    "InMemoryTaskDao": (".backends.memory", "InMemoryTaskDao"),
    "InMemoryTaskQueue": (".backends.memory", "InMemoryTaskQueue"),
    "Lease": (".lifecycle.lease", "Lease"),
    "MutexLock": (".contracts", "MutexLock"),
    "OnFailure": (".lifecycle.options", "OnFailure"),
    "Page": (".contracts", "Page"),
    "ParcelMeta": (".parcel", "ParcelMeta"),
    "RecurringSchedule": (".lifecycle.recurring", "RecurringSchedule"),
    "RetryPolicy": (".lifecycle.retry", "RetryPolicy"),
    "Scheduler": (".lifecycle.scheduler", "Scheduler"),
    "SchedulerReport": (".lifecycle.scheduler", "SchedulerReport"),
    "SqliteTaskDao": (".backends.sqlite", "SqliteTaskDao"),
    "SqliteTaskQueue": (".backends.sqlite_queue", "SqliteTaskQueue"),
    "SweepReport": (".lifecycle.sweeps", "SweepReport"),
    "SystemClock": (".clock", "SystemClock"),
    "TaskApp": (".app", "TaskApp"),
    "TaskDao": (".contracts", "TaskDao"),
    "TaskExecutor": (".lifecycle.execute", "TaskExecutor"),
    "TaskFunction": (".task_function", "TaskFunction"),
    "TaskParcel": (".parcel", "TaskParcel"),
    "TaskQueue": (".contracts", "TaskQueue"),
    "Transition": (".contracts", "Transition"),
    "cancel_task": (".lifecycle.control", "cancel"),
    "count_tasks": (".lifecycle.inspect", "count_tasks"),
    "current_lease": (".lifecycle.lease", "current_lease"),
    "default_converter": (".serialization", "default_converter"),
    "enqueue_many": (".lifecycle.queue", "enqueue_many"),
    "halt_task": (".lifecycle.control", "halt"),
    "list_tasks": (".lifecycle.inspect", "list_tasks"),
    "make_converter": (".serialization", "make_converter"),
    "promote_due": (".lifecycle.sweeps", "promote_due"),
    "recurring_schedule": (".lifecycle.recurring", "recurring_schedule"),
    "requeue_stale": (".lifecycle.sweeps", "requeue_stale"),
    "resume_task": (".lifecycle.control", "resume"),
    "retry_task": (".lifecycle.control", "retry"),
    "show_task": (".lifecycle.inspect", "show_task"),
    "with_execute_lifecycle": (".lifecycle.execute", "with_execute_lifecycle"),
    "with_queue_lifecycle": (".lifecycle.queue", "with_queue_lifecycle"),
}
"""Public name: (module, name in it), imported on first use."""


def __getattr__(name: str) -> object:
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module 'simple_async_tasks' has no attribute {name!r}")
    module, attribute = found
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


logging.getLogger("simple_async_tasks").addHandler(logging.NullHandler())

__all__ = [
    "AsyncTask",
    "AsyncTaskStatus",
    "BackendError",
    "Clock",
    "Condition",
    "ConditionFailedError",
    "ConfigurationError",
    "ExecuteOptions",
    "ExecuteOutcome",
    "ExecuteResult",
    "InMemoryTaskDao",
    "InMemoryTaskQueue",
    "InvalidEventError",
    "InvalidTaskError",
    "Lease",
    "LeaseLostError",
    "MutexHeldError",
    "MutexLock",
    "NotStartedError",
    "OnFailure",
    "Page",
    "ParcelDecodeError",
    "ParcelMeta",
    "PayloadMismatchError",
    "QueueLimitError",
    "QueueSendError",
    "RecurringSchedule",
    "RequeueDepthExceededError",
    "RetryLaterError",
    "RetryPolicy",
    "Scheduler",
    "SchedulerReport",
    "SerializationError",
    "SimpleAsyncTasksError",
    "SqliteTaskDao",
    "SqliteTaskQueue",
    "SweepReport",
    "SystemClock",
    "TaskApp",
    "TaskDao",
    "TaskDefinitionError",
    "TaskExecutor",
    "TaskFunction",
    "TaskNotFoundError",
    "TaskParcel",
    "TaskQueue",
    "TimeLimitExceededError",
    "Transition",
    "UnknownTaskTypeError",
    "cancel_task",
    "count_tasks",
    "current_lease",
    "default_converter",
    "enqueue_many",
    "halt_task",
    "list_tasks",
    "make_converter",
    "promote_due",
    "recurring_schedule",
    "requeue_stale",
    "resume_task",
    "retry_task",
    "show_task",
    "with_execute_lifecycle",
    "with_queue_lifecycle",
]
