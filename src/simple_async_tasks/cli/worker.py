"""``simple-async-tasks worker APP``: run the app's tasks from its queue until stopped."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import attrs
import click

from ..worker import WorkerSummary
from ._common import backend_options, bind, echo_json, load_app, reports_errors


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


@click.command()
@click.argument("app_ref", metavar="APP")
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
    "--progress-every",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Print progress at most this often.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress lines; warnings still show.")
@click.option("-v", "--verbose", is_flag=True, help="Log every delivery and scheduler run.")
@click.option("--json", "as_json", is_flag=True, help="Print the final summary as JSON.")
@reports_errors
def worker(
    *,
    app_ref: str,
    backend_url: str | None,
    queue_url: str | None,
    concurrency: int,
    schedule: bool,
    schedule_every: float,
    poll_wait: float,
    until_idle: float | None,
    progress_every: float,
    quiet: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    """Run the tasks of APP (module:object naming a TaskApp) from its queue.

    Messages are taken from the SQLite queue, or from SQS with long polling,
    and settled as the Lambda handler does: deleted when the delivery is
    done with, left for redelivery when it failed. SIGTERM or SIGINT stops
    the worker gracefully: no new message is taken, the running tasks
    finish, and it exits 0.

    \b
    Examples:
      simple-async-tasks worker examples.quickstart:app
      simple-async-tasks worker myapp.tasks:app -c 16 \\
          --backend 'dynamodb://tasks?region=eu-west-1' --queue 'sqs://tasks?region=eu-west-1'
    """
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
    )
    types = ", ".join(app.task_types)
    if not (quiet or as_json):
        click.echo(
            f"worker: {types} from {app.backend.queue_url or app.backend.store_url}, "
            f"{concurrency} at a time; Ctrl-C or SIGTERM stops it after the running tasks",
            err=True,
        )
    idle = timedelta(seconds=until_idle) if until_idle is not None else None
    summary = running.run(max_idle=idle)
    if as_json:
        echo_json(attrs.asdict(summary))
    elif not quiet:
        click.echo(
            f"worker stopped: {progress.line(summary)}, {summary.scheduler_runs} scheduler run(s)",
            err=True,
        )
