"""DynamoDB and SQS awaited on aiobotocore (issue 16, the ``aws-async`` extra), on DynamoDB
Local and moto's SQS server: the same requests and answers as the boto3 path (the DAO's
own steps), with no thread per call."""

from __future__ import annotations

import asyncio
import importlib.util
from datetime import timedelta
from typing import Any

import pytest

from simple_async_tasks import AsyncTaskStatus, TaskApp
from simple_async_tasks.aio import close_clients
from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, reset_clients
from simple_async_tasks.backends import aws_async
from simple_async_tasks.clock import system_clock
from simple_async_tasks.conditions import StatusIn
from simple_async_tasks.contracts import MutexLock, Transition
from simple_async_tasks.errors import (
    BackendError,
    ConditionFailedError,
    ConfigurationError,
    MutexHeldError,
    QueueLimitError,
)
from simple_async_tasks.parcel import ParcelMeta, TaskParcel

from ..tasks import SendEmail, SyncAccount
from .conftest import receive_all

S = AsyncTaskStatus


def app_on(aws_endpoint, table: str, queue_url: str) -> tuple[TaskApp, Any]:
    tasks = TaskApp(
        f"dynamodb://{table}?region=us-east-1&endpoint={aws_endpoint.dynamodb}", queue=queue_url
    )

    @tasks.task(SendEmail)
    def send(task: SendEmail) -> None: ...

    return tasks, send


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The library's own calls sent to a worker thread (``asyncio.to_thread``); aiobotocore's
    one-off ones (building an SSL context per connector) are not counted."""
    seen: list[str] = []
    real = asyncio.to_thread

    async def to_thread(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        name = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', '')}"
        if name.startswith("simple_async_tasks"):
            seen.append(name)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", to_thread)
    return seen


def run(coroutine_function: Any) -> Any:
    """Run on a fresh loop, closing its aiobotocore clients at the end (as a lifespan does)."""

    async def main() -> Any:
        try:
            return await coroutine_function()
        finally:
            await close_clients()

    return asyncio.run(main())


def test_aenqueue_on_dynamodb_and_sqs_uses_no_thread(aws_endpoint, table, sqs, queue_url, hops):
    tasks, send = app_on(aws_endpoint, table, queue_url)

    async def main() -> list[SendEmail]:
        return await asyncio.gather(*(send.aenqueue(user_id=f"u{n % 5}") for n in range(40)))

    try:
        stored = run(main)
        assert hops == []
        assert len({t.uuid for t in stored}) == 5  # forty requests, five keys, five tasks
        assert len(receive_all(sqs, queue_url)) == 5  # and five messages
        assert tasks.dao(SendEmail).get("u3").status is S.QUEUED
    finally:
        reset_clients()


def test_the_async_dao_answers_as_the_sync_one(aws_endpoint, table):
    where = {"region": "us-east-1", "endpoint_url": aws_endpoint.dynamodb}
    dao = DynamoTaskDao(SendEmail, table_name=table, **where)
    adao = dao.aio()
    accounts = DynamoTaskDao(SyncAccount, table_name=table, **where)

    async def main() -> None:
        assert await adao.get("nobody") is None
        saved = await adao.save(SendEmail(user_id="u1"), condition=None)
        assert (await adao.get("u1")) == saved == dao.get("u1")
        with pytest.raises(ConditionFailedError) as lost:  # the stored record comes back
            await adao.transition(
                "u1", Transition(status=S.ATTEMPTED), condition=StatusIn(frozenset({S.FULFILLED}))
            )
        assert lost.value.current == saved
        moved = await adao.transition(
            "u1", Transition(status=S.ATTEMPTED), condition=StatusIn(frozenset({S.QUEUED}))
        )
        assert moved.status is S.ATTEMPTED
        assert moved.version == saved.version + 1
        assert await adao.deleted_at("u1") is None
        # a mutex lock, taken in the same transaction as the claim
        job = accounts.save(SyncAccount(account_id="a", job=1), condition=None)
        other = accounts.save(SyncAccount(account_id="a", job=2), condition=None)
        async_accounts = accounts.aio()
        now, minute = system_clock.now(), timedelta(minutes=1)
        lock = MutexLock(
            key="SyncAccount#a", owner="lease-1", acquired_at=now, expires_at=now + minute
        )
        key = accounts.unique_key(job)
        claimed = await async_accounts.transition(
            key,
            Transition(status=S.ATTEMPTED),
            condition=StatusIn(frozenset({S.QUEUED})),
            acquire=lock,
        )
        assert claimed.status is S.ATTEMPTED
        rival = MutexLock(
            key="SyncAccount#a", owner="lease-2", acquired_at=now, expires_at=now + minute
        )
        with pytest.raises(MutexHeldError):
            await async_accounts.transition(
                accounts.unique_key(other),
                Transition(status=S.ATTEMPTED),
                condition=StatusIn(frozenset({S.QUEUED})),
                acquire=rival,
            )

    try:
        run(main)
    finally:
        reset_clients()


def test_async_errors_are_the_librarys_own(aws_endpoint, queue_url):
    where = {"region": "us-east-1", "endpoint_url": aws_endpoint.dynamodb}
    missing = DynamoTaskDao(SendEmail, table_name="no-such-table", **where).aio()
    queue = SqsTaskQueue(queue_url, region="us-east-1", endpoint_url=aws_endpoint.sqs).aio()
    parcel = TaskParcel(
        task=SendEmail(user_id="u1"), meta=ParcelMeta.for_queue(queue.queue, "SendEmail")
    )

    async def main() -> None:
        with pytest.raises(BackendError, match="does not exist"):
            await missing.get("u1")
        with pytest.raises(QueueLimitError):  # checked before any request
            await queue.push(parcel, delay=timedelta(hours=1))

    try:
        run(main)
    finally:
        reset_clients()


def test_without_aiobotocore_the_twin_says_how_to_install_it_and_aenqueue_uses_a_thread(
    aws_endpoint, table, sqs, queue_url, monkeypatch, hops
):
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "aiobotocore" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    dao = DynamoTaskDao(SendEmail, table_name=table, region="us-east-1")
    with pytest.raises(ConfigurationError, match=r"simple-async-tasks\[aws-async\]"):
        dao.aio()
    _, send = app_on(aws_endpoint, table, queue_url)

    async def main() -> None:
        await send.aenqueue(user_id="u1")

    try:
        run(main)
        assert hops == ["simple_async_tasks.lifecycle.enqueue.Enqueuer.enqueue"]  # on a thread
        assert len(receive_all(sqs, queue_url)) == 1
    finally:
        reset_clients()


def test_each_event_loop_opens_its_own_clients_and_closes_them(aws_endpoint, table):
    adao = DynamoTaskDao(
        SendEmail, table_name=table, region="us-east-1", endpoint_url=aws_endpoint.dynamodb
    ).aio()

    async def opened() -> int:
        await adao.get("u1")
        return len(aws_async._clients[asyncio.get_running_loop()])

    try:
        assert run(opened) == 1
        assert run(opened) == 1  # a second loop: a client of its own, not the first one's
        assert len(aws_async._clients) == 0  # both closed by close_clients
    finally:
        reset_clients()


def test_end_to_end_async_enqueue_then_the_workers_async_lane(aws_endpoint, table, queue_url):
    """Coroutines enqueue (aiobotocore), the worker's lane awaits the async logic: every
    task once, many at once on one thread, on DynamoDB Local and SQS."""
    import threading
    import time

    tasks = TaskApp(
        f"dynamodb://{table}?region=us-east-1&endpoint={aws_endpoint.dynamodb}", queue=queue_url
    )
    runs: list[str] = []
    threads: set[int] = set()
    running = {"now": 0, "most": 0}

    loops: list[asyncio.AbstractEventLoop] = []

    @tasks.task(SendEmail)
    async def send(task: SendEmail) -> str:
        loops.append(asyncio.get_running_loop())  # kept: its clients' entry cannot vanish
        threads.add(threading.get_ident())
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        await asyncio.sleep(0.3)
        running["now"] -= 1
        runs.append(task.user_id)
        return task.user_id

    async def requests() -> None:
        await asyncio.gather(*(send.aenqueue(user_id=f"u{n % 30}") for n in range(60)))

    try:
        run(requests)
        worker = tasks.worker(
            concurrency=1, schedule=False, poll_wait=timedelta(0), register=False
        )
        started = time.monotonic()
        summary = worker.run(max_idle=timedelta(seconds=1), handle_signals=False)
        elapsed = time.monotonic() - started
        assert (summary.succeeded, summary.failed) == (30, 0)
        assert sorted(runs) == sorted(f"u{n}" for n in range(30))  # each task once
        assert running["most"] >= 10  # awaited together: one thread of sync logic only
        assert len(threads) == 1
        assert elapsed < 30 * 0.3  # one after another would take 9 s
        assert send.result("u7") == "u7"
        assert aws_async._clients.get(loops[0]) is None  # the lane closed its clients
    finally:
        reset_clients()


def test_an_attempts_claims_and_writes_are_awaited_on_aiobotocore_with_every_rule(
    aws_endpoint, table, sqs, queue_url, hops
):
    """The execute lifecycle's own steps, driven natively on DynamoDB Local and SQS: a
    claim, a duplicate, a lapsed attempt taken over, a held mutex, a failure and its
    backoff message, a deleted task's message, a missing task; no call on a thread."""
    from simple_async_tasks import ExecuteOptions, ExecuteOutcome, RetryPolicy
    from simple_async_tasks.errors import TaskNotFoundError
    from simple_async_tasks.operations import delete_task

    from ..lifecycle.paths import executor as on_path

    where = {"region": "us-east-1", "endpoint_url": aws_endpoint.dynamodb}
    emails = DynamoTaskDao(SendEmail, table_name=table, **where)
    accounts = DynamoTaskDao(SyncAccount, table_name=table, **where)
    queue = SqsTaskQueue(queue_url, region="us-east-1", endpoint_url=aws_endpoint.sqs)
    options = ExecuteOptions(retry=RetryPolicy(max_attempts=3, jitter=0.0))
    ran: list[str] = []

    def send(task: SendEmail) -> None:
        ran.append(task.user_id)
        if task.user_id == "boom":
            raise ConnectionError("mail server down")

    execute = on_path("async", send, dao=emails, queue=queue, options=options)
    run_account = on_path("async", lambda t: None, dao=accounts, queue=queue, options=options)
    try:
        first = emails.save(SendEmail(user_id="u1"), condition=None)
        assert execute(first).outcome is ExecuteOutcome.EXECUTED
        assert execute(first).outcome is ExecuteOutcome.SKIPPED  # a duplicate: no run
        # an attempt that stopped renewing its lease is taken over
        lapsed = emails.save(
            SendEmail(
                user_id="u2",
                status=S.ATTEMPTED,
                attempts=1,
                lease_until=system_clock.now() - timedelta(minutes=5),
            ),
            condition=None,
        )
        taken = execute(lapsed)  # (a save keeps the counts at 0: the lapsed one is attempt 0)
        assert (taken.outcome, taken.task.attempts, taken.task.failures) == (
            ExecuteOutcome.EXECUTED,
            1,
            1,
        )
        # a failure: FAILED with its backoff, and the message pushed again with that delay
        boom = emails.save(SendEmail(user_id="boom"), condition=None)
        failed = execute(boom)
        assert failed.outcome is ExecuteOutcome.FAILED
        assert failed.retry_in is not None
        assert emails.get("boom").status is S.FAILED
        # a held mutex: retried later, the parcel pushed again
        now = system_clock.now()
        held = accounts.save(SyncAccount(account_id="a", job=1), condition=None)
        waiting = accounts.save(SyncAccount(account_id="a", job=2), condition=None)
        accounts.transition(
            accounts.unique_key(held),
            Transition(status=S.ATTEMPTED, add_attempts=1, lease_until=now + timedelta(minutes=1)),
            condition=StatusIn(frozenset({S.QUEUED})),
            acquire=MutexLock(
                key="SyncAccount#a",
                owner="other",
                acquired_at=now,
                expires_at=now + timedelta(minutes=1),
            ),
        )
        assert run_account(waiting).outcome is ExecuteOutcome.RETRY_LATER
        # a deleted task's message is skipped; a never stored one is an error
        gone = emails.save(SendEmail(user_id="gone"), condition=None)
        delete_task(emails, "gone")
        assert execute(gone).outcome is ExecuteOutcome.SKIPPED
        with pytest.raises(TaskNotFoundError):
            execute(SendEmail(user_id="ghost"))
        assert ran == ["u1", "u2", "boom"]
        counts = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
        )["Attributes"]
        assert counts["ApproximateNumberOfMessagesDelayed"] == "2"  # the failure's, the mutex's
        assert [h for h in hops if "backends" in h] == []  # every call awaited natively
    finally:
        run(lambda: asyncio.sleep(0))  # nothing left open on this thread's loops
        reset_clients()


