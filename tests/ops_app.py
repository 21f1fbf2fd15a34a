"""The app of the schedule and dashboard tests: ``Report``, which a stored schedule can
run (its unique key holds the occurrence), and ``Invoice``, which fails while a marker
file exists. ``SAT_CLI_DIR`` names the directory of ``runs.log`` and the markers."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, RetryPolicy, TaskApp

app = TaskApp(os.environ.get("SAT_OPS_URL"))


@attrs.frozen(kw_only=True)
class Report(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("report", "scheduled_for")
    report: str
    scheduled_for: datetime
    recipients: list[str] = attrs.field(factory=list)


@attrs.frozen(kw_only=True)
class Invoice(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("invoice_id",)
    invoice_id: str
    note: str = ""


def _log(line: str) -> None:
    folder = os.environ.get("SAT_CLI_DIR")
    if folder:
        with (Path(folder) / "runs.log").open("a", encoding="utf-8") as log:
            log.write(line + "\n")


@app.task(Report)
def report(task: Report) -> None:
    _log(f"report {task.report} {task.scheduled_for.isoformat()}")


@app.task(Invoice, retry=RetryPolicy(max_attempts=1))
def invoice(task: Invoice) -> str:
    folder = os.environ.get("SAT_CLI_DIR")
    if folder and (Path(folder) / f"fail-{task.invoice_id}").exists():
        raise ConnectionError(f"{task.invoice_id} is marked to fail")
    _log(f"invoice {task.invoice_id}")
    return f"paid {task.invoice_id}"
