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

    def holds(self, record: AsyncTask | None) -> bool:
        return record is None


@attrs.frozen
class StatusIn(_Combinable):
    """The stored status is one of ``statuses``."""

    statuses: frozenset[AsyncTaskStatus]

    def holds(self, record: AsyncTask | None) -> bool:
        return record is not None and record.status in self.statuses


@attrs.frozen
class VersionEquals(_Combinable):
    """The stored version is exactly ``version`` (optimistic concurrency)."""

    version: int

    def holds(self, record: AsyncTask | None) -> bool:
        return record is not None and record.version == self.version


@attrs.frozen
class AttemptsEqual(_Combinable):
    """The stored attempt count is exactly ``attempts`` (still the same attempt)."""

    attempts: int

    def holds(self, record: AsyncTask | None) -> bool:
        return record is not None and record.attempts == self.attempts


@attrs.frozen
class FailuresBelow(_Combinable):
    """The stored count of failed attempts is below ``limit`` (retry budget left)."""

    limit: int

    def holds(self, record: AsyncTask | None) -> bool:
        return record is not None and record.failures < self.limit


@attrs.frozen
class LeaseIs(_Combinable):
    """The stored ``lease_id`` is ``lease_id``: the attempt holding it is still current."""

    lease_id: str

    def holds(self, record: AsyncTask | None) -> bool:
        return record is not None and record.lease_id == self.lease_id


@attrs.frozen
class DueBy(_Combinable):
    """``execute_after`` is unset or not later than ``moment``."""

    moment: datetime

    def holds(self, record: AsyncTask | None) -> bool:
        if record is None:
            return False
        due = record.execute_after
        return due is None or due <= self.moment


@attrs.frozen
class LeaseExpiredBy(_Combinable):
    """``lease_until`` is unset or not later than ``moment`` (the attempt's lease lapsed)."""

    moment: datetime

    def holds(self, record: AsyncTask | None) -> bool:
        if record is None:
            return False
        until = record.lease_until
        return until is None or until <= self.moment


@attrs.frozen
class UpdatedBefore(_Combinable):
    """``updated_at`` is set and earlier than ``moment``."""

    moment: datetime

    def holds(self, record: AsyncTask | None) -> bool:
        return (
            record is not None
            and record.updated_at is not None
            and record.updated_at < self.moment
        )


@attrs.frozen
class AllOf(_Combinable):
    """Every one of ``conditions`` holds."""

    conditions: tuple[Condition, ...]

    def holds(self, record: AsyncTask | None) -> bool:
        for condition in self.conditions:  # noqa: SIM110 (a loop is twice as fast as all())
            if not condition.holds(record):
                return False
        return True


@attrs.frozen
class AnyOf(_Combinable):
    """At least one of ``conditions`` holds."""

    conditions: tuple[Condition, ...]

    def holds(self, record: AsyncTask | None) -> bool:
        for condition in self.conditions:  # noqa: SIM110 (a loop is twice as fast as any())
            if condition.holds(record):
                return True
        return False


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
    if not isinstance(condition, _Combinable):
        raise TypeError(f"unknown condition {condition!r}")
    return condition.holds(record)
