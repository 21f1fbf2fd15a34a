"""Write conditions as data.

A backend turns a condition into one atomic check-and-write: a DynamoDB
``ConditionExpression``, an SQL ``WHERE``, a lock held in memory. Combine
conditions with ``&`` and ``|``. A condition on a field is false when there
is no record, as in DynamoDB.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from .task import AsyncTask, AsyncTaskStatus


class _Combinable:
    """Base of the conditions: immutable values with equality, a hash and a repr, built
    by hand rather than by attrs (creating 11 attrs classes cost 4 ms of every import)."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        assert isinstance(other, _Combinable)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({inner})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __and__(self, other: Condition) -> AllOf:
        return AllOf((self, other))  # type: ignore[arg-type]

    def __or__(self, other: Condition) -> AnyOf:
        return AnyOf((self, other))  # type: ignore[arg-type]


_set = object.__setattr__


class Absent(_Combinable):
    """No record is stored under the key."""

    __slots__ = ()

    def holds(self, record: AsyncTask | None) -> bool:
        return record is None


class StatusIn(_Combinable):
    """The stored status is one of ``statuses``."""

    __slots__ = ("statuses",)
    statuses: frozenset[AsyncTaskStatus]

    def __init__(self, statuses: frozenset[AsyncTaskStatus]) -> None:
        _set(self, "statuses", statuses)

    def holds(self, record: AsyncTask | None) -> bool:
        return record is not None and record.status in self.statuses


class VersionEquals(_Combinable):
    """The stored version is exactly ``version`` (optimistic concurrency)."""

    __slots__ = ("version",)
    version: int

    def __init__(self, version: int) -> None:
        _set(self, "version", version)

    def holds(self, record: AsyncTask | None) -> bool:
        return record is not None and record.version == self.version


class AttemptsEqual(_Combinable):
    """The stored attempt count is exactly ``attempts`` (still the same attempt)."""

    __slots__ = ("attempts",)
    attempts: int

    def __init__(self, attempts: int) -> None:
        _set(self, "attempts", attempts)

    def holds(self, record: AsyncTask | None) -> bool:
        return record is not None and record.attempts == self.attempts


class FailuresBelow(_Combinable):
    """The stored count of failed attempts is below ``limit`` (retry budget left)."""

    __slots__ = ("limit",)
    limit: int

    def __init__(self, limit: int) -> None:
        _set(self, "limit", limit)

    def holds(self, record: AsyncTask | None) -> bool:
        return record is not None and record.failures < self.limit


class LeaseIs(_Combinable):
    """The stored ``lease_id`` is ``lease_id``: the attempt holding it is still current."""

    __slots__ = ("lease_id",)
    lease_id: str

    def __init__(self, lease_id: str) -> None:
        _set(self, "lease_id", lease_id)

    def holds(self, record: AsyncTask | None) -> bool:
        return record is not None and record.lease_id == self.lease_id


class DueBy(_Combinable):
    """``execute_after`` is unset or not later than ``moment``."""

    __slots__ = ("moment",)
    moment: datetime

    def __init__(self, moment: datetime) -> None:
        _set(self, "moment", moment)

    def holds(self, record: AsyncTask | None) -> bool:
        if record is None:
            return False
        due = record.execute_after
        return due is None or due <= self.moment


class LeaseExpiredBy(_Combinable):
    """``lease_until`` is unset or not later than ``moment`` (the attempt's lease lapsed)."""

    __slots__ = ("moment",)
    moment: datetime

    def __init__(self, moment: datetime) -> None:
        _set(self, "moment", moment)

    def holds(self, record: AsyncTask | None) -> bool:
        if record is None:
            return False
        until = record.lease_until
        return until is None or until <= self.moment


class UpdatedBefore(_Combinable):
    """``updated_at`` is set and earlier than ``moment``."""

    __slots__ = ("moment",)
    moment: datetime

    def __init__(self, moment: datetime) -> None:
        _set(self, "moment", moment)

    def holds(self, record: AsyncTask | None) -> bool:
        return (
            record is not None
            and record.updated_at is not None
            and record.updated_at < self.moment
        )


class AllOf(_Combinable):
    """Every one of ``conditions`` holds."""

    __slots__ = ("conditions",)
    conditions: tuple[Condition, ...]

    def __init__(self, conditions: tuple[Condition, ...]) -> None:
        _set(self, "conditions", conditions)

    def holds(self, record: AsyncTask | None) -> bool:
        for condition in self.conditions:  # noqa: SIM110 (a loop is twice as fast as all())
            if not condition.holds(record):
                return False
        return True


class AnyOf(_Combinable):
    """At least one of ``conditions`` holds."""

    __slots__ = ("conditions",)
    conditions: tuple[Condition, ...]

    def __init__(self, conditions: tuple[Condition, ...]) -> None:
        _set(self, "conditions", conditions)

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
