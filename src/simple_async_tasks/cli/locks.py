"""``simple-async-tasks locks``: the mutex locks tasks hold (and breaking a stuck one)."""

from __future__ import annotations

import click

from ..app import TaskApp
from ..app.views import lock_json
from ..lifecycle.control import break_lock
from ..lifecycle.listing import mutex_locks
from ._common import EXIT_NOT_FOUND, echo_json, echo_table, fail
from .tasks import _dao, _types, with_app


@click.group()
def locks() -> None:
    """List the mutex locks of an app's task types, and break a stuck one.

    A lock is held by one attempt of a task whose class sets ``mutex``, until the
    attempt ends or its lease (plus clock_skew) expires; an expired lock is free
    and taken by the next claim, so breaking is rarely needed.
    """


@locks.command(name="list")
@with_app
def list_command(*, app: TaskApp, task_type: str | None, as_json: bool) -> None:
    """The locks stored for each task type, held or expired (on DynamoDB a filtered
    Scan of the table: billed for every item read)."""
    now = app.clock.now()
    found = [
        lock_json(lock, now) for t in _types(app, task_type) for lock in mutex_locks(_dao(app, t))
    ]
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no locks")
        return
    rows = [
        [f["key"], f["owner"], f["expires_at"], "held" if f["held"] else "expired"] for f in found
    ]
    echo_table(["KEY", "OWNER (LEASE ID)", "EXPIRES", "STATE"], rows)


@locks.command(name="break")
@click.argument("key")
@click.option(
    "--force",
    is_flag=True,
    help="Break a live lock too: another task of the same mutex may then run beside the "
    "attempt that holds it.",
)
@with_app
def break_command(
    *, key: str, force: bool, app: TaskApp, task_type: str | None, as_json: bool
) -> None:
    """Remove the lock KEY (TaskType#value, as `locks list` shows it). A live lock is
    refused (exit 4) unless --force; no such lock exits 3."""
    name = task_type or key.split("#", 1)[0]
    removed = break_lock(_dao(app, name), key, force=force, clock=app.clock)
    if removed is None:
        fail(f"no lock {key!r} is stored: `locks list` shows the stored ones", EXIT_NOT_FOUND)
    if as_json:
        echo_json(lock_json(removed, app.clock.now()))
    else:
        click.echo(f"broke {key} (held by {removed.owner} until {removed.expires_at.isoformat()})")
