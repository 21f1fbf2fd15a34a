"""Enqueue from a coroutine without blocking the event loop (FastAPI, aiohttp, ...)."""

import asyncio
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, TaskApp
from simple_async_tasks.testing import drain

app = TaskApp("memory://")  # or sqlite:///tasks.db, dynamodb://... with an SQS queue


@attrs.frozen(kw_only=True)
class SendReceipt(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("order_id",)
    order_id: str
    email: str


@app.task(SendReceipt)
def send_receipt(task: SendReceipt) -> None:
    print(f"receipt for {task.order_id} to {task.email}")


async def checkout(order_id: str) -> str:
    """What a request handler does: enqueue, and answer at once."""
    task = await send_receipt.aenqueue(order_id=order_id, email="ada@example.com")
    return task.status.value


async def main() -> None:
    # fifty requests for one order at once: one task, one message
    answers = await asyncio.gather(*(checkout("o-1") for _ in range(50)))
    print(set(answers))  # {'QUEUED'}


asyncio.run(main())
drain(app)  # the worker's job; here the test helper runs it
