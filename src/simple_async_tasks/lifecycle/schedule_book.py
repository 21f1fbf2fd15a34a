"""``ScheduleBook``: recurring schedules stored in the backend, created, read, updated,
paused and deleted at run time, and run by the scheduler beside the ones declared in code.

Each schedule is a document (``DocumentStore``, kind ``schedule``). A change is one write
fenced by the version read, so two operators never lose each other's edit. Running is
safe with any number of schedulers: an occurrence is a task whose unique key holds the
occurrence's time, so a second enqueue of it is a duplicate, and the schedule records
its latest occurrence so that a task deleted later (or expired by retention) is not
enqueued again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs
import cattrs

from ..clock import Clock, system_clock
from ..contracts import DocumentStore, TaskDao, TaskQueue
from ..errors import ConditionFailedError, InvalidScheduleError, ScheduleNotFoundError
from ..serialization import default_converter, structure_task
from ..task import AsyncTask
from .recurring import RecurringSchedule
from .schedule_model import (
    RecurringDetails,
    RecurringInterval,
    StoredSchedule,
    check_schedule,
)

__all__ = ["EDITABLE", "SCHEDULE_KIND", "ScheduleBook"]

logger = logging.getLogger("simple_async_tasks.scheduler")

SCHEDULE_KIND = "schedule"
_ONCE = timedelta(days=365 * 1000)
"""The interval that makes a ``RecurringSchedule`` of a ONE_OFF's single occurrence."""
EDITABLE = (
    "job_name",
    "recurring_interval",
    "recurring_details",
    "payload",
    "creator",
    "paused",
    "start_at",
)
"""The fields of a stored schedule that ``update`` changes (the name is its identity)."""


