"""Every error the library raises, under one base class.

The whole tree::

    SimpleAsyncTasksError
    ├── TaskDefinitionError          a task class is defined wrongly (found at build time)
    ├── SerializationError           a value cannot be turned into JSON, or JSON back into a task
    │   └── ParcelDecodeError        a queue message body is not a valid parcel
    │       └── UnknownTaskTypeError the parcel names a task type no executor handles
    ├── InvalidTaskError             a task value the library cannot accept (a naive datetime, ...)
    ├── PayloadMismatchError         the same unique key was enqueued with other field values
    ├── QueueLimitError              a message breaks the queue's limits (size, delay, batch)
    ├── ConditionFailedError         a conditional write lost; carries the current record
    ├── MutexHeldError               the task's mutex key is held by another live attempt
    ├── TaskNotFoundError            no task is stored under that unique key
    ├── RequeueDepthExceededError    a parcel was put back too often; let it dead-letter
    ├── RetryLaterError              raised by business logic: run this task again later
    ├── LeaseLostError               an attempt's lease was taken over; its writes are refused
    ├── TimeLimitExceededError       an attempt ran past its task type's time limit
    ├── InvalidEventError            a Lambda handler was given an event it does not handle
    ├── NotStartedError              a claimed task was put back: the Lambda ran short of time
    ├── InvalidScheduleError         a stored schedule refused (task type, field, payload)
    ├── ScheduleNotFoundError        no stored schedule has that name
    ├── ConfigurationError           a wrong backend URL, app reference or setting
    └── BackendError                 a backend call failed (boto3 and sqlite3 errors, translated)
        ├── BackendUnavailableError  throttled, unreachable or locked: retrying later may work
        └── QueueSendError           messages could not be sent after retries

Each message says what happened and what to do about it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Generic, TypeVar

__all__ = [
    "BackendError",
    "BackendUnavailableError",
    "ConditionFailedError",
    "ConfigurationError",
    "InvalidEventError",
    "InvalidScheduleError",
    "InvalidTaskError",
    "LeaseLostError",
    "MutexHeldError",
    "NotStartedError",
    "ParcelDecodeError",
    "PayloadMismatchError",
    "QueueLimitError",
    "QueueSendError",
    "RequeueDepthExceededError",
    "RetryLaterError",
    "ScheduleNotFoundError",
    "SerializationError",
    "SimpleAsyncTasksError",
    "TaskDefinitionError",
    "TaskNotFoundError",
    "TimeLimitExceededError",
    "UnknownTaskTypeError",
]

T = TypeVar("T")


class SimpleAsyncTasksError(Exception):
    """Base class of every error raised by simple-async-tasks."""


class TaskDefinitionError(SimpleAsyncTasksError, TypeError):
    """A task class is not a valid task definition.

    Raised where a lifecycle, DAO or queue is built for the class, never later
    on a message.
    """


class SerializationError(SimpleAsyncTasksError, ValueError):
    """A value could not be converted to or from JSON."""


class ParcelDecodeError(SerializationError):
    """A queue message body is not a valid task parcel."""


class UnknownTaskTypeError(ParcelDecodeError):
    """A parcel names a task type that no executor is registered for."""

    def __init__(self, task_type: str | None, known: list[str]) -> None:
        self.task_type = task_type
        self.known = known
        super().__init__(
            f"no executor handles task type {task_type!r}; registered types: {sorted(known)}. "
            "Register an executor for it, or route this queue to a consumer that has one."
        )


class InvalidTaskError(SimpleAsyncTasksError, ValueError):
    """A task carries a value the library cannot accept; nothing was written."""


class InvalidScheduleError(SimpleAsyncTasksError, ValueError):
    """A stored schedule was refused (an unknown task type, an invalid field, a payload
    that does not fit the task class); nothing was written."""


class ScheduleNotFoundError(SimpleAsyncTasksError, LookupError):
    """No stored schedule has this name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"no stored schedule is named {name!r}: `schedules list` shows the stored ones "
            "(schedules declared in code with app.recurring are not stored, and not editable)"
        )


class QueueLimitError(SimpleAsyncTasksError, ValueError):
    """A message breaks one of the queue's limits; nothing was sent."""


class ConditionFailedError(SimpleAsyncTasksError, Generic[T]):
    """A conditional write did not happen because its condition was false.

    ``current`` is the record as stored when the condition was checked (None
    when there is no record), so the caller learns the winner without a read.
    """

    def __init__(self, current: T | None, message: str | None = None) -> None:
        self.current = current
        super().__init__(
            message
            or "the stored task did not meet the write's condition; another caller changed it "
            "first (the current record is on .current)"
        )


