"""An async test of async code, with anyio's pytest plugin (``@pytest.mark.anyio``):
enqueue from a coroutine, drain with ``adrain``, move time with the ``FakeClock``."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import attrs
import pytest

from simple_async_tasks import AsyncTask, AsyncTaskStatus, TaskApp
from simple_async_tasks.testing import FakeClock, adrain

clock = FakeClock()
app = TaskApp("memory://", clock=clock)


@attrs.frozen(kw_only=True)
class SendReceipt(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("order_id",)
    order_id: str


SENT: list[str] = []


@app.task(SendReceipt)
async def send_receipt(task: SendReceipt) -> None:
    SENT.append(task.order_id)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_receipt_enqueued_for_later_is_sent_when_due() -> None:
    task = await send_receipt.aenqueue_in(timedelta(minutes=5), order_id="o-1")
    assert task.status is AsyncTaskStatus.QUEUED
    report = await adrain(app)  # moves the fake clock to the delayed message
    assert report.delivered == 1
    assert SENT == ["o-1"]
    assert task.execute_after is not None
    assert clock.now() >= task.execute_after
