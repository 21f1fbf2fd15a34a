"""``simple-async-tasks queue``: the queue itself (how many messages it holds; purge)."""

from __future__ import annotations

import attrs
import click

from ..app.urls import DEFAULT_QUEUE
from ..lifecycle.control import purge_queue
from ..lifecycle.listing import queue_depth
from ._common import (
    EXIT_USAGE,
    app_option,
    backend_options,
    echo_json,
    fail,
    json_option,
    load_app,
    open_backend,
    reports_errors,
)


@click.group()
def queue() -> None:
    """Look at the app's queue. The backend comes from --backend/--queue, else from
    --app, else from the environment, else sqlite:///tasks.db."""


name_option = click.option(
    "--name",
    "names",
    multiple=True,
    metavar="NAME",
    help="A named queue of the app (@app.task(..., queue=NAME)); repeat for several. "
    "Default: depth shows every queue of --app, purge the default one.",
)


@queue.command()
@app_option(required=False)
@backend_options
@name_option
@json_option
@reports_errors
def depth(
    *,
    app_ref: str | None,
    backend_url: str | None,
    queue_url: str | None,
    names: tuple[str, ...],
    as_json: bool,
) -> None:
    """How many messages each queue holds: visible (ready now), in flight (received and
    running, or hidden for a retry's backoff), delayed (sent with a delay not yet past)
    and, on SQLite, dead letters. Exact on SQLite; SQS's counts are approximate."""
    app = load_app(app_ref) if app_ref else None
    backend = open_backend(app, backend_url, queue_url)
    backend.require_existing()  # looking never creates a store
    chosen = list(names) or (app.queue_names() if app else []) or [DEFAULT_QUEUE]
    rows = []
    for name in chosen:
        found = queue_depth(backend.named_queue(name))
        where = backend.named_queue(name).queue_url
        rows.append({"name": name, "queue": where, **attrs.asdict(found)})
        if not as_json:
            dead = "" if found.dead is None else f", {found.dead} dead"
            note = "" if found.exact else " (approximate)"
            click.echo(
                f"{name} ({where}): {found.visible} visible, {found.in_flight} in flight, "
                f"{found.delayed} delayed{dead}{note}"
            )
    if as_json:
        echo_json(rows[0] if not names and len(rows) == 1 else rows)


@queue.command()
@app_option(required=False)
@backend_options
@name_option
@click.option("--yes", is_flag=True, help="Confirm: drop every message of the queue.")
@json_option
@reports_errors
def purge(
    *,
    app_ref: str | None,
    backend_url: str | None,
    queue_url: str | None,
    names: tuple[str, ...],
    yes: bool,
    as_json: bool,
) -> None:
    """Drop every message of the queue (visible, in flight and delayed; SQLite's dead
    letters stay). Messages only: task records do not change, and the requeue sweep
    pushes QUEUED tasks again once they are older than its threshold, so nothing is
    lost; cancel tasks to stop them. SQS allows one purge per queue per 60 seconds.
    Refused (exit 2) without --yes."""
    backend = open_backend(load_app(app_ref) if app_ref else None, backend_url, queue_url)
    backend.require_existing()
    if len(names) > 1:
        fail("purge one queue at a time: give one --name", EXIT_USAGE)
    target = backend.named_queue(names[0] if names else DEFAULT_QUEUE)
    where = target.queue_url
    if not yes:
        fail(f"purging drops every message of {where}: add --yes to confirm", EXIT_USAGE)
    dropped = purge_queue(target)
    if as_json:
        echo_json({"queue": where, "purged": dropped})
        return
    count = "every message" if dropped is None else f"{dropped} message(s)"
    click.echo(f"purged {count} from {where}")
