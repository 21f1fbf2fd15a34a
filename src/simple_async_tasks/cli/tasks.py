"""``simple-async-tasks tasks``: inspect and change stored tasks."""

from __future__ import annotations

import functools
import shlex
import uuid
from collections.abc import Callable
from typing import Any

import click

from ..app import TaskApp
from ..app.views import retry_state, task_json
from ..contracts import TaskDao
from ..errors import ConfigurationError, SimpleAsyncTasksError, TaskNotFoundError
from ..lifecycle.control import cancel, delete, halt, resume, retry
from ..lifecycle.listing import count_tasks, find_task_by_uuid, list_tasks
from ..serialization import dumps
from ..task import AsyncTask, AsyncTaskStatus
from ._common import (
    EXIT_OK,
    app_option,
    backend_options,
    bind,
    echo_json,
    echo_table,
    exit_code_of,
    json_option,
    load_app,
    reports_errors,
    shorten,
)

STATUSES = [s.value for s in AsyncTaskStatus]
NOT_FOUND_HINT = "check the key (tasks list shows the stored ones) and the --backend"
type_option = click.option(
    "--type",
    "task_type",
    metavar="TASK_TYPE",
    help="The task type (the class name unless it sets task_type). Needed when the app has "
    "several types and the key alone is ambiguous.",
)


def with_app(command: Callable[..., None], *, store: bool = True) -> Callable[..., None]:
    """The options every ``tasks`` command shares (--app, --backend, --queue, --type,
    --json); the command receives the app, loaded and bound, as ``app``. With ``store``
    (the default) the store must exist: inspecting never creates one."""

    @functools.wraps(command)
    @reports_errors
    def run(
        *args: object, app_ref: str, backend_url: str | None, queue_url: str | None, **rest: Any
    ) -> None:
        app = bind(load_app(app_ref), backend_url, queue_url)
        if store:
            app.backend.require_existing()
        command(*args, app=app, **rest)

    decorated: Callable[..., None] = run
    for option in (json_option, type_option, backend_options, app_option(required=True)):
        decorated = option(decorated)
    return decorated


def _types(app: TaskApp, task_type: str | None) -> list[str]:
    if task_type is not None:
        app.task_class(task_type)  # a clear error for an unknown type
        return [task_type]
    if not app.task_types:
        raise ConfigurationError("this app has no tasks registered: nothing to show")
    return app.task_types


def _dao(app: TaskApp, task_type: str) -> TaskDao[Any]:
    return app.dao(app.task_class(task_type))


def _find(app: TaskApp, unique_key: str, task_type: str | None) -> tuple[str, TaskDao[Any]]:
    """The type and DAO of the task with this key: the given type, the only type, or the one
    type that has a task with this key."""
    types = _types(app, task_type)
    if len(types) == 1:
        return types[0], _dao(app, types[0])
    holders = [t for t in types if _dao(app, t).get(unique_key) is not None]
    if not holders:
        raise TaskNotFoundError(" or ".join(types), unique_key, hint=NOT_FOUND_HINT)
    if len(holders) > 1:
        raise ConfigurationError(
            f"tasks of {', '.join(holders)} all have the unique key {unique_key!r}: "
            "say which with --type"
        )
    return holders[0], _dao(app, holders[0])


@click.group()
def tasks() -> None:
    """Inspect and change stored tasks: counts, listings, retry, cancel, halt, resume.

    Every change is one conditional write, so an operator never races an
    executor into a double run: a running (ATTEMPTED) task cannot be
    canceled or halted under it.
    """


@tasks.command()
@click.option(
    "--all",
    "count_all",
    is_flag=True,
    help="Also count the statuses the backend does not index (DynamoDB: FULFILLED and "
    "CANCELED, by scanning the whole table, billed for every item read).",
)
@with_app
def stats(
    *,
    app: TaskApp,
    task_type: str | None,
    count_all: bool,
    as_json: bool,
) -> None:
    """How many tasks of each type are in each status."""
    statuses = tuple(AsyncTaskStatus) if count_all else None
    counts = {t: count_tasks(_dao(app, t), statuses) for t in _types(app, task_type)}
    if as_json:
        echo_json({t: {s.value: n for s, n in c.items()} for t, c in counts.items()})
        return
    rows = [
        [t, *(c.get(s, "-") for s in AsyncTaskStatus), sum(c.values())] for t, c in counts.items()
    ]
    echo_table(["TYPE", *STATUSES, "TOTAL"], rows)
    if any(len(c) < len(AsyncTaskStatus) for c in counts.values()):
        click.echo("- not indexed by this backend (TOTAL leaves it out); --all counts it")


