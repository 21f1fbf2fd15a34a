"""The ``simple-async-tasks`` command line: a worker, task inspection and dead letters.

Built on click. Exit codes: 0 success, 1 a backend call failed, 2 a usage
error (options, URL, APP), 3 a task was not found, 4 a task's status does not
allow the change.
"""

from __future__ import annotations

import click

from .. import __version__
from .dashboard import dashboard
from .dlq import dlq
from .locks import locks
from .queues import queue
from .schedules import schedules
from .task_types import types_command
from .tasks import tasks
from .worker import worker
from .workers import workers


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="simple-async-tasks")
def main() -> None:
    """Run and operate simple-async-tasks apps.

    The backend is chosen by URL: sqlite:///tasks.db (the default, a file in
    the working directory), dynamodb://TABLE?region=... with an SQS queue
    (sqs://NAME?region=... or the queue URL), or memory:// for one process.

    \b
    Exit codes:
      0  success
      1  a backend call failed (or an unexpected error)
      2  a usage error: options, backend URL, APP reference
      3  a task was not found
      4  a task's status does not allow the change
    """


main.add_command(worker)
tasks.add_command(types_command)
main.add_command(tasks)
main.add_command(dlq)
main.add_command(queue)
main.add_command(locks)
main.add_command(workers)
main.add_command(schedules)
main.add_command(dashboard)

__all__ = ["main"]