def test_a_dao_built_on_a_given_client_opens_its_twin_where_that_client_points(
    aws_endpoint, dynamodb, table
):
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    assert (dao.region, dao.endpoint_url) == ("us-east-1", aws_endpoint.dynamodb)
    stored = dao.save(SendEmail(user_id="u1"), condition=None)

    async def read() -> SendEmail | None:
        return await dao.aio().get("u1")

    try:
        assert run(read) == stored
    finally:
        reset_clients()


def test_the_lambda_invocation_loop_closes_the_clients_it_opened(
    aws_endpoint, table, sqs, queue_url
):
    from simple_async_tasks.aws import create_sqs_handler

    from .conftest import lambda_event, queue_arn

    tasks, _ = app_on(aws_endpoint, table, queue_url)
    loops: list[asyncio.AbstractEventLoop] = []

    @tasks.task(SyncAccount)
    async def sync(task: SyncAccount) -> None:
        loops.append(asyncio.get_running_loop())

    try:
        sync.enqueue(account_id="a", job=1)
        handler = create_sqs_handler(tasks.executors())
        event = lambda_event(receive_all(sqs, queue_url), queue_arn(sqs, queue_url))
        assert handler(event, None) == {"batchItemFailures": []}
        assert loops[0].is_closed()
        assert aws_async._clients.get(loops[0]) is None  # closed before the loop was
    finally:
        reset_clients()