@tasks.command(name="list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES, case_sensitive=False),
    help="Only tasks in this status (repeat for several). Default: every status.",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--cursor",
    help="Continue a listing where the previous page ended (one --type and one --status).",
)
@with_app
def list_command(
    *,
    app: TaskApp,
    task_type: str | None,
    statuses: tuple[str, ...],
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Tasks by type and status, oldest first, up to --limit per type and status.

    SCHEDULED tasks are ordered by when they are due, the others by their
    last change. The table shows the last error of failed attempts.
    """
    types = _types(app, task_type)
    wanted = [AsyncTaskStatus(s.upper()) for s in statuses] or list(AsyncTaskStatus)
    if cursor is not None and (len(types) > 1 or len(wanted) > 1):
        raise ConfigurationError(
            "--cursor continues one listing: give one --type and one --status"
        )
    found: list[dict[str, Any]] = []
    rows: list[list[object]] = []
    next_cursor: str | None = None
    for name in types:
        dao = _dao(app, name)
        for status in wanted:
            page = list_tasks(dao, status, limit=limit, cursor=cursor)
            next_cursor = page.cursor if len(types) == 1 and len(wanted) == 1 else None
            for task in page.items:
                found.append(task_json(app, dao, task))
                updated = task.updated_at.isoformat(timespec="seconds") if task.updated_at else ""
                key = dao.unique_key(task)
                error = shorten(task.last_error)
                runs = f"{task.attempts}/{task.failures}"
                state = retry_state(app, task)
                shown = f"{task.status.value} ({state})" if state else task.status.value
                rows.append([name, key, shown, runs, updated, error])
    if as_json:
        echo_json({"tasks": found, "cursor": next_cursor})
        return
    if not rows:
        click.echo("no tasks")
    else:
        columns = ["TYPE", "UNIQUE KEY", "STATUS", "RUNS/FAILED", "UPDATED", "LAST ERROR"]
        echo_table(columns, rows)
    if next_cursor is not None:
        click.echo(f"more: add --cursor {shlex.quote(next_cursor)}", err=True)


def _by_uuid(
    app: TaskApp, task_uuid: str, task_type: str | None
) -> tuple[TaskDao[Any], AsyncTask] | None:
    """The task whose uuid this is (as logs name it), scanning each type's listing."""
    try:
        uuid.UUID(task_uuid)
    except ValueError:
        return None
    for name in _types(app, task_type):
        dao = _dao(app, name)
        found = find_task_by_uuid(dao, task_uuid)
        if found is not None:
            return dao, found
    return None


@tasks.command()
@click.argument("key_or_uuid")
@with_app
def show(
    *,
    key_or_uuid: str,
    app: TaskApp,
    task_type: str | None,
    as_json: bool,
) -> None:
    """One task, every field, by its unique key or by the uuid logs name it by
    (exit 3 when there is none). A uuid is looked for in the listings of every status."""
    try:
        name, dao = _find(app, key_or_uuid, task_type)
        task = dao.get(key_or_uuid)
        if task is None:
            raise TaskNotFoundError(name, key_or_uuid, hint=NOT_FOUND_HINT)
    except TaskNotFoundError:
        found = _by_uuid(app, key_or_uuid, task_type)
        if found is None:
            raise
        dao, task = found
    data = task_json(app, dao, task)
    if as_json:
        echo_json(data)
        return
    width = max(len(k) for k in data)
    for key, value in data.items():
        text = dumps(value) if key == "result" and value is not None else value
        click.echo(f"{key.ljust(width)}  {'' if text is None else text}")


Action = Callable[[TaskApp, TaskDao[Any], str], AsyncTask]

_ACTIONS: dict[str, tuple[Action, str, str]] = {
    "retry": (
        lambda app, dao, key: retry(dao, app.queue_for(dao.task_class), key, clock=app.clock),
        "retried",
        "Put FAILED tasks back to QUEUED (attempts kept) and push them.",
    ),
    "cancel": (
        lambda app, dao, key: cancel(dao, key),
        "canceled",
        "Mark SCHEDULED, QUEUED, HALTED or FAILED tasks CANCELED: they never run; a message "
        "still on the queue is skipped.",
    ),
    "delete": (
        lambda app, dao, key: delete(dao, key),
        "deleted",
        "Delete tasks that are not running (any status but ATTEMPTED): the record goes, and a "
        "message still on the queue is skipped (a tombstone is kept 14 days).",
    ),
    "halt": (
        lambda app, dao, key: halt(dao, key),
        "halted",
        "Park SCHEDULED, QUEUED or FAILED tasks as HALTED: deliveries skip them until resumed.",
    ),
    "resume": (
        lambda app, dao, key: resume(dao, app.queue_for(dao.task_class), key, clock=app.clock),
        "resumed",
        "Make HALTED tasks QUEUED again and push them.",
    ),
}


def _run_action(
    verb: str, app: TaskApp, targets: list[tuple[str | None, str]], as_json: bool
) -> int:
    """Apply ``verb`` to each (task type or None, unique key); the worst exit code wins."""
    action, past, _ = _ACTIONS[verb]
    results: list[dict[str, Any]] = []
    code = EXIT_OK
    for task_type, key in targets:
        try:
            name, dao = _find(app, key, task_type)
            task = action(app, dao, key)
        except SimpleAsyncTasksError as error:
            code = max(code, exit_code_of(error))
            results.append({"unique_key": key, "ok": False, "error": str(error)})
            if not as_json:
                click.echo(f"error: {error}", err=True)
            continue
        results.append({"ok": True, **task_json(app, dao, task)})
        if not as_json:
            counts = f"runs {task.attempts}, failed {task.failures}"
            if verb == "delete":
                click.echo(f"{past} {name} {key} (was {task.status.value}; {counts})")
            else:
                click.echo(f"{past} {name} {key}: {task.status.value} ({counts})")
    if as_json:
        echo_json(results)
    elif not targets:
        click.echo(f"nothing to {verb}")
    return code


def _action_command(verb: str) -> click.Command:
    _, _, summary = _ACTIONS[verb]

    @click.argument("unique_keys", nargs=-1, metavar="[UNIQUE_KEY]...")
    @with_app
    def command(
        *,
        unique_keys: tuple[str, ...],
        app: TaskApp,
        task_type: str | None,
        as_json: bool,
        **extra: Any,
    ) -> None:
        targets: list[tuple[str | None, str]] = [(task_type, key) for key in unique_keys]
        if extra.get("all_failed"):
            if verb == "delete" and not extra.get("yes"):
                raise click.UsageError(
                    "delete --all-failed removes every FAILED task for good: add --yes"
                )
            for name in _types(app, task_type):
                dao = _dao(app, name)
                failed = _every(dao, AsyncTaskStatus.FAILED)
                targets.extend((name, dao.unique_key(t)) for t in failed)
        elif not targets:
            every = (
                " (or --all-failed for every FAILED task)" if verb in ("retry", "delete") else ""
            )
            raise click.UsageError(f"give the unique key of at least one task to {verb}{every}")
        click.get_current_context().exit(_run_action(verb, app, targets, as_json))

    command.__doc__ = (
        f"{summary}\n\nExit codes: 0 all done, 3 a task was not found, 4 a task's status does "
        "not allow it, 2 a usage error; the other keys are still handled."
    )
    if verb in ("retry", "delete"):
        command = click.option(
            "--all-failed",
            is_flag=True,
            help=f"{verb.capitalize()} every FAILED task (of --type, or of all).",
        )(command)
    if verb == "delete":
        command = click.option(
            "--yes", is_flag=True, help="Confirm --all-failed (it cannot be undone)."
        )(command)
    return click.command(name=verb)(command)


def _every(dao: TaskDao[Any], status: AsyncTaskStatus) -> list[AsyncTask]:
    found: list[AsyncTask] = []
    cursor: str | None = None
    while True:
        page = list_tasks(dao, status, limit=100, cursor=cursor)
        found.extend(page.items)
        cursor = page.cursor
        if cursor is None:
            return found


for _verb in _ACTIONS:
    tasks.add_command(_action_command(_verb))
