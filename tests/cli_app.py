"""The app the command-line tests run: two task types whose logic records each run in a
file and fails while a marker file exists.

``SAT_CLI_DIR`` names the directory of ``runs.log`` and of the ``fail-KEY``
markers; ``SAT_CLI_SLOW`` makes every run take that many seconds, ``SAT_CLI_LEASE`` sets
Notify's lease in seconds, ``SAT_CLI_SLOW_IMPORT`` the
import of this module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, ExecuteOptions, RetryPolicy, TaskApp

ROOT = Path(__file__).resolve().parents[1]

time.sleep(float(os.environ.get("SAT_CLI_SLOW_IMPORT", "0")))  # a heavy app to import

app = TaskApp(os.environ.get("SAT_CLI_OWN_URL"))  # its own URL, when a test gives one


@attrs.frozen(kw_only=True)
class Charge(AsyncTask):
    """Fails for good on its first failure (one attempt)."""

    unique: ClassVar[tuple[str, ...]] = ("order_id",)
    order_id: str


@attrs.frozen(kw_only=True)
class Notify(AsyncTask):
    """Retried at once, up to 5 attempts."""

    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str


def _run(task_type: str, key: str) -> None:
    folder = Path(os.environ["SAT_CLI_DIR"])
    with (folder / "runs.log").open("a", encoding="utf-8") as log:
        log.write(f"start {task_type} {key}\n")
    time.sleep(float(os.environ.get("SAT_CLI_SLOW", "0")))
    if (folder / f"fail-{key}").exists():
        raise ConnectionError(f"{key} is marked to fail")
    with (folder / "runs.log").open("a", encoding="utf-8") as log:
        log.write(f"done {task_type} {key}\n")


@app.task(Charge, retry=RetryPolicy(max_attempts=1))
def charge(task: Charge) -> dict[str, str]:
    _run("Charge", task.order_id)
    return {"receipt": f"r-{task.order_id}"}


@app.task(
    Notify,
    options=ExecuteOptions(
        # SAT_CLI_LEASE: a short lease, for the tests that kill a worker mid-task
        lease=timedelta(seconds=float(os.environ.get("SAT_CLI_LEASE", "60"))),
        retry=RetryPolicy(max_attempts=5, initial_delay=timedelta(0), jitter=0),
    ),
)
def notify(task: Notify) -> None:
    _run("Notify", task.user_id)


def cli_path() -> str:
    """The installed console script, next to this interpreter."""
    script = Path(sys.executable).parent / "simple-async-tasks"
    assert script.exists(), f"the console script is not installed: {script}"
    return str(script)


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the real ``simple-async-tasks`` command from the repository root."""
    return subprocess.run(
        [cli_path(), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=timeout,
        check=False,
    )


def runs(folder: Path) -> list[str]:
    log = folder / "runs.log"
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def cli_env(folder: Path, *, max_receives: int) -> dict[str, str]:
    """Bind ``app`` to a SQLite file in ``folder`` (created: the tasks commands never
    create one) and return the environment of a command-line run on it."""
    url = f"sqlite:///{folder / 'tasks.db'}?visibility_timeout=1&max_receives={max_receives}"
    app.use(url)
    app.dao(Charge)
    return {
        "SIMPLE_ASYNC_TASKS_BACKEND": url,
        "SIMPLE_ASYNC_TASKS_APP": "tests.cli_app:app",
        "SAT_CLI_DIR": str(folder),
    }
