"""Checked by mypy --strict (not run by pytest): the public types say what they do."""

from __future__ import annotations

from typing import ClassVar

import attrs
from typing_extensions import assert_type

from simple_async_tasks import (
    AsyncTask,
    AsyncTaskStatus,
    ExecuteOutcome,
    ExecuteResult,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    TaskDao,
    TaskExecutor,
    TaskQueue,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.testing import FakeClock, drain


@attrs.frozen(kw_only=True)
class Resize(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("image_id", "width")
    image_id: str
    width: int


def get_new(image_id: str, width: int = 640, *, hq: bool = False) -> Resize:
    return Resize(image_id=image_id, width=width * (2 if hq else 1))


def resize(task: Resize) -> bytes:
    return task.image_id.encode()


clock = FakeClock()
dao = InMemoryTaskDao(Resize, clock=clock)
queue = InMemoryTaskQueue(clock=clock)
assert_type(dao, InMemoryTaskDao[Resize])

# The in-memory backends satisfy the contracts.
as_dao: TaskDao[Resize] = dao
as_queue: TaskQueue[Resize] = queue

enqueue = with_queue_lifecycle(get_new=get_new, dao=dao, queue=queue, clock=clock)
# The wrapper keeps get_new's parameters and returns the task type.
assert_type(enqueue("img-1"), Resize)
assert_type(enqueue("img-1", 320, hq=True), Resize)
enqueue(image_id="img-2", width=100)
enqueue(1)  # type: ignore[arg-type]
enqueue("img-1", hq="yes")  # type: ignore[arg-type]
enqueue("img-1", colour="red")  # type: ignore[call-arg]

execute = with_execute_lifecycle(resize, dao=dao, queue=queue, clock=clock)
assert_type(execute, TaskExecutor[Resize, bytes])
result = execute(enqueue("img-3"))
assert_type(result, ExecuteResult[Resize, bytes])
assert_type(result.task, Resize)
assert_type(result.result, bytes | None)
assert_type(result.outcome, ExecuteOutcome)
assert_type(result.task.status, AsyncTaskStatus)

report = drain(queue, execute)
assert_type(report.delivered, int)


def wrong_logic(task: str) -> None: ...


with_execute_lifecycle(wrong_logic, dao=dao, queue=queue)  # type: ignore[arg-type]
