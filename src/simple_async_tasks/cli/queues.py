"""``simple-async-tasks queue``: the queue itself (how many messages it holds; purge)."""

from __future__ import annotations

import attrs
import click

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


@queue.command()
@app_option(required=False)
@backend_options
@json_option
@reports_errors
def depth(
    *, app_ref: str | None, backend_url: str | None, queue_url: str | None, as_json: bool
) -> None:
    """How many messages the queue holds: visible (ready now), in flight (received and
    running, or hidden for a retry's backoff), delayed (sent with a delay not yet past)
    and, on SQLite, dead letters. Exact on SQLite; SQS's counts are approximate."""
    backend = open_backend(load_app(app_ref) if app_ref else None, backend_url, queue_url)
    backend.require_existing()  # looking never creates a store
    found = queue_depth(backend.queue)
    if as_json:
        echo_json({"queue": backend.queue.queue_url, **attrs.asdict(found)})
        return
    dead = "" if found.dead is None else f", {found.dead} dead"
    note = "" if found.exact else " (approximate)"
    click.echo(
        f"{backend.queue.queue_url}: {found.visible} visible, {found.in_flight} in flight, "
        f"{found.delayed} delayed{dead}{note}"
    )


@queue.command()
@app_option(required=False)
@backend_options
@click.option("--yes", is_flag=True, help="Confirm: drop every message of the queue.")
@json_option
@reports_errors
def purge(
    *,
    app_ref: str | None,
    backend_url: str | None,
    queue_url: str | None,
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
    where = backend.queue.queue_url
    if not yes:
        fail(f"purging drops every message of {where}: add --yes to confirm", EXIT_USAGE)
    dropped = purge_queue(backend.queue)
    if as_json:
        echo_json({"queue": where, "purged": dropped})
        return
    count = "every message" if dropped is None else f"{dropped} message(s)"
    click.echo(f"purged {count} from {where}")
