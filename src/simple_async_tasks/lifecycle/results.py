"""What one delivery of a parcel led to."""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Generic, TypeVar

import attrs

from ..task import AsyncTask

T_co = TypeVar("T_co", bound=AsyncTask, covariant=True)
R_co = TypeVar("R_co", covariant=True)

MAX_ERROR_TEXT = 4000
"""Longest error text kept on a task (the rest is cut, to bound the record size)."""


class ExecuteOutcome(str, enum.Enum):
    """What one delivery of a parcel led to."""

    EXECUTED = "EXECUTED"
    """The business logic ran and returned."""
    SKIPPED = "SKIPPED"
    """Not run: already finished, canceled, halted, or scheduled for later."""
    RETRY_LATER = "RETRY_LATER"
    """Not run now; the parcel was pushed again with a delay."""
    FAILED = "FAILED"
    """The attempt failed; the failure is recorded, and a retry pushed (``retry_in``)
    unless the caller leaves the message on the queue for redelivery."""


@attrs.frozen(kw_only=True)
class ExecuteResult(Generic[T_co, R_co]):
    """The result of one delivery."""

    task: T_co
    """The task as stored after this delivery."""
    outcome: ExecuteOutcome
    result: R_co | None = None
    """What the business logic returned (None unless EXECUTED)."""
    retry_in: timedelta | None = None
    """The delay of the parcel pushed again (RETRY_LATER and FAILED)."""


def describe_error(error: BaseException) -> str:
    """``Type: message``, cut to ``MAX_ERROR_TEXT`` characters."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 3] + "..."