class ScheduleBook:
    """The stored schedules of one app (``TaskApp.schedules()``)."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        task_class: Callable[[str], type[AsyncTask]],
        dao: Callable[[type[AsyncTask]], TaskDao[Any]],
        queue: Callable[[type[AsyncTask]], TaskQueue[Any]],
        reserved: frozenset[str] = frozenset(),
        clock: Clock = system_clock,
        converter: cattrs.Converter = default_converter,
    ) -> None:
        self.store = store
        self._task_class = task_class
        self._dao = dao
        self._queue = queue
        self.reserved = reserved
        """Names of the schedules declared in code: a stored one may not take them."""
        self.clock = clock
        self.converter = converter

    # -- reading ---------------------------------------------------------------------------

    def get(self, name: str) -> StoredSchedule | None:
        document = self.store.get_document(SCHEDULE_KIND, name)
        if document is None:
            return None
        return StoredSchedule.from_dict(document.data, document.version)

    def require(self, name: str) -> StoredSchedule:
        found = self.get(name)
        if found is None:
            raise ScheduleNotFoundError(name)
        return found

    def list(self) -> list[StoredSchedule]:
        """Every stored schedule, by name."""
        return [
            StoredSchedule.from_dict(d.data, d.version)
            for d in self.store.list_documents(SCHEDULE_KIND)
        ]

    # -- changing --------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        job_name: str,
        recurring_interval: RecurringInterval | str,
        recurring_details: RecurringDetails | Mapping[str, str] | None = None,
        payload: Mapping[str, object] | None = None,
        creator: str = "",
        paused: bool = False,
        start_at: datetime | None = None,
    ) -> StoredSchedule:
        """Check and store a new schedule; nothing is stored when a check fails.

        Raises:
            InvalidScheduleError: a bad schedule (see ``check_schedule``), or the name is
                taken (by a stored schedule or one declared in code).
        """
        now = self.clock.now()
        if name in self.reserved:
            raise InvalidScheduleError(
                f"a schedule named {name!r} is declared in code (app.recurring): pick another"
            )
        schedule = self._checked(
            StoredSchedule(
                name=name,
                job_name=job_name,
                recurring_interval=_interval(recurring_interval),
                recurring_details=_details(recurring_details),
                payload=dict(payload or {}),
                creator=creator,
                paused=paused,
                start_at=start_at or now,
                occurrence_field="",
                created_at=now,
                updated_at=now,
            )
        )
        try:
            return self._put(schedule, expected_version=0)
        except ConditionFailedError:
            raise InvalidScheduleError(
                f"a schedule named {name!r} exists already: update it, or pick another name"
            ) from None

    def update(
        self, name: str, /, *, expected_version: int | None = None, **changes: object
    ) -> StoredSchedule:
        """Change the named fields (``job_name``, ``recurring_interval``,
        ``recurring_details``, ``payload``, ``creator``, ``paused``, ``start_at``).

        With ``expected_version`` (the ``version`` you read), a schedule changed since is
        refused with ``ConditionFailedError``; without it, the change applies to the
        schedule as it is now.

        Raises:
            ScheduleNotFoundError: no such schedule.
            InvalidScheduleError: an unknown field, or the changed schedule fails a check.
        """
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise InvalidScheduleError(
                f"cannot change {unknown} of a schedule; the fields that change: "
                f"{sorted(EDITABLE)}"
            )
        current = self.require(name)
        typed: dict[str, Any] = {key: _typed(key, value) for key, value in changes.items()}
        changed = self._checked(attrs.evolve(current, updated_at=self.clock.now(), **typed))
        version = current.version if expected_version is None else expected_version
        return self._put(changed, expected_version=version)

    def pause(self, name: str) -> StoredSchedule:
        """Stop enqueueing occurrences until ``resume``."""
        return self.update(name, paused=True)

    def resume(self, name: str) -> StoredSchedule:
        """Enqueue occurrences again, from the next one (missed ones are not caught up)."""
        current = self.require(name)
        return self._put(
            attrs.evolve(
                current,
                paused=False,
                updated_at=self.clock.now(),
                start_at=max(current.start_at, self.clock.now()),
            ),
            expected_version=current.version,
        )

    def delete(self, name: str) -> None:
        """Remove the schedule; its occurrences already enqueued still run.

        Raises:
            ScheduleNotFoundError: no such schedule.
        """
        current = self.require(name)
        if not self.store.delete_document(SCHEDULE_KIND, name, expected_version=current.version):
            raise ScheduleNotFoundError(name)

    def _checked(self, schedule: StoredSchedule) -> StoredSchedule:
        return check_schedule(schedule, self._task_class, self.converter)

    def _put(self, schedule: StoredSchedule, *, expected_version: int) -> StoredSchedule:
        data = schedule.as_dict()
        data.pop("version")
        data.pop("cron")
        document = self.store.put_document(
            SCHEDULE_KIND, schedule.name, data, expected_version=expected_version
        )
        return attrs.evolve(schedule, version=document.version)

    # -- running ---------------------------------------------------------------------------

    def run_due(self, now: datetime | None = None) -> int:
        """Enqueue the due occurrence of every active schedule; return how many tasks this
        call enqueued. A schedule that cannot run (its task type was removed from the app)
        is logged and skipped; the others run."""
        now = now or self.clock.now()
        enqueued = 0
        for schedule in self.list():
            if schedule.paused or schedule.done:
                continue
            try:
                enqueued += self._run(schedule, now)
            except (InvalidScheduleError, ConditionFailedError) as error:
                logger.warning("stored schedule %r skipped: %s", schedule.name, error)
        return enqueued

    def _recurring(self, schedule: StoredSchedule) -> RecurringSchedule[Any]:
        cls = self._task_class(schedule.job_name)
        field, payload = schedule.occurrence_field, dict(schedule.payload)

        def get_new(moment: datetime) -> AsyncTask:
            return structure_task({**payload, field: moment.isoformat()}, cls, self.converter)

        start = schedule.start_at
        if schedule.last_occurrence is not None:
            start = max(start, schedule.last_occurrence + timedelta(microseconds=1))
        one_off = schedule.recurring_interval is RecurringInterval.ONE_OFF
        if one_off:  # its single occurrence: the first match at or after start_at
            first = schedule.next_occurrence(start - timedelta(microseconds=1))
            assert first is not None
            start = first
        return RecurringSchedule(
            name=schedule.name,
            get_new=get_new,
            dao=self._dao(cls),
            queue=self._queue(cls),
            cron=None if one_off else schedule.cron,
            every=_ONCE if one_off else None,
            start_at=start,
            catch_up=1,
            max_lateness=None,
            clock=self.clock,
            converter=self.converter,
        )

    def _run(self, schedule: StoredSchedule, now: datetime) -> int:
        recurring = self._recurring(schedule)
        due = recurring.due_occurrences(now)
        if not due:
            return 0
        enqueued = len(recurring.run(now))
        # the next run starts after it, even if its task is deleted later; a lost write means
        # another scheduler recorded it, or an operator edited the schedule meanwhile
        with contextlib.suppress(ConditionFailedError):
            self._put(
                attrs.evolve(schedule, last_occurrence=due[0]),
                expected_version=schedule.version,
            )
        return enqueued


_TYPES: dict[str, type | tuple[type, ...]] = {
    "job_name": str,
    "creator": str,
    "paused": bool,
    "start_at": datetime,
    "payload": Mapping,
}


def _typed(key: str, value: object) -> object:
    """A changed field's value, checked (and converted from text for the two enums)."""
    if key == "recurring_interval":
        return _interval(value)
    if key == "recurring_details":
        return _details(value)
    if not isinstance(value, _TYPES[key]):
        raise InvalidScheduleError(f"{key} must be a {_TYPES[key]}, got {value!r}")
    return dict(value) if isinstance(value, Mapping) else value


def _interval(value: object) -> RecurringInterval:
    if isinstance(value, RecurringInterval):
        return value
    try:
        return RecurringInterval(str(value).upper())
    except ValueError:
        choices = ", ".join(i.value for i in RecurringInterval)
        raise InvalidScheduleError(
            f"recurring_interval must be one of {choices}, got {value!r}"
        ) from None


def _details(value: object) -> RecurringDetails:
    if value is None:
        return RecurringDetails()
    if isinstance(value, RecurringDetails):
        return value
    if not isinstance(value, Mapping):
        raise InvalidScheduleError(f"recurring_details must be a mapping, got {value!r}")
    unknown = sorted(set(value) - {f.name for f in attrs.fields(RecurringDetails)})
    if unknown:
        raise InvalidScheduleError(
            f"recurring_details has no {unknown}: its fields are minute, hour, day_of_month, "
            "month_of_year, day_of_week"
        )
    return RecurringDetails(**{k: str(v) for k, v in value.items()})
