"""What the pages and the JSON API show and do, as plain data: one function per view or
action, over a ``TaskApp``. Both front ends call these, so they never disagree."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..app import TaskApp
from ..app.views import dead_letter_json, lock_json, schedule_json, task_json
from ..contracts import DeadLetterBox, indexed_statuses
from ..errors import (
    ConfigurationError,
    InvalidScheduleError,
    InvalidTaskError,
    SimpleAsyncTasksError,
    TaskNotFoundError,
)
from ..lifecycle import control
from ..lifecycle.listing import count_tasks, list_tasks, mutex_locks, queue_depth
from ..lifecycle.schedule_book import EDITABLE
from ..task import AsyncTask, AsyncTaskStatus

S = AsyncTaskStatus
ACTIONS = ("retry", "cancel", "halt", "resume", "delete")
_ALLOWED = {
    "retry": {S.FAILED},
    "cancel": {S.SCHEDULED, S.QUEUED, S.HALTED, S.FAILED},
    "halt": {S.SCHEDULED, S.QUEUED, S.FAILED},
    "resume": {S.HALTED},
    "delete": set(S) - {S.ATTEMPTED},
}
"""Which statuses each action takes (``lifecycle.control`` decides; this hides buttons)."""


def stats(app: TaskApp) -> dict[str, dict[str, int]]:
    """Counts per task type and status (the statuses each DAO counts from its index)."""
    found: dict[str, dict[str, int]] = {}
    for task_type in app.task_types:
        counts = count_tasks(app.dao(app.task_class(task_type)))
        found[task_type] = {status.value: n for status, n in counts.items()}
    return found


def task_types(app: TaskApp) -> list[dict[str, Any]]:
    return [s.as_dict() for s in app.settings()]


def statuses_of(app: TaskApp, task_type: str) -> list[str]:
    """The statuses a listing of ``task_type`` can filter on."""
    indexed = indexed_statuses(app.dao(app.task_class(task_type)))
    return [s.value for s in S if s in indexed]


def tasks(
    app: TaskApp, task_type: str, status: str, *, cursor: str | None = None, limit: int = 50
) -> dict[str, Any]:
    """One page of ``task_type``'s tasks in ``status``, oldest first, and the next cursor."""
    dao = app.dao(app.task_class(task_type))
    page = list_tasks(dao, _status(status), limit=min(max(limit, 1), 500), cursor=cursor)
    return {
        "task_type": task_type,
        "status": status,
        "tasks": [task_json(app, dao, t) for t in page.items],
        "cursor": page.cursor,
        "unreadable": [str(u) for u in page.unreadable],
    }


def task(app: TaskApp, task_type: str, unique_key: str) -> dict[str, Any]:
    """One task with its history and the actions its status allows.

    Raises:
        TaskNotFoundError: no such task.
    """
    dao = app.dao(app.task_class(task_type))
    found = dao.get(unique_key)
    if found is None:
        raise TaskNotFoundError(task_type, unique_key, hint="check the key in the task list")
    return {
        **task_json(app, dao, found),
        "history": history(found),
        "actions": [a for a in ACTIONS if found.status in _ALLOWED[a]],
    }


def history(task: AsyncTask) -> list[dict[str, Any]]:
    """What the record says happened, oldest first: created, each attempt counted, the
    last failure, the last change (a record keeps its latest state, not every step)."""
    events: list[tuple[datetime | None, str]] = [(task.created_at, "created (enqueued)")]
    # (a record keeps timestamps, some of them None before the first attempt)
    if task.attempted_at is not None:
        failed = f", {task.failures} failed" if task.failures else ""
        events.append((task.attempted_at, f"attempt {task.attempts} started{failed}"))
    if task.last_error:
        events.append((task.updated_at, f"last error: {task.last_error}"))
    if task.execute_after is not None:
        events.append((task.execute_after, "due (execute_after)"))
    events.append((task.updated_at, f"now {task.status.value} (version {task.version})"))
    known = [(at, what) for at, what in events if at is not None]
    ordered = sorted(known, key=lambda event: event[0])  # stable: ties keep their order
    return [{"at": at.isoformat(), "what": what} for at, what in ordered]


def act(app: TaskApp, task_type: str, unique_key: str, action: str) -> dict[str, Any]:
    """Apply ``action`` (retry, cancel, halt, resume, delete) to one task: one conditional
    write, as from the command line.

    Raises:
        TaskNotFoundError, InvalidTaskError: as ``lifecycle.control`` says.
    """
    cls = app.task_class(task_type)
    dao, queue = app.dao(cls), app.queue_for(cls)
    if action == "retry":
        changed = control.retry(dao, queue, unique_key, clock=app.clock)
    elif action == "resume":
        changed = control.resume(dao, queue, unique_key, clock=app.clock)
    elif action == "cancel":
        changed = control.cancel(dao, unique_key)
    elif action == "halt":
        changed = control.halt(dao, unique_key)
    elif action == "delete":
        return {"deleted": True, **task_json(app, dao, control.delete(dao, unique_key))}
    else:
        raise InvalidTaskError(f"no action {action!r}: the actions are {', '.join(ACTIONS)}")
    return task_json(app, dao, changed)


