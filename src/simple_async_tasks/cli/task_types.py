"""``simple-async-tasks tasks types``: the registered task types and their settings."""

from __future__ import annotations

import functools
from typing import Any

import click

from ..app import TaskApp
from ._common import echo_json, echo_table
from .tasks import _types, with_app


def _seconds(delta: Any) -> str:
    return "" if delta is None else f"{delta.total_seconds():g}s"


@click.command(name="types")
@functools.partial(with_app, store=False)  # the app's own settings: no store is read
def types_command(*, app: TaskApp, task_type: str | None, as_json: bool) -> None:
    """The registered task types with their settings: unique and mutex fields, retry
    policy, lease, time limit, whether results are kept, retention; and the queue."""
    chosen = set(_types(app, task_type))
    found = [s for s in app.settings() if s.task_type in chosen]
    if as_json:
        echo_json([s.as_dict() for s in found])
        return
    rows = []
    for s in found:
        retry = s.options.retry
        backoff = (
            f"{_seconds(retry.initial_delay)} x{retry.multiplier:g} "
            f"up to {_seconds(retry.max_delay)}"
        )
        rows.append(
            [
                s.task_type,
                ",".join(s.unique),
                ",".join(s.mutex or ()),
                retry.max_attempts,
                backoff,
                _seconds(s.options.lease),
                _seconds(s.options.time_limit) or "-",
                "yes" if s.options.keep_result else "no",
                s.queue,
            ]
        )
    columns = [
        "TYPE", "UNIQUE", "MUTEX", "ATTEMPTS", "BACKOFF", "LEASE", "LIMIT", "RESULT", "QUEUE"
    ]  # fmt: skip
    echo_table(columns, rows)
    where = app.backend.queue_url or app.backend.store_url
    click.echo(f"queue default: {where}", err=True)