class MutexHeldError(SimpleAsyncTasksError):
    """The task's mutex key is held by another attempt that has not expired."""

    def __init__(self, mutex_key: str, holder: str, expires_in: timedelta) -> None:
        self.mutex_key = mutex_key
        self.holder = holder
        self.expires_in = expires_in
        super().__init__(
            f"mutex {mutex_key!r} is held by task {holder!r} for up to {expires_in}; "
            "the task will be retried later"
        )


class TaskNotFoundError(SimpleAsyncTasksError, LookupError):
    """No task is stored under a unique key (a delivered parcel's, or an operator's).

    The message names the task by type and uuid (when known), never by its unique key,
    which often holds personal data and ends up in logs; the key is on ``.unique_key``.
    """

    def __init__(
        self,
        task_type: str,
        unique_key: str,
        *,
        uuid: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.task_type = task_type
        self.unique_key = unique_key
        self.uuid = uuid
        hint = hint or (
            "enqueue tasks through with_queue_lifecycle so the record is saved before the "
            "message is sent, and check that producer and consumer use the same table"
        )
        which = f"the parcel's task {uuid}" if uuid else "the given unique key"
        super().__init__(f"no stored {task_type} task for {which}; {hint}")


class RequeueDepthExceededError(SimpleAsyncTasksError):
    """A parcel was put back on the queue more often than the limit allows."""

    def __init__(self, task_type: str, uuid: str, depth: int, limit: int) -> None:
        self.task_type = task_type
        self.uuid = uuid
        self.depth = depth
        self.limit = limit
        super().__init__(
            f"{task_type} {uuid} was put back on the queue {depth} times (limit {limit}); "
            "giving up so the message goes to the dead-letter queue. Inspect why it never became "
            "runnable (a held mutex, a stuck attempt, an execute_after far away)"
        )


class RetryLaterError(SimpleAsyncTasksError):
    """Raise from business logic to run the task again later, without a failure.

    The task goes back to QUEUED and its parcel is pushed with ``delay``; the
    attempt is not counted as failed.
    """

    def __init__(self, reason: str = "", *, delay: timedelta = timedelta(seconds=30)) -> None:
        if delay < timedelta(0):
            raise ValueError(f"RetryLaterError delay must not be negative, got {delay}")
        self.reason = reason
        self.delay = delay
        super().__init__(reason or f"retry later, in {delay}")


class LeaseLostError(SimpleAsyncTasksError):
    """The running attempt's lease was taken over (it was not renewed in time, or it ran
    past its time limit): another attempt may be running the task now, and every write
    of this attempt (its result, renewals, its mutex release) is refused.

    Raised by ``Lease.renew()`` and ``Lease.check()``; logic in a long loop calls one
    of them between steps and stops when it is raised.
    """


class TimeLimitExceededError(SimpleAsyncTasksError):
    """An attempt ran longer than its task type's ``time_limit``; it is recorded FAILED
    (and retried under the retry policy) while its thread, which Python cannot stop,
    is left to end on its own, its writes refused."""


class PayloadMismatchError(SimpleAsyncTasksError, ValueError):
    """A task was enqueued with the unique key of a stored task but other field values.

    Raised only when the enqueue asks for it (``on_mismatch="raise"``); otherwise the
    mismatch is logged at WARNING (field names only) and the stored task is returned.
    """

    def __init__(self, task_type: str, uuid: str, fields: list[str]) -> None:
        self.task_type = task_type
        self.uuid = uuid
        self.fields = fields
        super().__init__(
            f"{task_type} {uuid} is stored with the same unique key but other values of "
            f"{', '.join(fields)}; the stored task was kept. Put the fields that tell two "
            "tasks apart in `unique`, or cancel the stored task before enqueueing the new one"
        )


class InvalidEventError(SimpleAsyncTasksError, ValueError):
    """A Lambda handler was invoked with an event of the wrong kind."""


class NotStartedError(SimpleAsyncTasksError):
    """A task of a batch was claimed but not started (the Lambda ran short of time).

    It is QUEUED again and its message is reported as failed, so SQS redelivers it.
    """


class ConfigurationError(SimpleAsyncTasksError, ValueError):
    """A backend URL, an app reference or a setting is wrong; nothing was read or written."""


class BackendError(SimpleAsyncTasksError):
    """A storage or queue backend call failed. Every boto3/botocore and ``sqlite3`` error
    leaves a backend as this (or as ``ConfigurationError`` when a setting is the cause),
    with the original on ``__cause__`` and its code on ``.code``."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        self.code = code
        """The backend's own error code (``ResourceNotFoundException``, ``SQLITE_BUSY``)."""
        super().__init__(message)


class BackendUnavailableError(BackendError):
    """The backend is throttled, unreachable or locked: the same call may work later."""


class QueueSendError(BackendError):
    """Some messages could not be sent after retries; ``failed`` names them."""

    def __init__(self, message: str, *, failed: list[dict[str, object]]) -> None:
        self.failed = failed
        super().__init__(message)
