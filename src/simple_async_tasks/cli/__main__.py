"""``python -m simple_async_tasks.cli``: the same as the ``simple-async-tasks`` command."""

from . import main

main(prog_name="simple-async-tasks")
