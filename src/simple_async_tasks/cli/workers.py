"""``simple-async-tasks workers``: who is alive, what each runs, and cleaning the dead."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from ..app import TaskApp
from ..lifecycle.workers import DEAD_AFTER
from ._common import echo_json, echo_table
from .tasks import with_app

dead_after_option = click.option(
    "--dead-after",
    type=click.FloatRange(min=1),
    default=DEAD_AFTER.total_seconds(),
    show_default=True,
    help="Seconds of silence after which a worker counts as dead (a worker beats every 10).",
)


@click.group()
def workers() -> None:
    """The worker registry: each worker writes a heartbeat every 10 seconds (who, where,
    since when, what it runs) to the app's store, and removes it when it stops.

    A worker silent for --dead-after is dead: its row stays an hour (so you can see what it
    was running), then goes. Its tasks need nothing: their leases lapse and the next
    delivery of their messages takes them over.
    """


def _echo(found: list[Any], as_json: bool, empty: str) -> None:
    if as_json:
        echo_json([w.as_dict() for w in found])
        return
    if not found:
        click.echo(empty)
        return
    rows = [
        [
            w.worker_id,
            "alive" if w.alive else "DEAD",
            w.kind,
            w.last_seen.isoformat(timespec="seconds"),
            w.started_at.isoformat(timespec="seconds"),
            ", ".join(w.running) or "-",
        ]
        for w in found
    ]
    echo_table(["WORKER", "STATE", "KIND", "LAST SEEN", "STARTED", "RUNNING"], rows)


@workers.command(name="list")
@dead_after_option
@with_app
def list_command(*, dead_after: float, app: TaskApp, task_type: str | None, as_json: bool) -> None:
    """Every worker with a row, alive or dead, and what it runs."""
    registry = app.registry(dead_after=timedelta(seconds=dead_after))
    _echo(registry.workers(), as_json, "no workers")


@workers.command(name="reap")
@dead_after_option
@with_app
def reap_command(*, dead_after: float, app: TaskApp, task_type: str | None, as_json: bool) -> None:
    """Remove the rows of the dead workers now (they go by themselves after an hour)."""
    registry = app.registry(dead_after=timedelta(seconds=dead_after))
    removed = registry.reap()
    if as_json or not removed:
        _echo(removed, as_json, "no dead workers")
        return
    for worker in removed:
        held = f"; it was running {', '.join(worker.running)}" if worker.running else ""
        click.echo(f"removed {worker.worker_id} (last seen {worker.last_seen.isoformat()}){held}")
