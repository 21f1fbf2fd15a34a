"""``create_schedule_handler``: the scheduler as a Lambda run by an EventBridge schedule."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from ..lifecycle.scheduler import Scheduler
from .events import LambdaContext

ScheduleHandler = Callable[[Mapping[str, Any], Any], dict[str, Any]]


def create_schedule_handler(
    scheduler: Scheduler, *, time_guard: timedelta = timedelta(seconds=10)
) -> ScheduleHandler:
    """Build ``handler(event, context)`` that runs ``scheduler.run_once`` within the time left.

    Meant for an EventBridge rule firing every minute (``deploy/template.yaml``);
    any event starts a run, so it can also be invoked by hand. Returns the
    run's counts.
    """
    guard_ms = time_guard.total_seconds() * 1000

    def handler(event: Mapping[str, Any], context: LambdaContext | None = None) -> dict[str, Any]:
        def may_continue() -> bool:
            return context is None or context.get_remaining_time_in_millis() >= guard_ms

        return scheduler.run_once(may_continue=may_continue).as_dict()

    return handler
