"""Enqueueing from coroutines (issue 16, first part): the same rules as the sync path
(tests/lifecycle/test_transitions.py runs its enqueue tests on both), the event loop
never blocked by the backend, and concurrent coroutines deduplicated."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest

from simple_async_tasks import AsyncTaskStatus, SqliteTaskDao, TaskApp
from simple_async_tasks.errors import InvalidTaskError, QueueLimitError
from simple_async_tasks.lifecycle.hooks import EnqueueEvent, TaskHooks
from simple_async_tasks.testing import FakeClock, drain

from .tasks import SendEmail

S = AsyncTaskStatus


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 't.db'}"


def make_app(url: str, **options: Any) -> tuple[TaskApp, Any]:
    app = TaskApp(url, clock=FakeClock(), **options)
    ran: list[str] = []

    @app.task(SendEmail)
    def send(task: SendEmail) -> None:
        ran.append(task.user_id)

    return app, send


def test_fifty_coroutines_enqueueing_one_key_store_one_task_and_one_message(url):
    app, send = make_app(url)

    async def main() -> list[Any]:
        return await asyncio.gather(*(send.aenqueue(user_id="u1") for _ in range(50)))

    stored = asyncio.run(main())
    assert {t.uuid for t in stored} == {stored[0].uuid}
    assert app.dao(SendEmail).count_by_status(S.QUEUED) == 1
    assert len(app.queue) == 1


def test_aenqueue_in_and_at_and_their_checks(url):
    app, send = make_app(url)

    async def main() -> None:
        later = await send.aenqueue_in(timedelta(seconds=30), user_id="u1")
        assert later.execute_after == app.clock.now() + timedelta(seconds=30)
        due = app.clock.now() + timedelta(days=3)  # beyond the queue's longest delay
        scheduled = await send.aenqueue_at(due, user_id="u2")
        assert scheduled.status is S.SCHEDULED
        with pytest.raises(InvalidTaskError, match="non-negative timedelta"):
            await send.aenqueue_in(timedelta(seconds=-1), user_id="u3")
        with pytest.raises(InvalidTaskError, match="timezone-aware"):
            await send.aenqueue_at(due.replace(tzinfo=None), user_id="u3")
        with pytest.raises(QueueLimitError):
            await send.aenqueue(user_id="u4", email="x" * 1_100_000)  # before any write

    asyncio.run(main())
    assert app.dao(SendEmail).get("u4") is None
    assert app.dao(SendEmail).get("u3") is None


def test_hooks_see_an_async_enqueue_as_a_sync_one(url):
    events: list[EnqueueEvent] = []

    class Record(TaskHooks):
        def on_enqueue(self, event: EnqueueEvent) -> None:
            events.append(event)

    _, send = make_app(url, hooks=[Record()])

    async def main() -> None:
        await send.aenqueue(user_id="u1")
        await send.aenqueue(user_id="u1")

    asyncio.run(main())
    assert [(e.task.user_id, e.duplicate) for e in events] == [("u1", False), ("u1", True)]


def test_a_task_enqueued_from_a_coroutine_is_run_by_the_sync_executors():
    app, send = make_app("memory://")
    asyncio.run(send.aenqueue(user_id="u1"))
    assert drain(app).delivered == 1
    assert app.dao(SendEmail).get("u1").status is S.FULFILLED


class SlowDao(SqliteTaskDao[SendEmail]):
    """A store that takes 0.3 s per save (a slow network, a busy disk)."""

    def save(self, task: Any, *, condition: Any) -> Any:
        time.sleep(0.3)
        return super().save(task, condition=condition)


def ticks_while(enqueue: Any) -> int:
    """How many times another coroutine ran (every 10 ms) while ``enqueue()`` was awaited."""

    async def main() -> int:
        count = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal count
            while not done.is_set():
                count += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        await enqueue()
        done.set()
        await ticking
        return count

    return asyncio.run(main())


def test_the_event_loop_keeps_serving_while_an_enqueue_waits_on_a_slow_store(tmp_path):
    from simple_async_tasks import SqliteTaskQueue
    from simple_async_tasks.aio import with_async_queue_lifecycle

    dao = SlowDao(SendEmail, tmp_path / "t.db")
    queue = SqliteTaskQueue(tmp_path / "t.db")
    aenqueue = with_async_queue_lifecycle(
        get_new=lambda: SendEmail(user_id="u1"), dao=dao, queue=queue
    )
    assert ticks_while(aenqueue) >= 10  # ~30 ticks in the 0.3 s the save took

    # the sync enqueue called in the loop would have blocked it: the check can fail
    from simple_async_tasks import with_queue_lifecycle

    blocking = with_queue_lifecycle(get_new=lambda: SendEmail(user_id="u2"), dao=dao, queue=queue)

    async def blocked() -> None:
        blocking()

    assert ticks_while(blocked) <= 1
    assert dao.get("u1") is not None


def test_importing_the_package_and_the_app_loads_no_event_loop():
    import subprocess
    import sys

    code = (
        "import sys, simple_async_tasks; from simple_async_tasks import TaskApp; "
        "print('asyncio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
