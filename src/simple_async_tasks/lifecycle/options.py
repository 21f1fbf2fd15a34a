"""The settings of a task type's execution, in one value (``ExecuteOptions``), and the one
decision a caller of an executor makes (``OnFailure``)."""

from __future__ import annotations

import enum
from datetime import timedelta

import attrs

from ._validators import must
from .retry import RetryPolicy

_ZERO = timedelta(0)
_positive = must(timedelta, lambda v: v > _ZERO, "be positive")
_not_negative = must(timedelta, lambda v: v >= _ZERO, "not be negative")
_depth = must(int, lambda v: v >= 0, "be >= 0")
MAX_RESULT_LIMIT = 350 * 1024
"""The largest ``max_result_bytes``: a DynamoDB item holds 400 KB, the task included."""
_result_bytes = must(int, lambda v: 0 < v <= MAX_RESULT_LIMIT, f"be in 1..{MAX_RESULT_LIMIT}")


def _positive_or_none(
    instance: object, attribute: attrs.Attribute[timedelta | None], value: timedelta | None
) -> None:
    if value is not None:
        _positive(instance, attribute, value)  # type: ignore[arg-type]


@attrs.frozen(kw_only=True)
class ExecuteOptions:
    """How the attempts of one task type run; every entry point takes this one value.

    ``with_execute_lifecycle(logic, dao=..., queue=..., options=ExecuteOptions(...))``
    and ``@app.task(Cls, options=ExecuteOptions(...))``.
    """

    lease: timedelta = attrs.field(default=timedelta(seconds=60), validator=_positive)
    """How long a claim holds the task without a renewal. The executor renews it every
    ``lease / 3`` while the logic runs, so a slow but alive attempt keeps it; an attempt
    whose runner died is taken over once its lease (plus ``clock_skew``) has lapsed."""
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    """Backoff between failed attempts, and how many failures end the task FAILED."""
    clock_skew: timedelta = attrs.field(default=timedelta(0), validator=_not_negative)
    """A margin added to every lease and mutex lock before another worker may take it
    over: set it to the largest difference you expect between two workers' clocks
    beyond ``2 * lease / 3`` (see docs/concepts.md, "Clock skew")."""
    time_limit: timedelta | None = attrs.field(default=None, validator=_positive_or_none)
    """A hard limit on one attempt: past it the executor stops waiting for the logic,
    records the attempt FAILED (a failure, retried under ``retry``) and refuses the
    late attempt's writes. None: no limit, the lease keeps a live attempt alive."""
    max_requeue_depth: int = attrs.field(default=100, validator=_depth)
    """How often one parcel may be put back (retry later, mutex held, not due) before
    the delivery raises ``RequeueDepthExceededError`` so it can dead-letter."""
    mutex_retry_delay: timedelta = attrs.field(
        default=timedelta(seconds=10), validator=_not_negative
    )
    """The longest wait before trying again a task whose mutex is held."""
    keep_result: bool = True
    """Keep what the logic returns on the FULFILLED record (as JSON, through the
    converter), for ``TaskFunction.result`` and ``tasks show``. Turn it off for results
    that are large, private or of no use later."""
    max_result_bytes: int = attrs.field(default=64 * 1024, validator=_result_bytes)
    """The longest result kept, in bytes of JSON, checked before the write: a longer one
    is not kept (logged as an error; the task is FULFILLED all the same)."""


class OnFailure(enum.Enum):
    """Who brings a failed attempt back: the one decision a caller of an executor makes."""

    PUSH_RETRY = "push-retry"
    """The executor pushes a copy of the parcel, delayed by the backoff (in-process
    queues, ``drain``, direct calls)."""
    LEAVE_MESSAGE = "leave-message"
    """The caller leaves its message on its queue, which redelivers it (the Lambda
    handler and the worker), so the queue's redrive policy applies."""
