"""Write conditions as data.

A backend turns a condition into one atomic check-and-write: a DynamoDB
``ConditionExpression``, an SQL ``WHERE``, a lock held in memory. Combine
conditions with ``&`` and ``|``. A condition on a field is false when there
is no record, as in DynamoDB.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from .task import AsyncTask, AsyncTaskStatus


class _Combinable:
    def __and__(self, other: Condition) -> AllOf:
        return AllOf((self, other))  # type: ignore[arg-type]

    def __or__(self, other: Condition) -> AnyOf:
        return AnyOf((self, other))  # type: ignore[arg-type]


@attrs.frozen
class Absent(_Combinable):
    """No record is stored under the key."""


@attrs.frozen
class StatusIn(_Combinable):
    """The stored status is one of ``statuses``."""

    statuses: frozenset[AsyncTaskStatus]


@attrs.frozen
class VersionEquals(_Combinable):
    """The stored version is exactly ``version`` (optimistic concurrency)."""

    version: int


@attrs.frozen
class AttemptsEqual(_Combinable):
    """The stored attempt count is exactly ``attempts`` (still the same attempt)."""

    attempts: int


@attrs.frozen
class FailuresBelow(_Combinable):
    """The stored count of failed attempts is below ``limit`` (retry budget left)."""

    limit: int


@attrs.frozen
class LeaseIs(_Combinable):
    """The stored ``lease_id`` is ``lease_id``: the attempt holding it is still current."""

    lease_id: str


@attrs.frozen
class DueBy(_Combinable):
    """``execute_after`` is unset or not later than ``moment``."""

    moment: datetime


@attrs.frozen
class LeaseExpiredBy(_Combinable):
    """``lease_until`` is unset or not later than ``moment`` (the attempt's lease lapsed)."""

    moment: datetime


@attrs.frozen
class UpdatedBefore(_Combinable):
    """``updated_at`` is set and earlier than ``moment``."""

    moment: datetime


@attrs.frozen
class AllOf(_Combinable):
    """Every one of ``conditions`` holds."""

    conditions: tuple[Condition, ...]


@attrs.frozen
class AnyOf(_Combinable):
    """At least one of ``conditions`` holds."""

    conditions: tuple[Condition, ...]


Condition = (
    Absent
    | StatusIn
    | VersionEquals
    | AttemptsEqual
    | FailuresBelow
    | LeaseIs
    | DueBy
    | LeaseExpiredBy
    | UpdatedBefore
    | AllOf
    | AnyOf
)


def absent() -> Absent:
    return Absent()


def status_in(*statuses: AsyncTaskStatus | Iterable[AsyncTaskStatus]) -> StatusIn:
    flat: set[AsyncTaskStatus] = set()
    for s in statuses:
        if isinstance(s, AsyncTaskStatus):
            flat.add(s)
        else:
            flat.update(s)
    return StatusIn(frozenset(flat))


def evaluate(condition: Condition, record: AsyncTask | None) -> bool:
    """Whether ``condition`` holds for ``record`` (None: nothing stored).

    The reference semantics every backend must match.
    """
    if isinstance(condition, Absent):
        return record is None
    if isinstance(condition, AllOf):
        return all(evaluate(c, record) for c in condition.conditions)
    if isinstance(condition, AnyOf):
        return any(evaluate(c, record) for c in condition.conditions)
    if record is None:
        return False
    if isinstance(condition, StatusIn):
        return record.status in condition.statuses
    if isinstance(condition, VersionEquals):
        return record.version == condition.version
    if isinstance(condition, AttemptsEqual):
        return record.attempts == condition.attempts
    if isinstance(condition, FailuresBelow):
        return record.failures < condition.limit
    if isinstance(condition, LeaseIs):
        return record.lease_id == condition.lease_id
    if isinstance(condition, DueBy):
        return record.execute_after is None or record.execute_after <= condition.moment
    if isinstance(condition, LeaseExpiredBy):
        return record.lease_until is None or record.lease_until <= condition.moment
    if isinstance(condition, UpdatedBefore):
        return record.updated_at is not None and record.updated_at < condition.moment
    raise TypeError(f"unknown condition {condition!r}")
