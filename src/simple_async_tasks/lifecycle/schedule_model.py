"""A recurring schedule stored as data: its fields, the checks it must pass before it is
stored, and the cron expression its interval and details mean.

The model is the seed's (a Django + celery-beat CRUD): a unique ``name``, the task type to
run (``job_name``), a ``recurring_interval`` and cron-like ``recurring_details``, a
``creator`` and, beyond the seed, a ``payload``: the task's own fields, checked against
its class when the schedule is created or changed.

How an interval reads the details (all in UTC):

============  =======================================================================
EVERY_MINUTE  every minute; every detail is ``*``
EVERY_HOUR    at ``minute`` (0 when ``*``) of every hour
EVERY_DAY     at ``hour:minute`` (0:00 when ``*``) every day
EVERY_WEEK    at ``hour:minute`` on ``day_of_week`` (0 = Sunday, the default)
EVERY_MONTH   at ``hour:minute`` on ``day_of_month`` (the 1st by default)
EVERY_YEAR    at ``hour:minute`` on ``day_of_month`` of ``month_of_year`` (1 January)
ONE_OFF       once: the first moment matching the five details (``*`` for any) at or
              after ``start_at``
============  =======================================================================

A detail an interval sets is one whole number in its range (so EVERY_HOUR runs once an
hour, not every 15 minutes); a detail it does not set must be ``*``.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs
import cattrs

from ..definition import task_spec
from ..errors import InvalidScheduleError, SimpleAsyncTasksError
from ..serialization import dumps, loads, structure_task
from ..task import LIFECYCLE_FIELDS, AsyncTask

__all__ = [
    "RecurringDetails",
    "RecurringInterval",
    "StoredSchedule",
    "check_schedule",
    "occurrence_field",
]


class RecurringInterval(enum.Enum):
    """How often a stored schedule runs (see the module's table)."""

    EVERY_MINUTE = "EVERY_MINUTE"
    EVERY_HOUR = "EVERY_HOUR"
    EVERY_DAY = "EVERY_DAY"
    EVERY_WEEK = "EVERY_WEEK"
    EVERY_MONTH = "EVERY_MONTH"
    EVERY_YEAR = "EVERY_YEAR"
    ONE_OFF = "ONE_OFF"


DETAILS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
RANGES = {
    "minute": (0, 59),
    "hour": (0, 23),
    "day_of_month": (1, 31),
    "month_of_year": (1, 12),
    "day_of_week": (0, 6),
}
_SETS: dict[RecurringInterval, dict[str, str]] = {
    RecurringInterval.EVERY_MINUTE: {},
    RecurringInterval.EVERY_HOUR: {"minute": "0"},
    RecurringInterval.EVERY_DAY: {"minute": "0", "hour": "0"},
    RecurringInterval.EVERY_WEEK: {"minute": "0", "hour": "0", "day_of_week": "0"},
    RecurringInterval.EVERY_MONTH: {"minute": "0", "hour": "0", "day_of_month": "1"},
    RecurringInterval.EVERY_YEAR: {
        "minute": "0",
        "hour": "0",
        "day_of_month": "1",
        "month_of_year": "1",
    },
    RecurringInterval.ONE_OFF: {name: "*" for name in DETAILS},
}
"""The details each interval sets, with the value ``*`` stands for."""


@attrs.frozen(kw_only=True)
class RecurringDetails:
    """The five cron fields, as text: ``*`` for any, or a whole number."""

    minute: str = "*"
    hour: str = "*"
    day_of_month: str = "*"
    month_of_year: str = "*"
    day_of_week: str = "*"


@attrs.frozen(kw_only=True)
class StoredSchedule:
    """A recurring schedule kept in the backend (``ScheduleBook``)."""

    name: str
    job_name: str
    """The task type each occurrence enqueues."""
    recurring_interval: RecurringInterval
    recurring_details: RecurringDetails = RecurringDetails()
    payload: Mapping[str, object] = attrs.field(factory=dict)
    """The task's fields as JSON values, all but the occurrence field."""
    creator: str = ""
    paused: bool = False
    start_at: datetime
    """No occurrence before it; a ONE_OFF runs at the first match at or after it."""
    occurrence_field: str
    """The task field that receives each occurrence's time (a datetime in its unique key)."""
    last_occurrence: datetime | None = None
    """The latest occurrence enqueued (a ONE_OFF with one is done)."""
    created_at: datetime
    updated_at: datetime
    version: int = 0
    """The stored document's version: pass it back to ``update`` to refuse a lost update."""

    @property
    def cron(self) -> str:
        """The five-field cron expression (UTC) the interval and details mean."""
        return cron_of(self.recurring_interval, self.recurring_details)

    @property
    def done(self) -> bool:
        """A ONE_OFF that has run."""
        return (
            self.recurring_interval is RecurringInterval.ONE_OFF
            and self.last_occurrence is not None
        )

    def next_occurrence(self, now: datetime) -> datetime | None:
        """The next occurrence after ``now`` (None: paused or done)."""
        if self.paused or self.done:
            return None
        after = max(now, self.start_at - timedelta(microseconds=1))
        if self.last_occurrence is not None:
            after = max(after, self.last_occurrence)
        from .recurring import croniter_class

        found: datetime = croniter_class()(self.cron, after).get_next(datetime)
        return found

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, as the CLI and the JSON API print it."""
        return {
            "name": self.name,
            "job_name": self.job_name,
            "recurring_interval": self.recurring_interval.value,
            "recurring_details": attrs.asdict(self.recurring_details),
            "cron": self.cron,
            "payload": dict(self.payload),
            "creator": self.creator,
            "paused": self.paused,
            "start_at": self.start_at.isoformat(),
            "occurrence_field": self.occurrence_field,
            "last_occurrence": self.last_occurrence.isoformat() if self.last_occurrence else None,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], version: int) -> StoredSchedule:
        """Back from ``as_dict`` (a stored document)."""
        last = data.get("last_occurrence")
        return cls(
            name=str(data["name"]),
            job_name=str(data["job_name"]),
            recurring_interval=RecurringInterval(data["recurring_interval"]),
            recurring_details=RecurringDetails(**data["recurring_details"]),
            payload=dict(data["payload"]),
            creator=str(data.get("creator", "")),
            paused=bool(data.get("paused", False)),
            start_at=datetime.fromisoformat(data["start_at"]),
            occurrence_field=str(data["occurrence_field"]),
            last_occurrence=datetime.fromisoformat(last) if last else None,
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            version=version,
        )


def cron_of(interval: RecurringInterval, details: RecurringDetails) -> str:
    """The cron expression of ``interval`` read with ``details``.

    Raises:
        InvalidScheduleError: a detail the interval does not set is not ``*``, or one it
            sets is not a whole number in its range.
    """
    sets = _SETS[interval]
    fields = []
    for name in DETAILS:
        value = str(getattr(details, name)).strip()
        if name not in sets:
            if value != "*":
                raise InvalidScheduleError(
                    f"{interval.value} does not read {name} (it is {value!r}): set it to '*', "
                    f"or pick the interval that runs per {name.replace('_of_', ' of ')}"
                )
            fields.append("*")
            continue
        if value == "*":
            fields.append(sets[name])
            continue
        low, high = RANGES[name]
        if not value.isdigit() or not low <= int(value) <= high:
            raise InvalidScheduleError(
                f"{name} must be '*' or a whole number from {low} to {high}, got {value!r}"
            )
        fields.append(str(int(value)))
    return " ".join(fields)


def occurrence_field(task_class: type[AsyncTask]) -> str:
    """The datetime field among the class's unique fields, which each occurrence fills.

    Raises:
        InvalidScheduleError: there is none, or more than one.
    """
    spec = task_spec(task_class)
    hints = typing.get_type_hints(task_class)
    found = [name for name in spec.unique if hints.get(name) is datetime]
    if len(found) != 1:
        what = "no datetime field" if not found else f"several datetime fields ({found})"
        raise InvalidScheduleError(
            f"{spec.task_type}'s unique key has {what} to hold the occurrence, so two "
            "occurrences could not be told apart: give the class one field such as "
            "`scheduled_for: datetime` and name it in `unique`"
        )
    return found[0]


def check_schedule(
    schedule: StoredSchedule,
    task_class: Callable[[str], type[AsyncTask]],
    converter: cattrs.Converter,
) -> StoredSchedule:
    """``schedule`` with its occurrence field found, once every check passed.

    Raises:
        InvalidScheduleError: an empty or over-long name, an unknown task type, a detail
            the interval cannot read, a naive ``start_at``, or a payload that does not
            build the task class (an unknown field, a missing one, a wrong type).
    """
    name = schedule.name
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name) or "#" in name:
        raise InvalidScheduleError(
            f"a schedule name must be 1 to 200 printable characters without '#', got {name!r}"
        )
    try:
        cls = task_class(schedule.job_name)
    except SimpleAsyncTasksError as error:
        raise InvalidScheduleError(f"schedule {name!r}: {error}") from None
    cron_of(schedule.recurring_interval, schedule.recurring_details)
    if schedule.start_at.tzinfo is None:
        raise InvalidScheduleError(f"schedule {name!r}: start_at must be timezone-aware")
    field = occurrence_field(cls)
    payload = dict(schedule.payload)
    try:
        payload = loads(dumps(payload))
    except SimpleAsyncTasksError as error:
        raise InvalidScheduleError(
            f"schedule {name!r}: the payload is not JSON: {error}"
        ) from None
    known = set(task_spec(cls).business_fields)
    wrong = sorted(k for k in payload if k not in known or k == field or k in LIFECYCLE_FIELDS)
    if wrong:
        raise InvalidScheduleError(
            f"schedule {name!r}: the payload sets {wrong}, which {cls.__name__} does not take "
            f"from a schedule (its fields: {sorted(known - {field})}; {field!r} receives the "
            "occurrence)"
        )
    try:
        structure_task({**payload, field: schedule.start_at.isoformat()}, cls, converter)
    except SimpleAsyncTasksError as error:
        raise InvalidScheduleError(
            f"schedule {name!r}: the payload does not make a {cls.__name__}: {error}"
        ) from None
    return attrs.evolve(schedule, occurrence_field=field, payload=payload)
