"""What every command shares: finding the app, opening the backend, output, exit codes."""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn, ParamSpec, TypeVar

import click

from ..app import BACKEND_ENV, QUEUE_ENV, TaskApp
from ..app.backend import Backend
from ..app.urls import DEFAULT_URL
from ..errors import (
    ConditionFailedError,
    ConfigurationError,
    InvalidScheduleError,
    InvalidTaskError,
    MutexHeldError,
    ScheduleNotFoundError,
    SimpleAsyncTasksError,
    TaskDefinitionError,
    TaskNotFoundError,
)

P = ParamSpec("P")
R = TypeVar("R")

APP_ENV = "SIMPLE_ASYNC_TASKS_APP"

EXIT_OK = 0
EXIT_FAILED = 1
"""A backend call failed, or an unexpected error."""
EXIT_USAGE = 2
"""Wrong options, URL or app reference (click's own usage errors use 2 as well)."""
EXIT_NOT_FOUND = 3
"""No task with that unique key."""
EXIT_REFUSED = 4
"""The task's status does not allow the change (e.g. retrying a task that is not FAILED),
or a lock is live (breaking it needs --force)."""
EXIT_PENDING = 5
"""``worker --until-idle`` stopped with retries still to come (FAILED tasks not given up)."""


def fail(message: str, exit_code: int) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``exit_code``."""
    click.echo(f"error: {message}", err=True)
    click.get_current_context().exit(exit_code)


def exit_code_of(error: BaseException) -> int:
    """The exit code a script can trust for ``error``."""
    if isinstance(error, ConfigurationError | TaskDefinitionError | InvalidScheduleError):
        return EXIT_USAGE
    if isinstance(error, TaskNotFoundError | ScheduleNotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(error, InvalidTaskError | MutexHeldError | ConditionFailedError):
        return EXIT_REFUSED
    return EXIT_FAILED


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the library's errors and backend failures into a message and an exit code."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SimpleAsyncTasksError as error:  # the backends translate theirs into these
            fail(str(error), exit_code_of(error))
        except BrokenPipeError:  # the reader went away (| head): click exits quietly
            raise
        except OSError as error:  # a file the command itself opens
            fail(f"{type(error).__name__}: {error}", EXIT_FAILED)

    return run


def load_app(reference: str) -> TaskApp:
    """Import ``module:object`` (``module`` alone means ``module:app``) from the working
    directory, like other Python tools do.

    Raises:
        ConfigurationError: the module or the object cannot be found, or is not a TaskApp.
    """
    module_name, _, attribute = reference.partition(":")
    attribute = attribute or "app"
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise ConfigurationError(
            f"APP must be module:object, e.g. examples.quickstart:app; got {reference!r}"
        )
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            raise ConfigurationError(
                f"cannot import {module_name!r} from {os.getcwd()}: run the command from the "
                "directory that holds it, or install its package"
            ) from None
        raise
    found: object = module
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ConfigurationError(f"module {module_name!r} has no attribute {attribute!r}")
        found = getattr(found, part)
    if not isinstance(found, TaskApp):
        raise ConfigurationError(
            f"{reference} is a {type(found).__name__}, not a TaskApp: point APP at the "
            "simple_async_tasks.TaskApp your tasks are registered with"
        )
    return found


def bind(app: TaskApp, backend: str | None, queue: str | None) -> TaskApp:
    """Point ``app`` at the URLs given on the command line; keep its own otherwise (an app
    without URLs reads the environment itself, as it does in production). The order:
    the command line, the app's own URL, the environment, the default."""
    if backend is not None or queue is not None:
        app.use(backend, queue=queue)
    return app


def open_backend(app: TaskApp | None, backend: str | None, queue: str | None) -> Backend:
    """The backend of the app (rebound to the given URLs), or opened from the URLs alone."""
    if app is not None:
        return bind(app, backend, queue).backend
    store = backend or os.environ.get(BACKEND_ENV) or DEFAULT_URL
    return Backend(store, queue or os.environ.get(QUEUE_ENV) or None)


def backend_options(command: Callable[P, R]) -> Callable[P, R]:
    """``--backend`` and ``--queue``, read from the environment when not given."""
    command = click.option(
        "--queue",
        "queue_url",
        metavar="URL",
        help=(
            "Queue URL, where it differs from the backend's: sqs://NAME?region=... or the SQS "
            f"queue URL. Default: the app's own, else {QUEUE_ENV}."
        ),
    )(command)
    return click.option(
        "--backend",
        "backend_url",
        metavar="URL",
        help=(
            "Where the records are: sqlite:///tasks.db, dynamodb://TABLE?region=..., "
            "memory:// (this process only). Default: the app's own URL, else "
            f"{BACKEND_ENV}, else {DEFAULT_URL}."
        ),
    )(command)


def app_option(*, required: bool) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """``--app module:object``, read from ``SIMPLE_ASYNC_TASKS_APP`` when not given."""
    return click.option(
        "--app",
        "app_ref",
        metavar="MODULE:OBJECT",
        envvar=APP_ENV,
        required=required,
        help=f"The TaskApp your tasks are registered with, e.g. examples.quickstart:app. "
        f"Env: {APP_ENV}.",
    )


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table."
)


def echo_json(value: object) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Columns padded to their widest cell; the last column is not padded."""
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        click.echo("  ".join([*padded, row[-1]]).rstrip())


def shorten(text: str | None, width: int = 60) -> str:
    if text is None:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
