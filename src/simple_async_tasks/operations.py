"""Operations on stored tasks, for operators and maintenance code: inspect (count, list,
show, find by uuid), change (retry, cancel, halt, resume, delete), sweep (promote the due,
re-push the stale), schedule (recurring schedules and the ``Scheduler``), and dead
letters.

Every change is one conditional write, so an operator never races an executor into a
lost update::

    from simple_async_tasks.operations import count_tasks, list_tasks, retry_task

    count_tasks(dao)                        # {QUEUED: 12, FAILED: 1, ...}
    retry_task(dao, queue, "u1")            # FAILED -> QUEUED, pushed
"""

from __future__ import annotations

from .contracts import DeadLetter, DeadLetterBox, QueueDepth
from .lifecycle.control import break_lock, delete_failed, purge_queue
from .lifecycle.control import cancel as cancel_task
from .lifecycle.control import delete as delete_task
from .lifecycle.control import halt as halt_task
from .lifecycle.control import resume as resume_task
from .lifecycle.control import retry as retry_task
from .lifecycle.listing import (
    count_tasks,
    find_task_by_uuid,
    list_tasks,
    mutex_locks,
    queue_depth,
    show_task,
)
from .lifecycle.recurring import RecurringSchedule, recurring_schedule
from .lifecycle.schedule_book import ScheduleBook
from .lifecycle.schedule_model import RecurringDetails, RecurringInterval, StoredSchedule
from .lifecycle.scheduler import Scheduler, SchedulerReport
from .lifecycle.sweeps import SweepReport, promote_due, requeue_stale
from .lifecycle.workers import WorkerInfo, WorkerRegistry

__all__ = [
    "DeadLetter",
    "DeadLetterBox",
    "QueueDepth",
    "RecurringDetails",
    "RecurringInterval",
    "RecurringSchedule",
    "ScheduleBook",
    "Scheduler",
    "SchedulerReport",
    "StoredSchedule",
    "SweepReport",
    "WorkerInfo",
    "WorkerRegistry",
    "break_lock",
    "cancel_task",
    "count_tasks",
    "delete_failed",
    "delete_task",
    "find_task_by_uuid",
    "halt_task",
    "list_tasks",
    "mutex_locks",
    "promote_due",
    "purge_queue",
    "queue_depth",
    "recurring_schedule",
    "requeue_stale",
    "resume_task",
    "retry_task",
    "show_task",
]
