"""How operators see a task of an app: its retry state and its JSON form, shared by the
command line and the dashboard."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..contracts import DeadLetter, MutexLock, TaskDao
from ..definition import task_spec
from ..serialization import loads, unstructure_task
from ..task import AsyncTask, AsyncTaskStatus
from .task_app import TaskApp

if TYPE_CHECKING:
    from ..lifecycle.schedule_model import StoredSchedule


def failed_for_good(app: TaskApp, task: AsyncTask) -> bool:
    """FAILED with no attempt left under its task type's retry policy."""
    if task.status is not AsyncTaskStatus.FAILED:
        return False
    options = app.options(task_spec(type(task)).task_type)
    return task.failures >= options.retry.max_attempts


def retry_state(app: TaskApp, task: AsyncTask) -> str | None:
    """For a FAILED task, whether another attempt comes: ``retry due <time>``, or
    ``failed for good`` once its task type's retry policy has no attempt left."""
    if task.status is not AsyncTaskStatus.FAILED:
        return None
    if failed_for_good(app, task):
        return "failed for good"
    due = task.execute_after
    return f"retry due {due.isoformat(timespec='seconds')}" if due else "retry due now"


def task_json(app: TaskApp, dao: TaskDao[Any], task: AsyncTask) -> dict[str, Any]:
    """A task as scripts see it: its type, unique key and retry state first, then every
    field, its result as the JSON value the logic returned."""
    fields = unstructure_task(task, app.converter)
    fields["result"] = None if task.result is None else loads(task.result)
    return {
        "task_type": task_spec(type(task)).task_type,
        "unique_key": dao.unique_key(task),
        "retry": retry_state(app, task),
        **fields,
    }


def lock_json(lock: MutexLock, now: datetime) -> dict[str, Any]:
    """A mutex lock as scripts see it: held while it has not expired."""
    return {
        "key": lock.key,
        "owner": lock.owner,
        "acquired_at": lock.acquired_at.isoformat(),
        "expires_at": lock.expires_at.isoformat(),
        "held": lock.expires_at > now,
    }


def dead_letter_json(letter: DeadLetter) -> dict[str, Any]:
    return {
        "message_id": letter.message_id,
        "task_type": letter.task_type,
        "receive_count": letter.receive_count,
        "dead_at": letter.dead_at.isoformat() if letter.dead_at else None,
        "body": letter.body,
    }


def schedule_json(app: TaskApp, schedule: StoredSchedule) -> dict[str, Any]:
    """A stored schedule with whether it is done and its next occurrence (the app's clock)."""
    upcoming = schedule.next_occurrence(app.clock.now())
    return {
        "source": "stored",
        **schedule.as_dict(),
        "done": schedule.done,
        "next_occurrence": upcoming.isoformat() if upcoming else None,
    }
