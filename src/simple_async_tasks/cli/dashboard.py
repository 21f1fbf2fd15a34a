"""``simple-async-tasks dashboard``: serve an app's dashboard and JSON API alone."""

from __future__ import annotations

import os
from typing import Any

import click

from ..dashboard import TOKEN_ENV
from ._common import app_option, backend_options, bind, load_app, reports_errors


@click.command()
@click.argument("app_arg", metavar="[APP]", required=False)
@app_option(required=False)
@backend_options
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind.")
@click.option("--port", default=8321, show_default=True, type=click.IntRange(0, 65535))
@click.option("--read-only", is_flag=True, help="Show everything, refuse every action.")
@reports_errors
def dashboard(
    *,
    app_arg: str | None,
    app_ref: str | None,
    backend_url: str | None,
    queue_url: str | None,
    host: str,
    port: int,
    read_only: bool,
) -> None:
    """Serve the dashboard of APP (pages at /, the JSON API at /api) with uvicorn.

    It binds to 127.0.0.1 unless --host says otherwise. Actions (retry, cancel, delete,
    purge, schedule changes, ...) need the token in $SIMPLE_ASYNC_TASKS_DASHBOARD_TOKEN:
    'Authorization: Bearer <token>' on the API, signed in once on the pages. Without it
    the dashboard only shows. Needs the dashboard extra.
    """
    reference = app_ref or app_arg
    if reference is None:
        raise click.UsageError("name the app: simple-async-tasks dashboard module:app")
    try:
        import uvicorn
    except ImportError:
        raise click.UsageError(
            "the dashboard needs uvicorn and Starlette: "
            "pip install 'simple-async-tasks[dashboard]'"
        ) from None
    from ..dashboard import create_dashboard

    app = bind(load_app(reference), backend_url, queue_url)
    app.backend.require_existing()
    token = os.environ.get(TOKEN_ENV) or None
    if host not in ("127.0.0.1", "localhost", "::1") and token is None and not read_only:
        click.echo(
            f"warning: serving on {host} with no {TOKEN_ENV}: actions are off, and anyone "
            "who reaches the port sees your tasks",
            err=True,
        )
    mode = (
        "read-only" if read_only else "actions need the token" if token else "no token: read-only"
    )
    click.echo(f"dashboard: http://{host}:{port}/ ({mode}); Ctrl-C stops it", err=True)
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning"}
    uvicorn.run(create_dashboard(app, token=token, read_only=read_only), **options)
