"""simple-async-tasks: the typed lifecycle of background tasks.

Define a task as a frozen attrs class, enqueue it with
``with_queue_lifecycle`` (dedup by unique key), run it with
``with_execute_lifecycle`` (claimed with a conditional write, run once,
recorded FULFILLED or FAILED, retried with backoff), on in-memory backends or
on DynamoDB + SQS + Lambda (``simple_async_tasks.aws``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .backends.memory import InMemoryTaskDao, InMemoryTaskQueue
from .backends.sqlite import SqliteTaskDao
from .backends.sqlite_queue import SqliteTaskQueue
from .clock import Clock, SystemClock
from .conditions import Condition
from .contracts import MutexLock, Page, TaskDao, TaskQueue, Transition
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
from .task import AsyncTask, AsyncTaskStatus

if TYPE_CHECKING:
    from .app import TaskApp

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # TaskApp (and the URL parsing and backend opening behind it) is imported on first use,
    # so a Lambda that wires its lifecycles by hand does not pay for it at cold start.
    if name == "TaskApp":
        from .app import TaskApp

        return TaskApp
    raise AttributeError(f"module 'simple_async_tasks' has no attribute {name!r}")


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
