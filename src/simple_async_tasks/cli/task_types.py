"""``simple-async-tasks tasks types``: the registered task types and their settings."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import attrs
import click

from ..app import TaskApp
from ._common import echo_json, echo_table
from .tasks import _types, with_app


def _options_json(options: Any) -> dict[str, Any]:
    """``ExecuteOptions`` as JSON: durations in seconds."""

    def plain(value: Any) -> Any:
        if isinstance(value, timedelta):
            return value.total_seconds()
        if attrs.has(type(value)):
            return {k: plain(v) for k, v in attrs.asdict(value, recurse=False).items()}
        return value

    found: dict[str, Any] = plain(options)
    return found


def _seconds(delta: Any) -> str:
    return "" if delta is None else f"{delta.total_seconds():g}s"


@click.command(name="types")
@functools.partial(with_app, store=False)  # the app's own settings: no store is read
def types_command(*, app: TaskApp, task_type: str | None, as_json: bool) -> None:
    """The registered task types with their settings: unique and mutex fields, retry
    policy, lease, time limit, whether results are kept, retention; and the queue."""
    chosen = set(_types(app, task_type))
    found = [s for s in app.settings() if s.task_type in chosen]
    queue = app.backend.queue_url or app.backend.store_url
    if as_json:
        echo_json(
            [
                {
                    **{
                        k: v
                        for k, v in attrs.asdict(s, recurse=False).items()
                        if k not in ("options", "retention")
                    },
                    "options": _options_json(s.options),
                    "retention_seconds": None
                    if s.retention is None
                    else s.retention.total_seconds(),
                    "queue": queue,
                }
                for s in found
            ]
        )
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
            ]
        )
    columns = ["TYPE", "UNIQUE", "MUTEX", "ATTEMPTS", "BACKOFF", "LEASE", "LIMIT", "RESULT"]
    echo_table(columns, rows)
    click.echo(f"queue: {queue}", err=True)
