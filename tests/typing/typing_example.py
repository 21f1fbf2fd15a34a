"""Checked by mypy --strict (not run by pytest): the public types say what they do."""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, ClassVar

import attrs
from typing_extensions import assert_type

from simple_async_tasks import (
    AsyncTask,
    AsyncTaskStatus,
    ExecuteOptions,
    ExecuteOutcome,
    ExecuteResult,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    Lease,
    RetryPolicy,
    TaskApp,
    TaskDao,
    TaskExecutor,
    TaskQueue,
    current_lease,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.aio import (
    AsyncDynamoTaskDao,
    AsyncSqsTaskQueue,
    close_clients,
    with_async_queue_lifecycle,
)
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue
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


# Settings are one value; the logic reads its lease.
options = ExecuteOptions(lease=timedelta(seconds=30), retry=RetryPolicy(max_attempts=5))
with_execute_lifecycle(resize, dao=dao, queue=queue, options=options)
ExecuteOptions(lease=30)  # type: ignore[arg-type]


def long_resize(task: Resize) -> bytes:
    lease = current_lease()
    assert_type(lease, Lease)
    assert_type(lease.lost, bool)
    lease.check()
    return b""


assert_type(result.task.failures, int)


def wrong_logic(task: str) -> None: ...


with_execute_lifecycle(wrong_logic, dao=dao, queue=queue)  # type: ignore[arg-type]


# TaskApp: the decorator returns a TaskFunction: it runs the logic, and enqueues from the
# class's own fields, typed by them.
app = TaskApp("memory://", clock=clock)


@app.task(Resize, retry=RetryPolicy(max_attempts=2))
def resize_in_app(task: Resize) -> bytes:
    return task.image_id.encode()


assert_type(resize_in_app(Resize(image_id="img-0", width=1)), bytes)  # the logic itself
assert_type(resize_in_app.enqueue(image_id="img-6", width=320), Resize)
assert_type(resize_in_app.enqueue_in(timedelta(minutes=5), image_id="img-7", width=1), Resize)
assert_type(
    resize_in_app.enqueue_at(clock.now() + timedelta(hours=1), image_id="img-8", width=1),
    Resize,
)
assert_type(resize_in_app.result("img-6"), bytes | None)
resize_in_app.enqueue(image_id="img-6", width="wide")  # type: ignore[arg-type]
resize_in_app.enqueue(image_id="img-6", colour="red")  # type: ignore[call-arg]
resize_in_app.enqueue_in(5, image_id="img-6", width=1)  # type: ignore[arg-type]
resize_in_app.enqueue_at(timedelta(5), image_id="img-6", width=1)  # type: ignore[arg-type]
resize_in_app(b"x")  # type: ignore[arg-type]


# From a coroutine: the async twins, typed the same way (issue 16).
async def enqueue_from_a_handler() -> None:
    assert_type(await resize_in_app.aenqueue(image_id="img-9", width=1), Resize)
    assert_type(
        await resize_in_app.aenqueue_in(timedelta(seconds=5), image_id="i", width=1), Resize
    )
    assert_type(await app.aenqueue(Resize(image_id="img-10", width=1)), Resize)
    awaited = with_async_queue_lifecycle(get_new=get_new, dao=app.dao(Resize), queue=app.queue)
    assert_type(await awaited("img-11", 320, hq=True), Resize)
    await resize_in_app.aenqueue(image_id="img-9", width="wide")  # type: ignore[arg-type]
    await awaited("img-11", colour="red")  # type: ignore[call-arg]


# DynamoDB and SQS awaited on aiobotocore (the aws-async extra): typed by the task class.
async def on_aiobotocore(dao: DynamoTaskDao[Resize], queue: SqsTaskQueue) -> None:
    twin: AsyncDynamoTaskDao[Resize] = dao.aio()
    assert_type(await twin.get("img-13"), Resize | None)
    assert_type(await twin.save(Resize(image_id="img-13", width=1), condition=None), Resize)
    sender: AsyncSqsTaskQueue = queue.aio()
    await twin.save(Resize(image_id="img-13", width=1))  # type: ignore[call-arg]
    assert sender.queue is queue
    await close_clients()


# The lower level stays for factories that compute fields: the enqueuer keeps their signature.
enqueue_in_app = app.enqueuer(get_new)
assert_type(enqueue_in_app("img-4", 320, hq=True), Resize)
enqueue_in_app("img-4", colour="red")  # type: ignore[call-arg]
assert_type(app.enqueue(Resize(image_id="img-5", width=1)), Resize)
assert_type(app.dao(Resize), TaskDao[Resize])
assert_type(app.executor(Resize), TaskExecutor[Resize, object])
assert_type(drain(app).delivered, int)


@app.task(Resize)  # type: ignore[arg-type]
def wrong_app_logic(task: str) -> None: ...


# async def logic (issue 16): the executor's result and the kept result are the awaited value.
async_app = TaskApp("memory://", clock=clock)


@async_app.task(Resize)
async def resize_async(task: Resize) -> int:
    return task.width


assert_type(resize_async.result("img-12"), int | None)
called: Coroutine[Any, Any, int] = resize_async(Resize(image_id="img-12", width=1))
called.close()


async def fetch(task: Resize) -> bytes:
    return b""


fetching = with_execute_lifecycle(fetch, dao=InMemoryTaskDao(Resize), queue=InMemoryTaskQueue())
assert_type(fetching, TaskExecutor[Resize, bytes])
assert_type(fetching(Resize(image_id="img-13", width=1)).result, bytes | None)
