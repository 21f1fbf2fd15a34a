"""A web dashboard and a JSON API over a ``TaskApp``: an ASGI app (Starlette) to mount in
your own web server, or to serve alone with ``simple-async-tasks dashboard APP``.

    from simple_async_tasks.dashboard import create_dashboard

    dashboard = create_dashboard(app)                       # token from the environment
    dashboard = create_dashboard(app, read_only=True)       # look, never act
    dashboard = create_dashboard(app, authorize=my_check)   # your app's own auth

Needs the ``dashboard`` extra (``pip install "simple-async-tasks[dashboard]"``). See
docs/dashboard.md for the pages, the API and what protects them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..app import TaskApp
from ..errors import ConfigurationError

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request

__all__ = ["TOKEN_ENV", "create_dashboard"]

TOKEN_ENV = "SIMPLE_ASYNC_TASKS_DASHBOARD_TOKEN"


def create_dashboard(
    app: TaskApp,
    *,
    token: str | None = None,
    read_only: bool = False,
    authorize: Callable[[Request], bool] | None = None,
) -> Starlette:
    """The dashboard of ``app``: HTML pages at ``/`` and the JSON API at ``/api``.

    ``token`` (default: ``$SIMPLE_ASYNC_TASKS_DASHBOARD_TOKEN``) is what every action
    needs: as ``Authorization: Bearer <token>`` on the API, or signed in once on the
    pages (a signed, HttpOnly, SameSite=Strict cookie; each form carries a CSRF token).
    Without a token, actions are refused. ``authorize(request)``, when given, is your
    web app's own check and replaces the token for reads and actions alike.
    ``read_only`` refuses every action.

    Raises:
        ConfigurationError: Starlette is not installed (the ``dashboard`` extra).
    """
    try:
        from starlette.applications import Starlette
        from starlette.routing import Mount
    except ImportError:
        raise ConfigurationError(
            "the dashboard needs Starlette: pip install 'simple-async-tasks[dashboard]'"
        ) from None
    from .api import api_routes
    from .pages import page_routes
    from .security import Guard

    guard = Guard(token=token, read_only=read_only, authorize=authorize)
    return Starlette(
        routes=[Mount("/api", routes=api_routes(app, guard)), *page_routes(app, guard)]
    )
