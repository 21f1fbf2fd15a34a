"""Concepts: logic in a long loop checks that it still holds the task between steps."""

from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, TaskApp, current_lease
from simple_async_tasks.testing import drain

app = TaskApp("memory://")


@attrs.frozen(kw_only=True)
class RebuildReport(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("report_id",)
    report_id: str


@app.task(RebuildReport)
def rebuild_report(task: RebuildReport) -> int:
    done = 0
    for _chunk in range(3):
        current_lease().check()  # LeaseLostError if another attempt took the task over
        done += 1  # process one chunk
        current_lease().renew()  # optional: the heartbeat renews anyway
    return done


rebuild_report.enqueue(report_id="r1")
drain(app)
assert rebuild_report.result("r1") == 3
