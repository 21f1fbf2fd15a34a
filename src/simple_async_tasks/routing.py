"""Routing a message body to the executor of its task type."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from .errors import SimpleAsyncTasksError, TaskDefinitionError, UnknownTaskTypeError
from .lifecycle.lease import KeepAlive
from .lifecycle.options import OnFailure
from .lifecycle.results import ExecuteOutcome
from .parcel import RawParcel, parse_parcel
from .task import AsyncTask, AsyncTaskStatus


class ExecuteResultLike(Protocol):
    """What a router needs of an execute result."""

    @property
    def task(self) -> AsyncTask: ...

    @property
    def outcome(self) -> ExecuteOutcome: ...


class RawExecutor(Protocol):
    """An executor that can run a parsed parcel (``TaskExecutor`` is one)."""

    @property
    def task_type(self) -> str: ...

    def execute_raw(
        self,
        raw: RawParcel,
        *,
        on_failure: OnFailure = ...,
        keep_alive: KeepAlive | None = None,
    ) -> ExecuteResultLike: ...

    def execute_many_raw(
        self,
        raws: Sequence[RawParcel],
        *,
        on_failure: OnFailure = ...,
        keep_alive: Sequence[KeepAlive | None] | None = None,
        max_workers: int = 1,
        may_start: Callable[[], bool] = ...,
    ) -> Sequence[ExecuteResultLike | Exception]: ...


Executors = RawExecutor | Iterable[RawExecutor] | Mapping[str, RawExecutor]
"""One executor, several (routed by their task types), or a mapping from task type."""


class Router:
    """Finds the executor for a message body: by ``meta.taskType``, else by source queue."""

    def __init__(
        self,
        executors: Executors,
        *,
        by_source: Mapping[str, RawExecutor] | None = None,
    ) -> None:
        table: dict[str, RawExecutor] = {}
        if isinstance(executors, Mapping):
            table.update((str(key), ex) for key, ex in executors.items())
        elif isinstance(executors, Iterable):
            for ex in executors:
                if ex.task_type in table:
                    raise TaskDefinitionError(
                        f"two executors handle task type {ex.task_type!r}; register one per type"
                    )
                table[ex.task_type] = ex
        else:
            table[executors.task_type] = executors
        if not table and not by_source:
            raise TaskDefinitionError("no executors given; pass at least one executor")
        self.by_type = table
        self.by_source: dict[str, RawExecutor] = dict(by_source or {})

    def route(
        self, body: str | bytes, *, source: str | None = None
    ) -> tuple[RawExecutor, RawParcel]:
        """Parse ``body`` and pick its executor.

        Raises:
            ParcelDecodeError: the body is not a parcel.
            UnknownTaskTypeError: no executor for its task type (or its source queue).
        """
        raw = parse_parcel(body)
        task_type = raw.meta.task_type
        if task_type is not None:
            found = self.by_type.get(task_type)
        else:
            found = self.by_source.get(source or "")
            if found is None and len(self.by_type) == 1:
                found = next(iter(self.by_type.values()))
        if found is None:
            raise UnknownTaskTypeError(task_type, list(self.by_type))
        return found, raw


def flush_hooks(router: Router, logger: logging.Logger) -> None:
    """Flush the hooks of the router's executors that buffer (``EmfMetrics``), each once:
    what the Lambda handler does after each invocation and the worker every minute."""
    seen: set[int] = set()
    for executor in [*router.by_type.values(), *router.by_source.values()]:
        for hook in getattr(getattr(executor, "hooks", None), "hooks", ()):
            flush = getattr(hook, "flush", None)
            if flush is None or id(hook) in seen:
                continue
            seen.add(id(hook))
            try:
                flush()
            except Exception as error:  # metrics never fail a delivery
                logger.warning("could not flush %s: %s", type(hook).__name__, error)


def failure_reason(error: Exception) -> str:
    """What to log about a failure: library errors in full, other errors by type only
    (their messages may carry task data; the record keeps them in ``last_error``)."""
    if isinstance(error, SimpleAsyncTasksError):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__


def backoff_of(outcome: ExecuteResultLike | Exception | None, now: datetime) -> timedelta | None:
    """How long a failed task waits for its next attempt (its backoff), if it has one: a
    message left on the queue should stay hidden that long, not its visibility timeout."""
    if outcome is None or isinstance(outcome, Exception):
        return None  # a bad body or a backend error: the visibility timeout decides
    task = outcome.task
    if task.status is not AsyncTaskStatus.FAILED or task.execute_after is None:
        return None
    return max(task.execute_after - now, timedelta(0))


def settle(
    message_id: str,
    executor: RawExecutor,
    outcome: ExecuteResultLike | Exception,
    logger: logging.Logger,
) -> bool:
    """Log one outcome; True if its message may be deleted.

    A failed attempt leaves the message on the queue: SQS redelivers it after
    its visibility timeout (the task's backoff still applies: an early
    redelivery is put back until due), and the redrive policy sends it to the
    dead-letter queue after maxReceiveCount receives.
    """
    if isinstance(outcome, Exception):
        logger.warning("message %s failed: %s", message_id, failure_reason(outcome))
        return False
    logger.info(
        "message %s: %s %s %s -> %s",
        message_id,
        executor.task_type,
        outcome.task.uuid,
        outcome.outcome.value,
        outcome.task.status.value,
    )
    return outcome.outcome is not ExecuteOutcome.FAILED
