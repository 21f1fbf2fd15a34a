"""DynamoDB and SQS awaited on aiobotocore (the ``aws-async`` extra): what an enqueue and a
claim call on a ``DynamoTaskDao`` and an ``SqsTaskQueue``, without a thread per call.

Nothing here decides anything: ``AsyncDynamoTaskDao`` drives the sync DAO's own steps
(``_save_steps``, ``_transition_steps``, ``_get_steps``, ``_deleted_at_steps``: the same
requests, conditions and reading of a refused condition) with an aiobotocore client
instead of boto3's, and ``AsyncSqsTaskQueue`` sends the sync queue's own ``entry``.

Clients are made on first use in each event loop (an aiobotocore client belongs to the
loop that opened it) and reused there; ``await close_clients()`` closes the running
loop's, at the end of a FastAPI lifespan for example. Imported only when asked for
(``DynamoTaskDao.aio()``, ``SqsTaskQueue.aio()``, or a ``TaskApp``'s ``aenqueue`` with
the extra installed): ``import simple_async_tasks`` loads neither asyncio nor aiohttp.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from ..conditions import Condition
from ..contracts import MutexLock, Transition
from ..lifecycle.effects import Steps, on_loop_close, run_async
from ..parcel import TaskParcel
from ..task import AsyncTask
from ._edges import aws_edge, require_aiobotocore

if TYPE_CHECKING:
    from .dynamodb import DynamoTaskDao
    from .sqs import SqsTaskQueue

T = TypeVar("T", bound=AsyncTask)
X = TypeVar("X")

__all__ = ["AsyncDynamoTaskDao", "AsyncSqsTaskQueue", "close_clients"]

MAX_ATTEMPTS = 8
"""botocore retry attempts, as for the boto3 clients (``_aws_clients``)."""

_Key = tuple[str, "str | None", "str | None"]
_clients: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, tuple[Any, Any]]] = (
    WeakKeyDictionary()
)


async def _client(service: str, region: str | None, endpoint_url: str | None) -> Any:
    """The running loop's aiobotocore client for this service, region and endpoint."""
    loop = asyncio.get_running_loop()
    opened = _clients.setdefault(loop, {})
    key = (service, region, endpoint_url)
    found = opened.get(key)
    if found is None:
        from aiobotocore.config import AioConfig

        config = AioConfig(
            retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            connect_timeout=5,
            read_timeout=20,
            max_pool_connections=32,
        )
        context = _session().create_client(
            service,
            region_name=region,
            endpoint_url=endpoint_url,
            config=config,
        )
        with aws_edge(service, "client"):  # no region: a clear error
            client = await context.__aenter__()
        found = opened.setdefault(key, (context, client))
        if found[1] is not client:  # another coroutine opened one meanwhile
            await context.__aexit__(None, None, None)
    return found[1]


@functools.cache
def _session() -> Any:
    """The process's one aiobotocore session: its loader keeps the service models read,
    so the client of each new loop (one per Lambda invocation) is made in about 3 ms,
    not the 45 ms of a new session (100 ms for the very first)."""
    from aiobotocore.session import get_session

    return get_session()


async def close_clients() -> None:
    """Close the aiobotocore clients the running event loop opened (call it before the
    loop ends, for example at the end of a FastAPI lifespan; the worker's lane and the
    Lambda handler's invocation loop close theirs themselves)."""
    opened = _clients.pop(asyncio.get_running_loop(), {})
    for context, _ in opened.values():
        await context.__aexit__(None, None, None)


on_loop_close(close_clients)


class _AwaitedClient:
    """An aiobotocore client as the async driver's ``client`` target: each operation
    through the same error edge as the boto3 calls."""

    __slots__ = ("_endpoint", "_keep", "_region", "_resource", "_service", "_what")

    def __init__(
        self,
        service: str,
        what: str,
        resource: str,
        *,
        region: str | None,
        endpoint_url: str | None,
        keep: frozenset[str] = frozenset(),
    ) -> None:
        self._service = service
        self._what = what
        self._resource = resource
        self._region = region
        self._endpoint = endpoint_url
        self._keep = keep

    def __getattr__(self, operation: str) -> Callable[..., Awaitable[Any]]:
        async def call(**params: Any) -> Any:
            client = await _client(self._service, self._region, self._endpoint)
            with aws_edge(self._what, self._resource, keep=self._keep):
                return await getattr(client, operation)(**params)

        return call


class AsyncDynamoTaskDao(Generic[T]):
    """A ``DynamoTaskDao``'s calls of an enqueue and of an attempt (claim, outcome,
    lost claims), awaited (``dao.aio()``)."""

    def __init__(self, dao: DynamoTaskDao[T]) -> None:
        from .dynamodb import READ_HERE

        require_aiobotocore(f"the async DynamoTaskDao on table {dao.table_name!r}")
        self.dao = dao
        self.task_class = dao.task_class
        self._targets = {
            "client": _AwaitedClient(
                "dynamodb",
                "DynamoDB table",
                dao.table_name,
                region=dao.region,
                endpoint_url=dao.endpoint_url,
                keep=READ_HERE,
            )
        }

    def unique_key(self, task: T) -> str:
        return self.dao.unique_key(task)

    async def _drive(self, steps: Steps[X]) -> X:
        return await run_async(steps, self._targets)

    async def get(self, unique_key: str) -> T | None:
        """As ``DynamoTaskDao.get``."""
        return await self._drive(self.dao._get_steps(unique_key))

    async def save(self, task: T, *, condition: Condition | None) -> T:
        """As ``DynamoTaskDao.save``."""
        return await self._drive(self.dao._save_steps(task, condition=condition))

    async def transition(
        self,
        unique_key: str,
        change: Transition,
        *,
        condition: Condition,
        acquire: MutexLock | None = None,
        release: MutexLock | None = None,
    ) -> T:
        """As ``DynamoTaskDao.transition``."""
        steps = self.dao._transition_steps(
            unique_key, change, condition=condition, acquire=acquire, release=release
        )
        return await self._drive(steps)

    async def deleted_at(self, unique_key: str) -> datetime | None:
        """As ``DynamoTaskDao.deleted_at``."""
        return await self._drive(self.dao._deleted_at_steps(unique_key))

    async def release_mutex(self, lock: MutexLock) -> None:
        """As ``DynamoTaskDao.release_mutex``."""
        await self._drive(self.dao._release_mutex_steps(lock))


class AsyncSqsTaskQueue:
    """An ``SqsTaskQueue``'s sends, awaited (``queue.aio()``)."""

    def __init__(self, queue: SqsTaskQueue) -> None:
        require_aiobotocore(f"the async SqsTaskQueue for {queue.queue_url}")
        self.queue = queue
        self._client = _AwaitedClient(
            "sqs",
            "SQS queue",
            queue.queue_url,
            region=queue.region,
            endpoint_url=queue.endpoint_url,
        )

    async def push(
        self, parcel: TaskParcel[AsyncTask], *, delay: timedelta = timedelta(0)
    ) -> None:
        """As ``SqsTaskQueue.push``: the limits checked before any request."""
        entry = self.queue.entry(parcel, delay)
        await self._client.send_message(**entry)
