"""The async API (issue 16): enqueue from coroutines without blocking the event loop.

    from simple_async_tasks.aio import with_async_queue_lifecycle

    enqueue = with_async_queue_lifecycle(get_new=new_welcome_email, dao=dao, queue=queue)
    stored = await enqueue(user_id="u1")

With a ``TaskApp``: ``await app.aenqueue(task)`` and ``await send_welcome_email.aenqueue(
user_id="u1")`` (``aenqueue_in``, ``aenqueue_at``). DynamoDB and SQS are awaited on
aiobotocore when the ``aws-async`` extra is installed (``AsyncDynamoTaskDao``,
``AsyncSqsTaskQueue``: ``dao.aio()``, ``queue.aio()``; ``await close_clients()`` at the
end of the loop's life), else run on a worker thread. See docs/async.md. Importing this
module imports ``asyncio`` (not aiobotocore); ``import simple_async_tasks`` does not.
"""

from __future__ import annotations

from .backends.aws_async import AsyncDynamoTaskDao, AsyncSqsTaskQueue, close_clients
from .lifecycle.async_enqueue import with_async_queue_lifecycle

__all__ = [
    "AsyncDynamoTaskDao",
    "AsyncSqsTaskQueue",
    "close_clients",
    "with_async_queue_lifecycle",
]
