"""``async def`` logic in the Lambda handler (issue 16): one event loop per invocation, a
batch's records concurrently up to ``async_concurrency``, with the claims, the time
guard, the partial batch response and the FIFO order of sync records. On memory and
SQLite here; on DynamoDB Local + SQS in ``tests/aws/test_handler.py``."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from simple_async_tasks import (
    AsyncTaskStatus,
    ExecuteOptions,
    InMemoryTaskQueue,
    RetryPolicy,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.aws import create_sqs_handler
from simple_async_tasks.clock import system_clock

from ..tasks import SendEmail, SyncAccount

S = AsyncTaskStatus
ARN = "arn:aws:sqs:us-east-1:000000000000:tasks"


def executor(dao, queue, logic, **options: Any):
    options.setdefault("retry", RetryPolicy(max_attempts=3, jitter=0.0))
    return with_execute_lifecycle(
        logic, dao=dao, queue=queue, clock=system_clock, options=ExecuteOptions(**options)
    )


def event_of(queue: InMemoryTaskQueue, arn: str = ARN) -> dict[str, Any]:
    """Every queued message, in order, as an SQS event (as Lambda hands it). No receipt
    handle: a failed record's visibility is then left alone (``aws.visibility``), where
    it would otherwise be set through SQS itself, which these tests do not reach."""
    messages = queue.receive(10_000)
    return {
        "Records": [
            {
                "messageId": f"m{n}",
                "body": message.body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": "us-east-1",
            }
            for n, message in enumerate(messages)
        ]
    }


def enqueue_users(dao, queue, users: list[str]) -> None:
    enqueue = with_queue_lifecycle(
        get_new=lambda u: SendEmail(user_id=u), dao=dao, queue=queue, clock=system_clock
    )
    for user in users:
        enqueue(user)


class Clocked:
    """A Lambda context whose remaining time is read from a list, one value per call."""

    def __init__(self, remaining_ms: list[int]) -> None:
        self.remaining = remaining_ms
        self.calls = 0

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return self.remaining.pop(0) if len(self.remaining) > 1 else self.remaining[0]


def test_a_batch_of_async_logic_runs_concurrently_on_one_loop_up_to_the_limit(make_dao):
    dao = make_dao(SendEmail)
    queue = InMemoryTaskQueue()
    users = [f"u{n}" for n in range(24)]
    enqueue_users(dao, queue, users)
    loops: set[int] = set()
    threads: set[int] = set()
    running = {"now": 0, "most": 0}

    async def send(task: SendEmail) -> str:
        loops.add(id(asyncio.get_running_loop()))
        threads.add(threading.get_ident())
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        await asyncio.sleep(0.25)
        running["now"] -= 1
        return task.user_id

    handler = create_sqs_handler(executor(dao, queue, send), max_workers=1, async_concurrency=8)
    started = time.monotonic()
    response = handler(event_of(queue), None)
    took = time.monotonic() - started
    assert response == {"batchItemFailures": []}
    assert all(dao.get(u).status is S.FULFILLED for u in users)
    assert len(loops) == 1
    assert len(threads) == 1
    assert running["most"] == 8  # the limit, reached and never passed
    assert took < 24 * 0.25 / 2  # one at a time would take 6 s; 3 rounds of 8 take 0.75 s


def test_each_invocation_has_its_own_loop_and_cancels_what_its_logic_left_running(make_dao):
    dao = make_dao(SendEmail)
    queue = InMemoryTaskQueue()
    loops: list[asyncio.AbstractEventLoop] = []
    stray: list[asyncio.Task[None]] = []

    async def send(task: SendEmail) -> None:
        loops.append(asyncio.get_running_loop())
        stray.append(asyncio.get_running_loop().create_task(asyncio.sleep(60)))

    handler = create_sqs_handler(executor(dao, queue, send))
    for user in ("u1", "u2"):
        enqueue_users(dao, queue, [user])
        assert handler(event_of(queue), None) == {"batchItemFailures": []}
        assert stray[-1].cancelled()  # not left to run on in a frozen Lambda
        assert loops[-1].is_closed()
    assert loops[0] is not loops[1]


def test_sync_and_async_records_of_one_batch_both_run_and_a_failure_is_reported_alone(
    make_dao,
):
    emails, accounts = make_dao(SendEmail), make_dao(SyncAccount)
    queue = InMemoryTaskQueue()
    enqueue_users(emails, queue, ["u1", "boom", "u2"])
    sync_enqueue = with_queue_lifecycle(
        get_new=lambda n: SyncAccount(account_id="a", job=n), dao=accounts, queue=queue
    )
    sync_enqueue(1)
    sync_threads: list[str] = []

    async def send(task: SendEmail) -> None:
        await asyncio.sleep(0.01)
        if task.user_id == "boom":
            raise ConnectionError("mail server down")

    def sync(task: SyncAccount) -> None:
        sync_threads.append(threading.current_thread().name)

    handler = create_sqs_handler(
        [executor(emails, queue, send), executor(accounts, queue, sync)], max_workers=2
    )
    event = event_of(queue)
    response = handler(event, None)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert [emails.get(u).status for u in ("u1", "boom", "u2")] == [
        S.FULFILLED,
        S.FAILED,
        S.FULFILLED,
    ]
    failed = emails.get("boom")
    assert (failed.attempts, failed.failures) == (1, 1)
    assert "mail server down" in str(failed.last_error)
    assert (
        accounts.get(accounts.unique_key(SyncAccount(account_id="a", job=1))).status is S.FULFILLED
    )
    assert len(sync_threads) == 1
    assert sync_threads[0] != "MainThread"  # beside the loop, on a thread


def test_the_time_guard_reports_unstarted_async_records_and_redelivery_runs_them(make_dao):
    dao = make_dao(SendEmail)
    queue = InMemoryTaskQueue()
    users = [f"u{n}" for n in range(6)]
    enqueue_users(dao, queue, users)
    ran: list[str] = []

    async def send(task: SendEmail) -> None:
        ran.append(task.user_id)
        await asyncio.sleep(0.01)

    handler = create_sqs_handler(
        executor(dao, queue, send), async_concurrency=1, time_guard=timedelta(seconds=10)
    )
    # enough time for the group's claims and the first two attempts, then too little
    context = Clocked([60_000, 60_000, 60_000, 5_000])
    event = event_of(queue)
    response = handler(event, context)
    reported = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert ran == ["u0", "u1"]
    assert reported == ["m2", "m3", "m4", "m5"]
    for user in users[2:]:
        stored = dao.get(user)
        assert (stored.status, stored.attempts) == (S.QUEUED, 0)  # claimed, put back, not counted
    # SQS redelivers the reported records: they run then, each once
    again = {"Records": [r for r in event["Records"] if r["messageId"] in reported]}
    assert create_sqs_handler(executor(dao, queue, send))(again, None) == {"batchItemFailures": []}
    assert sorted(ran) == users
    assert all(dao.get(u).status is S.FULFILLED for u in users)


def test_a_fifo_batch_of_async_logic_runs_in_order_and_stops_at_the_first_failure(make_dao):
    dao = make_dao(SendEmail)
    queue = InMemoryTaskQueue()
    users = ["u0", "u1", "boom", "u3", "u4"]
    enqueue_users(dao, queue, users)
    ran: list[str] = []
    loops: set[int] = set()

    async def send(task: SendEmail) -> None:
        loops.add(id(asyncio.get_running_loop()))
        await asyncio.sleep(0.01 * (5 - len(ran)))  # earlier ones slower: order is not luck
        ran.append(task.user_id)
        if task.user_id == "boom":
            raise ConnectionError("down")

    handler = create_sqs_handler(executor(dao, queue, send), async_concurrency=10)
    response = handler(event_of(queue, ARN + ".fifo"), None)
    assert ran == ["u0", "u1", "boom"]
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["m2", "m3", "m4"]
    assert len(loops) == 1  # one loop for the invocation, not one per record
    assert [dao.get(u).status for u in users] == [
        S.FULFILLED,
        S.FULFILLED,
        S.FAILED,
        S.QUEUED,
        S.QUEUED,
    ]


def test_redelivered_async_records_of_finished_tasks_run_nothing(make_dao):
    dao = make_dao(SendEmail)
    queue = InMemoryTaskQueue()
    enqueue_users(dao, queue, ["u1", "u2", "u3"])
    ran: list[str] = []

    async def send(task: SendEmail) -> None:
        ran.append(task.user_id)

    handler = create_sqs_handler(executor(dao, queue, send))
    event = event_of(queue)
    duplicated = {"Records": event["Records"] + event["Records"][:2]}  # SQS at-least-once
    assert handler(duplicated, None) == {"batchItemFailures": []}
    assert handler(event, None) == {"batchItemFailures": []}  # and delivered again later
    assert sorted(ran) == ["u1", "u2", "u3"]


def test_async_concurrency_is_checked_when_the_handler_is_built(dao, queue):
    with pytest.raises(ValueError, match="async_concurrency must be at least 1"):
        create_sqs_handler(executor(dao, queue, lambda t: None), async_concurrency=0)


def test_a_sync_batch_loads_no_event_loop_machinery():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from simple_async_tasks import InMemoryTaskDao, InMemoryTaskQueue, "
        "with_execute_lifecycle, with_queue_lifecycle\n"
        "from simple_async_tasks.aws import create_sqs_handler\n"
        "from tests.tasks import SendEmail\n"
        "dao, queue = InMemoryTaskDao(SendEmail), InMemoryTaskQueue()\n"
        "with_queue_lifecycle(get_new=lambda: SendEmail(user_id='u'), dao=dao, queue=queue)()\n"
        "(m,) = queue.receive(1)\n"
        "execute = with_execute_lifecycle(lambda t: None, dao=dao, queue=queue)\n"
        "handler = create_sqs_handler(execute)\n"
        "record = {'messageId': 'm', 'body': m.body, 'eventSource': 'aws:sqs', "
        "'eventSourceARN': 'arn'}\n"
        "assert handler({'Records': [record]}, None) == {'batchItemFailures': []}\n"
        "print(sorted(n for n in sys.modules if n == 'asyncio' or n.endswith('invocation')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


class Wrapped:
    """An executor wrapped by the user (to add a log, say), forwarding everything: it says
    ``is_async`` as the executor it wraps does, without being a ``TaskExecutor``."""

    def __init__(self, executor: Any) -> None:
        self._executor = executor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._executor, name)


@pytest.mark.parametrize("arn", [ARN, ARN + ".fifo"])
def test_a_wrapped_executor_of_async_logic_runs_in_the_handler(make_dao, arn):
    dao = make_dao(SendEmail)
    queue = InMemoryTaskQueue()
    enqueue_users(dao, queue, ["u1", "u2"])
    ran: list[str] = []

    async def send(task: SendEmail) -> None:
        ran.append(task.user_id)

    handler = create_sqs_handler(Wrapped(executor(dao, queue, send)))
    assert handler(event_of(queue, arn), None) == {"batchItemFailures": []}
    assert sorted(ran) == ["u1", "u2"]
