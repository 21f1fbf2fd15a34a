"""A task whose logic is a coroutine function (an async HTTP client, an async driver)."""

import asyncio
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, TaskApp, current_lease
from simple_async_tasks.testing import drain

app = TaskApp("memory://")


@attrs.frozen(kw_only=True)
class FetchInvoice(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("invoice_id",)
    invoice_id: str


@app.task(FetchInvoice)
async def fetch_invoice(task: FetchInvoice) -> dict[str, str]:
    await asyncio.sleep(0.01)  # e.g. await client.get(...)
    current_lease().check()  # still ours: not taken over meanwhile
    return {"invoice_id": task.invoice_id, "state": "paid"}


fetch_invoice.enqueue(invoice_id="inv-1")
drain(app)  # or the worker, or the Lambda handler
print(fetch_invoice.result("inv-1"))  # {'invoice_id': 'inv-1', 'state': 'paid'}
