"""``simple-async-tasks schedules``: recurring schedules stored as data, and the ones in code."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
import click

from ..app import TaskApp
from ..app.views import schedule_json
from ..lifecycle.schedule_model import DETAILS, RecurringInterval, StoredSchedule
from ._common import echo_json, echo_table, fail
from .tasks import with_app

INTERVALS = [i.value for i in RecurringInterval]


@click.group()
def schedules() -> None:
    """Create, show, change, pause, resume and delete recurring schedules stored in the
    app's backend; the worker's scheduler runs them with the ones declared in code.

    \b
    Intervals (all times UTC):
      EVERY_MINUTE, EVERY_HOUR (at --minute), EVERY_DAY (at --hour:--minute),
      EVERY_WEEK (+ --day-of-week, 0 = Sunday), EVERY_MONTH (+ --day-of-month),
      EVERY_YEAR (+ --month-of-year), ONE_OFF (the first moment matching the five
      details, * for any, at or after --start-at).
    """


def _payload(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        fail(f"--payload is not JSON: {error}", 2)
    if not isinstance(value, dict):
        fail("--payload must be a JSON object of the task's fields", 2)
    return value


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        fail(f"--start-at must be an ISO 8601 time with its offset, got {text!r}", 2)


def schedule_options(command: Callable[..., None]) -> Callable[..., None]:
    """The fields of a schedule, each optional (an update changes only those given)."""
    options = [
        click.option("--job", "job_name", metavar="TASK_TYPE", help="The task type to run."),
        click.option(
            "--interval", type=click.Choice(INTERVALS, case_sensitive=False), help="How often."
        ),
        *(click.option(f"--{name.replace('_', '-')}", name, metavar="N|*") for name in DETAILS),
        click.option("--payload", metavar="JSON", help="The task's fields, but the occurrence's."),
        click.option("--creator", help="Who made it (default: your login)."),
        click.option("--start-at", metavar="ISO", help="No occurrence before it."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _echo(found: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no schedules")
        return
    rows = [
        [
            s["name"],
            s["source"],
            s["job_name"],
            s.get("recurring_interval") or "-",
            s["cron"] or s.get("every") or "-",
            "paused" if s.get("paused") else ("done" if s.get("done") else "active"),
            s.get("next_occurrence") or "-",
            s.get("creator") or "-",
        ]
        for s in found
    ]
    echo_table(
        ["NAME", "SOURCE", "TASK TYPE", "INTERVAL", "CRON", "STATE", "NEXT (UTC)", "CREATOR"],
        rows,
    )


def code_json(app: TaskApp) -> list[dict[str, Any]]:
    """The schedules declared in code (read-only here)."""
    found = []
    for schedule in app.scheduler().schedules:
        upcoming = schedule.due_occurrences(app.clock.now())
        found.append(
            {
                "source": "code",
                "name": schedule.name,
                "job_name": _task_type(schedule.dao.task_class),
                "cron": schedule.cron,
                "every": str(schedule.every) if schedule.every else None,
                "last_due": upcoming[0].isoformat() if upcoming else None,
            }
        )
    return found


def _task_type(cls: type) -> str:
    from ..definition import task_spec

    return task_spec(cls).task_type


@schedules.command(name="list")
@with_app
def list_command(*, app: TaskApp, task_type: str | None, as_json: bool) -> None:
    """The stored schedules, then the ones declared in code (read-only)."""
    stored = [schedule_json(app, s) for s in app.schedules().list()]
    found = [s for s in stored + code_json(app) if task_type in (None, s["job_name"])]
    _echo(found, as_json)


@schedules.command()
@click.argument("name")
@with_app
def show(*, name: str, app: TaskApp, task_type: str | None, as_json: bool) -> None:
    """Every field of the stored schedule NAME (exit 3 if none)."""
    shown = schedule_json(app, app.schedules().require(name))
    if as_json:
        echo_json(shown)
        return
    width = max(len(k) for k in shown)
    for key, value in shown.items():
        text = json.dumps(value) if isinstance(value, dict | list) else value
        click.echo(f"{key.ljust(width)}  {'' if text is None else text}")


def _details(given: dict[str, str | None], base: dict[str, str] | None) -> dict[str, str] | None:
    chosen = {k: v for k, v in given.items() if v is not None}
    if not chosen and base is None:
        return None
    return {**(base or {}), **chosen}


@schedules.command()
@click.argument("name")
@schedule_options
@click.option("--paused", is_flag=True, help="Store it paused.")
@with_app
def create(
    *, name: str, app: TaskApp, task_type: str | None, as_json: bool, **fields: Any
) -> None:
    """Store the schedule NAME; it is checked first (task type, details, payload against
    the task class) and nothing is stored when a check fails (exit 2)."""
    if fields["job_name"] is None or fields["interval"] is None:
        fail("create needs --job TASK_TYPE and --interval", 2)
    created = app.schedules().create(
        name,
        job_name=fields["job_name"],
        recurring_interval=fields["interval"],
        recurring_details=_details({k: fields[k] for k in DETAILS}, None),
        payload=_payload(fields["payload"]),
        creator=fields["creator"] or getpass.getuser(),
        paused=fields["paused"],
        start_at=_moment(fields["start_at"]),
    )
    _done("created", app, created, as_json)


def _done(verb: str, app: TaskApp, schedule: StoredSchedule, as_json: bool) -> None:
    if as_json:
        echo_json(schedule_json(app, schedule))
        return
    upcoming = schedule.next_occurrence(app.clock.now())
    when = f"next {upcoming.isoformat()}" if upcoming else "paused" if schedule.paused else "done"
    click.echo(f"{verb} {schedule.name}: {schedule.job_name} at {schedule.cron!r}, {when}")


@schedules.command()
@click.argument("name")
@schedule_options
@click.option("--version", "expected_version", type=int, help="Refuse if changed since then.")
@with_app
def update(
    *,
    name: str,
    app: TaskApp,
    task_type: str | None,
    as_json: bool,
    expected_version: int | None,
    **fields: Any,
) -> None:
    """Change the given fields of the stored schedule NAME (the details given are merged
    into the stored ones). With --version, a schedule changed since is refused (exit 4)."""
    book = app.schedules()
    current = book.require(name)
    changes: dict[str, Any] = {}
    details = _details({k: fields[k] for k in DETAILS}, attrs.asdict(current.recurring_details))
    if details != attrs.asdict(current.recurring_details):
        changes["recurring_details"] = details
    for option, field in (("job_name", "job_name"), ("interval", "recurring_interval")):
        if fields[option] is not None:
            changes[field] = fields[option]
    if fields["payload"] is not None:
        changes["payload"] = _payload(fields["payload"])
    if fields["creator"] is not None:
        changes["creator"] = fields["creator"]
    if fields["start_at"] is not None:
        changes["start_at"] = _moment(fields["start_at"])
    if not changes:
        fail("nothing to change: give at least one option", 2)
    updated = book.update(name, expected_version=expected_version, **changes)
    _done("updated", app, updated, as_json)


@schedules.command()
@click.argument("name")
@with_app
def pause(*, name: str, app: TaskApp, task_type: str | None, as_json: bool) -> None:
    """Stop enqueueing NAME's occurrences until `resume`."""
    _done("paused", app, app.schedules().pause(name), as_json)


@schedules.command()
@click.argument("name")
@with_app
def resume(*, name: str, app: TaskApp, task_type: str | None, as_json: bool) -> None:
    """Enqueue NAME's occurrences again, from the next one."""
    _done("resumed", app, app.schedules().resume(name), as_json)


@schedules.command()
@click.argument("name")
@with_app
def delete(*, name: str, app: TaskApp, task_type: str | None, as_json: bool) -> None:
    """Remove the stored schedule NAME (its occurrences already enqueued still run)."""
    app.schedules().delete(name)
    if as_json:
        echo_json({"deleted": name})
    else:
        click.echo(f"deleted {name}")