def delete_failed(app: TaskApp, task_type: str) -> dict[str, Any]:
    """Delete every FAILED task of ``task_type`` (each a conditional delete)."""
    dao = app.dao(app.task_class(task_type))
    return {"task_type": task_type, "deleted": control.delete_failed(dao)}


def locks(app: TaskApp) -> list[dict[str, Any]]:
    """The mutex locks of every task type, held or expired."""
    now = app.clock.now()
    return [
        lock_json(lock, now)
        for task_type in app.task_types
        for lock in mutex_locks(app.dao(app.task_class(task_type)))
    ]


def break_lock(app: TaskApp, key: str, *, force: bool) -> dict[str, Any]:
    """Remove the lock ``key`` (``TaskType#value``); a live one only with ``force``.
    ``broken`` says whether there was one.

    Raises:
        MutexHeldError: the lock is live and ``force`` is not set.
    """
    task_type = key.split("#", 1)[0]
    dao = app.dao(app.task_class(task_type))
    removed = control.break_lock(dao, key, force=force, clock=app.clock)
    owner = removed.owner if removed is not None else None
    return {"key": key, "owner": owner, "broken": removed is not None}


def queues(app: TaskApp) -> list[dict[str, Any]]:
    """Each queue of the app with its depth (or why it has none)."""
    found = []
    for name in app.queue_names() or ["default"]:
        queue = app.backend.named_queue(name)
        row: dict[str, Any] = {"name": name, "queue": queue.queue_url}
        try:
            depth = queue_depth(queue)
        except SimpleAsyncTasksError as error:
            row["error"] = str(error)
        else:
            row.update(
                visible=depth.visible,
                in_flight=depth.in_flight,
                delayed=depth.delayed,
                dead=depth.dead,
                exact=depth.exact,
            )
        found.append(row)
    return found


def purge(app: TaskApp, name: str) -> dict[str, Any]:
    return {"queue": name, "purged": control.purge_queue(app.backend.named_queue(name))}


def _boxes(app: TaskApp) -> tuple[list[tuple[str, DeadLetterBox]], list[dict[str, str]]]:
    """Each queue's dead letters, and the queues that have none to show, with why (memory
    keeps none; an SQS queue without a redrive policy has no dead-letter queue)."""
    boxes, unavailable = [], []
    for name in app.queue_names() or ["default"]:
        try:
            boxes.append((name, app.backend.dead_letters(name)))
        except ConfigurationError as error:
            unavailable.append({"queue": name, "reason": str(error)})
    return boxes, unavailable


def dead_letters(app: TaskApp, limit: int = 100) -> dict[str, Any]:
    """Up to ``limit`` dead letters per queue, and the queues that have none to show."""
    boxes, unavailable = _boxes(app)
    found = []
    for name, box in boxes:
        try:
            letters = box.list(limit)
        except ConfigurationError as error:  # found out on the first call (SQS)
            unavailable.append({"queue": name, "reason": str(error)})
            continue
        for letter in letters:
            found.append({"queue": name, "location": box.location, **dead_letter_json(letter)})
    return {"letters": found, "unavailable": unavailable}


def redrive(app: TaskApp, limit: int | None = None) -> dict[str, Any]:
    """Move every queue's dead letters back to it (the queues that have some)."""
    boxes, _ = _boxes(app)
    return {"redriven": sum(box.redrive(limit) for _, box in boxes)}


def workers(app: TaskApp) -> list[dict[str, Any]]:
    return [w.as_dict() for w in app.registry().workers()]


def schedules(app: TaskApp) -> list[dict[str, Any]]:
    return [schedule_json(app, s) for s in app.schedules().list()]


def schedule(app: TaskApp, name: str) -> dict[str, Any]:
    return schedule_json(app, app.schedules().require(name))


def schedule_fields(given: Mapping[str, Any]) -> dict[str, Any]:
    """The schedule fields of a request body (JSON or a form, already parsed)."""
    fields = {k: given[k] for k in EDITABLE if k in given}
    if isinstance(fields.get("start_at"), str):
        try:
            fields["start_at"] = datetime.fromisoformat(fields["start_at"])
        except ValueError:
            raise InvalidScheduleError(
                f"start_at must be an ISO 8601 time with its offset, got {fields['start_at']!r}"
            ) from None
    return fields


def _status(text: str) -> AsyncTaskStatus:
    try:
        return S(text.upper())
    except ValueError:
        raise InvalidTaskError(
            f"no status {text!r}: one of {', '.join(s.value for s in S)}"
        ) from None
