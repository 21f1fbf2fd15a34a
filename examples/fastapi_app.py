"""A FastAPI service that enqueues without blocking its event loop, and an async task that
the worker runs.

    pip install "simple-async-tasks[dashboard]" fastapi
    uvicorn examples.fastapi_app:api                                   # the service
    simple-async-tasks worker examples.fastapi_app:tasks               # the worker

``TASKS_URL`` chooses the store (default ``sqlite:///tasks.db``; ``dynamodb://TABLE`` with
``SIMPLE_ASYNC_TASKS_QUEUE`` on AWS, where ``pip install "simple-async-tasks[aws-async]"``
makes the enqueue await DynamoDB and SQS on aiobotocore, whose clients the lifespan
closes).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import ClassVar

import attrs
from fastapi import FastAPI

from simple_async_tasks import AsyncTask, TaskApp
from simple_async_tasks.aio import close_clients

tasks = TaskApp(os.environ.get("TASKS_URL", "sqlite:///tasks.db"))


@attrs.frozen(kw_only=True)
class SendReceipt(AsyncTask):
    """Email the receipt of one order, once."""

    unique: ClassVar[tuple[str, ...]] = ("order_id",)
    order_id: str
    email: str


@tasks.task(SendReceipt)
async def send_receipt(task: SendReceipt) -> str:
    await asyncio.sleep(0.01)  # e.g. await mail_client.send(...)
    return f"receipt of {task.order_id} sent to {task.email}"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await close_clients()  # the aiobotocore clients this loop opened, if any


api = FastAPI(lifespan=lifespan)


@api.post("/orders/{order_id}/receipt")
async def request_receipt(order_id: str, email: str) -> dict[str, str]:
    """Answer at once: the receipt is sent by the worker. A retried request is a duplicate
    of the first (the order id is the task's unique key)."""
    task = await send_receipt.aenqueue(order_id=order_id, email=email)
    return {"task": task.uuid, "status": task.status.value}


@api.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}
