"""``simple-async-tasks worker --app APP``: run the app's tasks from its queue until stopped."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import attrs
import click

from ..app import TaskApp
from ..app.urls import DEFAULT_QUEUE
from ..app.views import failed_for_good
from ..lifecycle.listing import list_tasks
from ..task import AsyncTaskStatus
from ..worker import Worker, WorkerSummary
from ._common import (
    APP_ENV,
    EXIT_PENDING,
    backend_options,
    bind,
    echo_json,
    load_app,
    reports_errors,
)


@contextmanager
def stop_requests() -> Iterator[Callable[[Worker], None]]:
    """SIGTERM and SIGINT handled from the command's first line, not only once the worker
    runs: a signal while the app still imports stops the worker before it takes anything
    (and the process exits 0) instead of killing it. Yields ``attach(worker)``."""
    requested = threading.Event()
    attached: list[Worker] = []

    def on_signal(*_: Any) -> None:
        requested.set()
        for running in attached:
            running.stop()

    def attach(running: Worker) -> None:
        attached.append(running)
        if requested.is_set():
            running.stop()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield attach
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def pending_retries(app: TaskApp, limit: int = 1000) -> tuple[int, datetime | None]:
    """How many FAILED tasks wait for another attempt, and when the first is due."""
    count, first = 0, None
    for task_type in app.task_types:
        page = list_tasks(app.dao(app.task_class(task_type)), AsyncTaskStatus.FAILED, limit=limit)
        for task in page.items:
            if failed_for_good(app, task):
                continue
            count += 1
            due = task.execute_after
            if due is not None and (first is None or due < first):
                first = due
    return count, first


class Progress:
    """Prints what the worker did, at most once every ``every`` seconds."""

    def __init__(self, every: float, *, quiet: bool) -> None:
        self.every = every
        self.quiet = quiet
        self._last = 0.0
        self._lock = threading.Lock()

    def line(self, summary: WorkerSummary) -> str:
        text = (
            f"delivered {summary.delivered}: {summary.succeeded} done, "
            f"{summary.failed} failed (left for redelivery)"
        )
        if summary.poll_errors or summary.scheduler_errors:
            text += (
                f"; {summary.poll_errors} failed poll(s), "
                f"{summary.scheduler_errors} failed scheduler run(s)"
            )
        return text

    def __call__(self, summary: WorkerSummary) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.every:
                return
            self._last = now
        click.echo(self.line(summary), err=True)


def _names(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


def _weights(text: str | None) -> dict[str, float] | None:
    if not text:
        return None
    found: dict[str, float] = {}
    for part in text.split(","):
        name, _, number = part.partition("=")
        try:
            found[name.strip()] = float(number)
        except ValueError:
            raise click.BadParameter(
                f"{part!r} is not NAME=NUMBER", param_hint="--weights"
            ) from None
    return found


def _where(app: TaskApp, names: list[str], weighted: bool) -> str:
    if names == [DEFAULT_QUEUE] and not weighted:
        return app.backend.queue_url or app.backend.store_url
    order = "by weight" if weighted else "in this order"
    return f"queues {', '.join(names)} ({order})"


@click.command()
@click.argument("app_arg", metavar="[APP]", required=False)
@click.option(
    "--app",
    "app_ref",
    metavar="MODULE:OBJECT",
    envvar=APP_ENV,
    help=f"The TaskApp to run, e.g. examples.quickstart:app (as for `tasks`). Env: {APP_ENV}.",
)
@backend_options
@click.option(
    "-c",
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Tasks run at once (threads).",
)
@click.option(
    "--async-concurrency",
    default=100,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Attempts of async def logic awaited at once on the worker's event loop.",
)
@click.option(
    "--schedule/--no-schedule",
    default=True,
    show_default=True,
    help="Also run the recurring schedules and the sweeps (promote due, requeue stale).",
)
@click.option(
    "--schedule-every",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
)
@click.option(
    "--poll-wait",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, max=20),
    metavar="SECONDS",
    help="How long one poll waits for messages (SQS long polling).",
)
@click.option(
    "--until-idle",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Stop after this long with no message and no running task (batch jobs, demos). "
    "Default: run until SIGTERM or SIGINT.",
)
@click.option(
    "--requeue-after",
    default=900.0,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="The sweep pushes again a task left QUEUED and never attempted for this long "
    "(its message lost between the save and the push).",
)
@click.option(
    "--long-task-every",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="With -v, log each task still running this often.",
)
@click.option(
    "--progress-every",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Print progress at most this often.",
)
@click.option(
    "--queues",
    metavar="NAME,NAME...",
    help="The app's queues to take, highest priority first: no message of a queue while an "
    "earlier one has some. Default: every queue of the app's task types.",
)
@click.option(
    "--weights",
    metavar="NAME=N,...",
    help="Take the queues by weight instead of strictly by priority (each take starts from a "
    "queue drawn in proportion to its weight), e.g. high=3,low=1.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines; warnings still show.")
@click.option("-v", "--verbose", is_flag=True, help="Log every delivery and scheduler run.")
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON.")
@reports_errors
def worker(*, app_arg: str | None, app_ref: str | None, **options: Any) -> None:
    """Run the tasks of APP (--app module:object naming a TaskApp) from its queue.

    Messages are taken from the SQLite queue, or from SQS with long polling,
    and settled as the Lambda handler does: deleted when the delivery is
    done with, left for redelivery when it failed. SIGTERM or SIGINT stops
    the worker gracefully, from the first moment: no new message is taken,
    the running tasks finish, and it exits 0. With --until-idle it exits 5
    when FAILED tasks still wait for a retry.

    \b
    Examples:
      simple-async-tasks worker --app examples.quickstart:app
      simple-async-tasks worker --app myapp.tasks:app -c 16 \\
          --backend 'dynamodb://tasks?region=eu-west-1' --queue 'sqs://tasks?region=eu-west-1'
    """
    with stop_requests() as attach:
        _work(attach, app_ref or app_arg, **options)


def _work(
    attach: Callable[[Worker], None],
    app_ref: str | None,
    backend_url: str | None,
    queue_url: str | None,
    *,
    concurrency: int,
    async_concurrency: int,
    schedule: bool,
    schedule_every: float,
    poll_wait: float,
    until_idle: float | None,
    requeue_after: float,
    long_task_every: float,
    progress_every: float,
    quiet: bool,
    verbose: bool,
    as_json: bool,
    queues: str | None,
    weights: str | None,
) -> None:
    if app_ref is None:
        raise click.UsageError(f"name the app: --app module:object (or {APP_ENV})")
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if verbose:
        logging.getLogger("simple_async_tasks").setLevel(logging.INFO)
    app = bind(load_app(app_ref), backend_url, queue_url)
    progress = Progress(progress_every, quiet=quiet or as_json)
    running = app.worker(
        concurrency=concurrency,
        schedule=schedule,
        schedule_every=timedelta(seconds=schedule_every),
        poll_wait=timedelta(seconds=poll_wait),
        on_progress=progress,
        requeue_after=timedelta(seconds=requeue_after),
        queues=_names(queues) or list(_weights(weights) or {}) or None,
        weights=_weights(weights),
        async_concurrency=async_concurrency,
    )
    running.long_task_every = timedelta(seconds=long_task_every)
    attach(running)
    types = ", ".join(app.task_types)
    if not (quiet or as_json):
        click.echo(
            f"worker: {types} from {_where(app, running.queue_names, weights is not None)}, "
            f"{concurrency} at a time; Ctrl-C or SIGTERM stops it after the running tasks",
            err=True,
        )
    idle = timedelta(seconds=until_idle) if until_idle is not None else None
    summary = running.run(max_idle=idle, handle_signals=False)  # stop_requests() has them
    pending, first = pending_retries(app) if idle is not None else (0, None)
    if as_json:
        echo_json({**attrs.asdict(summary), "pending_retries": pending})
    elif not quiet:
        click.echo(
            f"worker stopped: {progress.line(summary)}, {summary.scheduler_runs} scheduler run(s)",
            err=True,
        )
    if pending:
        due = f", the first due {first.isoformat(timespec='seconds')}" if first else ""
        click.echo(
            f"worker: {pending} FAILED task(s) still wait for a retry{due}; "
            "run the worker again then (tasks list --status FAILED shows them)",
            err=True,
        )
        click.get_current_context().exit(EXIT_PENDING)
