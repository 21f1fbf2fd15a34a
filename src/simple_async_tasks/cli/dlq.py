"""``simple-async-tasks dlq``: the messages a queue gave up on."""

from __future__ import annotations

import click

from ..app.views import dead_letter_json
from ..contracts import DeadLetterBox
from ._common import (
    app_option,
    backend_options,
    echo_json,
    echo_table,
    json_option,
    load_app,
    open_backend,
    reports_errors,
    shorten,
)


def _box(app_ref: str | None, backend_url: str | None, queue_url: str | None) -> DeadLetterBox:
    app = load_app(app_ref) if app_ref else None
    backend = open_backend(app, backend_url, queue_url)
    backend.require_existing()  # listing dead letters never creates a store
    return backend.dead_letters()


@click.group()
def dlq() -> None:
    """List dead letters and move them back to their queue.

    A message is dead-lettered after too many receives without success (the
    SQLite queue's max_receives, the SQS queue's RedrivePolicy). Redriving is
    safe: a redriven message of a task that finished meanwhile is skipped.
    The backend comes from --backend/--queue, else from --app, else from
    the environment, else sqlite:///tasks.db.
    """


@dlq.command(name="list")
@app_option(required=False)
@backend_options
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@json_option
@reports_errors
def list_command(
    *,
    app_ref: str | None,
    backend_url: str | None,
    queue_url: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Dead letters, oldest first where the backend knows the order.

    On SQS this receives the messages and makes them visible again at once,
    which adds one to each one's receive count.
    """
    box = _box(app_ref, backend_url, queue_url)
    letters = box.list(limit)
    if as_json:
        echo_json([dead_letter_json(d) for d in letters])
        return
    if not letters:
        click.echo(f"no dead letters in {box.location}")
        return
    rows = [
        [
            d.message_id,
            d.task_type or "(not a parcel)",
            d.receive_count,
            d.dead_at.isoformat(timespec="seconds") if d.dead_at else "",
            shorten(d.body, 50),
        ]
        for d in letters
    ]
    echo_table(["MESSAGE ID", "TASK TYPE", "RECEIVES", "SINCE", "BODY"], rows)


@dlq.command()
@app_option(required=False)
@backend_options
@click.option("--limit", type=click.IntRange(1), help="Move at most this many. Default: all.")
@json_option
@reports_errors
def redrive(
    *,
    app_ref: str | None,
    backend_url: str | None,
    queue_url: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Move dead letters back to their queue, receive counts reset."""
    box = _box(app_ref, backend_url, queue_url)
    moved = box.redrive(limit)
    if as_json:
        echo_json({"redriven": moved})
    else:
        click.echo(f"moved {moved} dead letter(s) back from {box.location}")
