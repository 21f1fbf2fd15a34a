"""Fault scenarios shared by the fault tests and by ``report.py`` (docs/reliability.md).

Each scenario injects one fault, then counts: how many tasks, how many runs of
the business function, how many ran more than once while their first attempt
was live (duplicates) and how many never reached FULFILLED (lost).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs

from simple_async_tasks import (
    AsyncTaskStatus,
    ExecuteOptions,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    OnFailure,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.operations import requeue_stale
from simple_async_tasks.parcel import decode_parcel, parse_parcel
from simple_async_tasks.serialization import default_converter
from simple_async_tasks.testing import FakeClock, drain
from simple_async_tasks.testing.local_aws import LocalAws

from ..tasks import SendEmail

ROOT = Path(__file__).resolve().parents[2]
S = AsyncTaskStatus


@attrs.frozen
class FaultResult:
    fault: str
    backend: str
    runs: int
    tasks: int
    duplicates: int
    lost: int


class SimulatedCrash(BaseException):
    """Stands for the death of the process in the in-memory scenarios.

    A BaseException passes every ``except Exception`` of the library, so no
    cleanup write happens after it, as after os._exit. (In-memory state cannot
    outlive a real process; the AWS scenarios kill real child processes.)
    """


def count_lost(dao: Any, keys: list[str]) -> int:
    return sum(1 for k in keys if (t := dao.get(k)) is None or t.status is not S.FULFILLED)


def tally(
    fault: str, backend: str, runs: Counter[str], tasks: int, dao: Any, keys: list[str]
) -> FaultResult:
    """The result of a scenario whose business function must run once per task."""
    return FaultResult(
        fault,
        backend,
        sum(runs.values()),
        tasks,
        sum(c - 1 for c in runs.values() if c > 1),
        count_lost(dao, keys),
    )


def take_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive and delete every visible message of the queue."""
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        messages.extend(batch)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return messages


# -- 1. duplicate delivery ---------------------------------------------------


def _counting_in_memory(
    sleep: float = 0.0,
) -> tuple[InMemoryTaskDao[SendEmail], InMemoryTaskQueue, Counter[str], Callable[[Any], None]]:
    """A store, a queue, and logic that counts its runs per task (then sleeps ``sleep``)."""
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def logic(task: SendEmail) -> None:
        with lock:
            runs[task.user_id] += 1
        if sleep:
            time.sleep(sleep)

    return InMemoryTaskDao(SendEmail), InMemoryTaskQueue(keep_history=False), runs, logic


def duplicate_delivery_memory(tasks: int = 1000, threads: int = 8) -> FaultResult:
    dao, queue, runs, logic = _counting_in_memory()
    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue
    )
    execute = with_execute_lifecycle(logic, dao=dao, queue=queue)
    for i in range(tasks):
        enqueue(i)
    parcels = [decode_parcel(m.body, SendEmail, default_converter) for m in queue.receive(tasks)]
    deliveries = parcels * 3
    random.Random(7).shuffle(deliveries)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(execute, deliveries))
    keys = [f"u{i}" for i in range(tasks)]
    return tally("duplicate delivery x3, 8 threads", "memory", runs, tasks, dao, keys)


def _aws_clients(aws: LocalAws) -> tuple[Any, Any]:
    return aws.client("dynamodb", max_pool_connections=20), aws.client(
        "sqs", max_pool_connections=20
    )


def _deliver_in_process(
    aws: LocalAws, table: str, queue_url: str, bodies: list[str], log: str
) -> None:
    """Child process: deliver ``bodies`` on 4 threads, log each run of the logic to ``log``."""
    from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue

    dynamodb, sqs = _aws_clients(aws)
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)
    lock = threading.Lock()
    with open(log, "a", encoding="utf-8") as out:

        def logic(task: SendEmail) -> None:
            with lock:
                out.write(task.user_id + "\n")
                out.flush()

        execute = with_execute_lifecycle(logic, dao=dao, queue=queue)
        parcels = [decode_parcel(b, SendEmail, default_converter) for b in bodies]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(execute, parcels))


def duplicate_delivery_aws(
    aws: LocalAws, table: str, queue_url: str, tasks: int, tmp: Path
) -> FaultResult:
    from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue

    dynamodb, sqs = _aws_clients(aws)
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)
    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue
    )
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(enqueue, range(tasks)))
    bodies = [m["Body"] for m in take_all(sqs, queue_url)]
    deliveries = bodies * 3
    random.Random(11).shuffle(deliveries)
    half = len(deliveries) // 2
    logs = [str(tmp / "runs-a.log"), str(tmp / "runs-b.log")]
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_deliver_in_process, args=(aws, table, queue_url, part, log))
        for part, log in ((deliveries[:half], logs[0]), (deliveries[half:], logs[1]))
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(600)
        assert p.exitcode == 0, f"delivery process exited with {p.exitcode}"
    runs: Counter[str] = Counter()
    for log in logs:
        runs.update(Path(log).read_text(encoding="utf-8").split())
    keys = [f"u{i}" for i in range(tasks)]
    return tally(
        "duplicate delivery x3, 2 processes x 4 threads", "dynamodb+sqs", runs, tasks, dao, keys
    )


# -- 2. executor crashes -----------------------------------------------------

CRASH_POINTS = ("after_claim", "in_logic", "before_finish")


def _crashing(dao: Any, point: str, crash: Callable[[], None]) -> Any:
    """Wrap a DAO so the process dies at ``point`` of the execute lifecycle."""

    class CrashingDao:
        def __getattr__(self, name: str) -> Any:
            return getattr(dao, name)

        def transition(self, key: str, change: Any, **kw: Any) -> Any:
            if point == "before_finish" and change.status is S.FULFILLED:
                crash()
            out = dao.transition(key, change, **kw)
            if point == "after_claim" and change.status is S.ATTEMPTED:
                crash()
            return out

    return CrashingDao()


def crashes_memory(tasks_per_point: int = 20) -> list[FaultResult]:
    return [_crash_memory_at(point, tasks_per_point) for point in CRASH_POINTS]


def _crash_memory_at(point: str, tasks: int) -> FaultResult:
    """An in-process queue loses the message of a crashed attempt with the process, so
    recovery is production's other path: the scheduler's sweep finds the ATTEMPTED record
    whose lease lapsed, pushes it again, and the delivery takes the attempt over."""
    clock = FakeClock()
    dao = InMemoryTaskDao(SendEmail, clock=clock)
    queue = InMemoryTaskQueue(clock=clock)
    runs: Counter[str] = Counter()
    crashing = {"on": True}

    def crash() -> None:
        if crashing["on"]:
            raise SimulatedCrash()

    def logic(task: SendEmail) -> None:
        runs[task.user_id] += 1
        if point == "in_logic":
            crash()

    options = ExecuteOptions(lease=timedelta(minutes=1))
    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue, clock=clock
    )
    crashy = with_execute_lifecycle(
        logic, dao=_crashing(dao, point, crash), queue=queue, clock=clock, options=options
    )
    healthy = with_execute_lifecycle(logic, dao=dao, queue=queue, clock=clock, options=options)
    keys = [enqueue(i).user_id for i in range(tasks)]
    bodies = [m.body for m in queue.receive(tasks)]
    for body in bodies:  # each message's attempt dies, and the message dies with it
        with contextlib.suppress(SimulatedCrash):
            crashy.execute_raw(parse_parcel(body))
    crashing["on"] = False
    assert len(queue) == 0
    before = Counter(runs)
    for body in bodies:  # a duplicate delivery while the dead attempt's lease still holds
        healthy.execute_raw(parse_parcel(body))
    live_runs = sum(runs[k] - before[k] for k in keys)
    drain(queue, healthy, advance_clock=False)  # the put-back copies wait for the lease
    clock.advance(timedelta(minutes=20))  # the lease lapsed long ago: the sweep pushes them
    swept = requeue_stale(dao=dao, queue=queue, options=options, clock=clock)
    assert len(swept.requeued) == tasks, swept
    drain(queue, healthy)
    return FaultResult(
        f"executor crash {point.replace('_', ' ')} (recovered by the sweep)",
        "memory",
        sum(runs.values()),
        len(keys),
        live_runs,
        count_lost(dao, keys),
    )


CRASH_CHILD = r"""
import os, sys
sys.path.insert(0, {root!r})
from datetime import timedelta
from simple_async_tasks import ExecuteOptions, OnFailure, with_execute_lifecycle
from simple_async_tasks.app.backend import Backend
from simple_async_tasks.parcel import parse_parcel
from tests.faults.scenarios import _crashing
from tests.tasks import SendEmail

store, queue_url, point, log = sys.argv[1:5]
backend = Backend(store, queue_url or None)
dao = backend.dao(SendEmail)

def die():
    os._exit(137)

def logic(task):
    with open(log, "a") as out:
        out.write(task.user_id + "\n")
        out.flush()
        os.fsync(out.fileno())
    if point == "in_logic":
        die()

execute = with_execute_lifecycle(logic, dao=_crashing(dao, point, die), queue=backend.queue,
                                 options=ExecuteOptions(lease=timedelta(seconds={lease})))
(delivery,) = backend.source().take(1, timedelta(seconds=5))  # one message, as a worker
execute.execute_raw(parse_parcel(delivery.body), on_failure=OnFailure.LEAVE_MESSAGE)
sys.exit(3)  # not reached: the process dies at the crash point
"""


def crashes_aws(
    aws: LocalAws, table: str, queue_url: str, tasks_per_point: int, tmp: Path
) -> list[FaultResult]:
    store = f"dynamodb://{table}?region=us-east-1&endpoint={aws.dynamodb}"
    _, sqs = _aws_clients(aws)  # a dead runner's message comes back after 3 s
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"VisibilityTimeout": "3"})
    return crashes_in_child_processes(store, queue_url, "dynamodb+sqs", tasks_per_point, tmp)


def crashes_sqlite(tasks_per_point: int, tmp: Path) -> list[FaultResult]:
    store = f"sqlite:///{tmp / 'crashes.db'}?visibility_timeout=3"
    return crashes_in_child_processes(store, None, "sqlite", tasks_per_point, tmp)


def crashes_in_child_processes(
    store: str, queue_url: str | None, label: str, tasks_per_point: int, tmp: Path
) -> list[FaultResult]:
    """Child processes take one message each and die (``os._exit``) at each crash point of
    the execute lifecycle, on the backend the URLs name. Duplicate deliveries arrive while
    the dead attempts' leases still hold (nothing may run); then a real ``Worker`` polls the
    queue, and the messages come back after their visibility timeout, as in production."""
    from simple_async_tasks.app.backend import Backend
    from simple_async_tasks.worker import Worker

    lease = 3.0
    backend = Backend(store, queue_url)
    dao = backend.dao(SendEmail)
    queue = backend.queue
    options = ExecuteOptions(lease=timedelta(seconds=lease))
    results = []
    for point in CRASH_POINTS:
        log = tmp / f"crash-{label}-{point}.log"
        enqueue = with_queue_lifecycle(
            get_new=lambda i, p=point: SendEmail(user_id=f"{p}-{i}"), dao=dao, queue=queue
        )
        keys = [enqueue(i).user_id for i in range(tasks_per_point)]
        script = CRASH_CHILD.format(root=str(ROOT), lease=lease)

        def run_child(_: str, point: str = point, log: Path = log, script: str = script) -> int:
            args = [store, queue_url or "", point, str(log)]
            return subprocess.run(
                [sys.executable, "-c", script, *args], check=False, timeout=120
            ).returncode

        with ThreadPoolExecutor(4) as pool:
            codes = list(pool.map(run_child, keys))
        assert set(codes) == {137}, f"children did not die at {point}: {codes}"

        def logic(task: SendEmail, log: Path = log) -> None:
            with open(log, "a", encoding="utf-8") as out:
                out.write(task.user_id + "\n")

        healthy = with_execute_lifecycle(logic, dao=dao, queue=queue, options=options)
        runs_before = (
            Counter(log.read_text(encoding="utf-8").split()) if log.exists() else Counter()
        )
        live_checked = 0
        for key in keys:  # a duplicate delivery while the dead attempt's lease holds
            stored = dao.get(key)
            if stored is not None and stored.lease_until is not None:
                left = stored.lease_until - datetime.now(timezone.utc)
                if left > timedelta(seconds=lease * 0.25):
                    healthy(stored, on_failure=OnFailure.LEAVE_MESSAGE)
                    live_checked += 1
        assert live_checked, "no duplicate arrived while an attempt was live; raise the lease"
        runs_live = Counter(log.read_text(encoding="utf-8").split()) if log.exists() else Counter()
        worker = Worker(healthy, backend.source(), concurrency=4, poll_wait=timedelta(seconds=1))
        running = threading.Thread(target=worker.run, kwargs={"handle_signals": False})
        running.start()  # a real worker, stopped as soon as nothing is lost (or after 60 s)
        deadline = time.monotonic() + 60
        while count_lost(dao, keys) and time.monotonic() < deadline:
            time.sleep(0.2)
        worker.stop()
        running.join(timeout=60)
        runs = Counter(log.read_text(encoding="utf-8").split())
        results.append(
            FaultResult(
                f"executor crash {point.replace('_', ' ')} (message redelivered)",
                label,
                sum(runs[k] for k in keys),
                len(keys),
                sum(runs_live[k] - runs_before[k] for k in keys),
                count_lost(dao, keys),
            )
        )
    return results


# -- 3. crash between save and push ------------------------------------------


def save_push_crash_memory(tasks: int = 200, sweeps: int = 4) -> FaultResult:
    clock = FakeClock()
    dao = InMemoryTaskDao(SendEmail, clock=clock)
    queue = InMemoryTaskQueue(clock=clock)

    class DyingQueue(InMemoryTaskQueue):
        def push(self, parcel: Any, *, delay: timedelta = timedelta(0)) -> None:
            raise SimulatedCrash()

    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"),
        dao=dao,
        queue=DyingQueue(clock=clock),
        clock=clock,
    )
    for i in range(tasks):
        with contextlib.suppress(SimulatedCrash):
            enqueue(i)
    assert len(queue) == 0  # every message was lost
    clock.advance(timedelta(minutes=20))
    with ThreadPoolExecutor(sweeps) as pool:
        reports = list(
            pool.map(
                lambda _: requeue_stale(dao=dao, queue=queue, clock=clock, page_size=17),
                range(sweeps),
            )
        )
    again = requeue_stale(dao=dao, queue=queue, clock=clock)
    pushed = sum(len(r.requeued) for r in reports) + len(again.requeued)
    runs: Counter[str] = Counter()
    execute = with_execute_lifecycle(
        lambda t: runs.update([t.user_id]), dao=dao, queue=queue, clock=clock
    )
    drain(queue, execute)
    keys = [f"u{i}" for i in range(tasks)]
    assert pushed == tasks, f"sweeps pushed {pushed} messages for {tasks} lost ones"
    return tally(
        f"crash between save and push, {sweeps} concurrent sweeps",
        "memory",
        runs,
        tasks,
        dao,
        keys,
    )


# -- 4. transient AWS errors ---------------------------------------------------


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        yield self.data


class Injector:
    """Makes the first ``k`` calls of a client fail with ``fault``, through botocore's events."""

    def __init__(self, client: Any, fault: str, k: int) -> None:
        self.client, self.fault, self.left = client, fault, k
        self.injected = 0
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-send", self.before_send)
        client.meta.events.register("before-call", self.before_call)

    def before_call(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def before_send(self, request: Any, **_: Any) -> Any:
        if self.left <= 0:
            return None
        self.left -= 1
        self.injected += 1
        from botocore.awsrequest import AWSResponse
        from botocore.exceptions import ConnectionClosedError

        if self.fault == "connection reset":
            raise ConnectionClosedError(endpoint_url=request.url)
        body = json.dumps({"__type": self.fault, "message": f"injected {self.fault}"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": self.fault}
        return AWSResponse(request.url, 400, headers, _Body(body))

    def remove(self) -> None:
        self.client.meta.events.unregister("before-send", self.before_send)
        self.client.meta.events.unregister("before-call", self.before_call)


def transient_errors_aws(
    aws: LocalAws, table: str, queue_url: str, tasks: int = 20
) -> FaultResult:
    """Every 3rd call fails once (throttling, a reset connection) while tasks run end to end."""
    from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue, create_sqs_handler

    dynamodb, sqs = _aws_clients(aws)
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb)
    queue = SqsTaskQueue(queue_url, client=sqs)
    runs: Counter[str] = Counter()
    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"t{i}"), dao=dao, queue=queue
    )
    handler = create_sqs_handler(
        with_execute_lifecycle(lambda t: runs.update([t.user_id]), dao=dao, queue=queue)
    )
    faults = ["ProvisionedThroughputExceededException", "ThrottlingException", "connection reset"]
    injectors = [Injector(dynamodb, faults[0], 0), Injector(sqs, "ThrottlingException", 0)]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    try:
        for i in range(tasks):
            injectors[i % 2].fault = faults[i % 3]
            injectors[i % 2].left = 1
            enqueue(i)
        messages = take_all(sqs, queue_url)
        for i in range(0, len(messages), 10):
            injectors[0].left = 2
            records = [
                {
                    "messageId": m["MessageId"],
                    "body": m["Body"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                }
                for m in messages[i : i + 10]
            ]
            assert handler({"Records": records}, None) == {"batchItemFailures": []}
    finally:
        for injector in injectors:
            injector.remove()
    keys = [f"t{i}" for i in range(tasks)]
    return FaultResult(
        "throttling / connection resets on every call kind",
        "dynamodb+sqs",
        sum(runs.values()),
        tasks,
        sum(c - 1 for c in runs.values() if c > 1) + max(0, len(messages) - tasks),
        count_lost(dao, keys),
    )


# -- 7. poison task -------------------------------------------------------------


def poison_memory(tasks: int = 50, max_attempts: int = 3) -> FaultResult:
    """Logic that always fails: each task stops FAILED after max_attempts; the queue drains."""
    from simple_async_tasks import RetryPolicy

    clock = FakeClock()
    dao = InMemoryTaskDao(SendEmail, clock=clock)
    queue = InMemoryTaskQueue(clock=clock)
    runs: Counter[str] = Counter()

    def logic(task: SendEmail) -> None:
        runs[task.user_id] += 1
        raise ValueError("poison")

    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"p{i}"), dao=dao, queue=queue, clock=clock
    )
    execute = with_execute_lifecycle(
        logic, dao=dao, queue=queue, clock=clock, retry=RetryPolicy(max_attempts=max_attempts)
    )
    for i in range(tasks):
        enqueue(i)
    drain(queue, execute, max_deliveries=tasks * (max_attempts + 1))
    stuck = sum(
        1
        for i in range(tasks)
        if (t := dao.get(f"p{i}")) is None
        or t.status is not S.FAILED
        or t.failures != max_attempts
    )
    return FaultResult(
        f"poison task (always fails, max_attempts={max_attempts})",
        "memory",
        sum(runs.values()),
        tasks,
        sum(c - max_attempts for c in runs.values() if c > max_attempts),
        stuck + len(queue),
    )


def save_push_crash_aws(
    aws: LocalAws, table: str, queue_url: str, tasks: int = 30, sweeps: int = 3
) -> FaultResult:
    """Pushes lost after the save on DynamoDB; concurrent sweeps find them through the index."""
    from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue

    dynamodb, sqs = _aws_clients(aws)
    clock = FakeClock(datetime.now(timezone.utc))
    dao = DynamoTaskDao(SendEmail, table_name=table, client=dynamodb, clock=clock)
    queue = SqsTaskQueue(queue_url, client=sqs)

    class DyingQueue(SqsTaskQueue):
        def push(self, parcel: Any, *, delay: timedelta = timedelta(0)) -> None:
            raise SimulatedCrash()

    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"s{i}"),
        dao=dao,
        queue=DyingQueue(queue_url, client=sqs),
        clock=clock,
    )
    for i in range(tasks):
        with contextlib.suppress(SimulatedCrash):
            enqueue(i)
    clock.advance(timedelta(minutes=20))
    with ThreadPoolExecutor(sweeps) as pool:
        reports = list(
            pool.map(
                lambda _: requeue_stale(dao=dao, queue=queue, clock=clock, page_size=7),
                range(sweeps),
            )
        )
    pushed = sum(len(r.requeued) for r in reports)
    runs: Counter[str] = Counter()
    execute = with_execute_lifecycle(
        lambda t: runs.update([t.user_id]), dao=dao, queue=queue, clock=clock
    )
    again = requeue_stale(dao=dao, queue=queue, clock=clock)
    assert again.requeued == [], "a second sweep pushed again"
    messages = take_all(sqs, queue_url)
    for message in messages:
        execute(decode_parcel(message["Body"], SendEmail, default_converter))
    keys = [f"s{i}" for i in range(tasks)]
    assert pushed == tasks == len(messages), (pushed, tasks, len(messages))
    return tally(
        f"crash between save and push, {sweeps} concurrent sweeps",
        "dynamodb+sqs",
        runs,
        tasks,
        dao,
        keys,
    )


# -- 8. leases: live attempts past their lease, late attempts, clock skew -------------------


def lease_outlived_threads(tasks: int = 24, threads: int = 8, lease: float = 0.3) -> FaultResult:
    """Every task runs 3x its lease while duplicate deliveries (x3) arrive on 8 threads:
    the heartbeat renews each live lease, so no duplicate may take a live attempt over."""
    dao, queue, runs, logic = _counting_in_memory(sleep=lease * 3)
    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue
    )
    execute = with_execute_lifecycle(
        logic, dao=dao, queue=queue, options=ExecuteOptions(lease=timedelta(seconds=lease))
    )
    keys = [enqueue(i).user_id for i in range(tasks)]
    parcels = [decode_parcel(m.body, SendEmail, default_converter) for m in queue.receive(tasks)]
    deliveries = parcels * 3
    random.Random(5).shuffle(deliveries)

    def deliver(parcel: Any) -> None:
        time.sleep(random.random() * lease * 4)  # duplicates spread over the slow runs
        execute(parcel)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(deliver, deliveries))
    drain(queue, execute)  # the put-back duplicates: each finds its task FULFILLED
    return tally(
        f"attempts run 3x their lease, duplicates x3 on {threads} threads",
        "memory",
        runs,
        tasks,
        dao,
        keys,
    )


LEASE_CHILD = r"""
import sys, time, random
sys.path.insert(0, {root!r})
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from simple_async_tasks import ExecuteOptions, SqliteTaskDao, SqliteTaskQueue
from simple_async_tasks import with_execute_lifecycle
from simple_async_tasks.parcel import decode_parcel
from simple_async_tasks.serialization import default_converter
from tests.tasks import SendEmail

db, log, lease = sys.argv[1], sys.argv[2], float(sys.argv[3])
bodies = sys.stdin.read().splitlines()
dao = SqliteTaskDao(SendEmail, db)
queue = SqliteTaskQueue(db, name="retries")

def logic(task):
    with open(log, "a") as out:
        out.write(task.user_id + "\n")
    time.sleep(lease * 3)

execute = with_execute_lifecycle(
    logic, dao=dao, queue=queue, options=ExecuteOptions(lease=timedelta(seconds=lease))
)

def deliver(body):
    time.sleep(random.random() * lease * 4)
    execute(decode_parcel(body, SendEmail, default_converter))

with ThreadPoolExecutor(4) as pool:
    list(pool.map(deliver, bodies))
"""


def lease_outlived_processes(tmp: Path, tasks: int = 12, lease: float = 0.5) -> FaultResult:
    """Two processes on one SQLite file each deliver every task (so each is delivered
    twice at once), and every task runs 3x its lease: renewals keep each run single."""
    from simple_async_tasks import SqliteTaskDao, SqliteTaskQueue

    db = tmp / "lease.db"
    dao = SqliteTaskDao(SendEmail, db)
    queue = SqliteTaskQueue(db)
    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue
    )
    keys = [enqueue(i).user_id for i in range(tasks)]
    bodies = "\n".join(m.body for m in queue.receive(tasks))
    logs = [tmp / "lease-a.log", tmp / "lease-b.log"]
    script = LEASE_CHILD.format(root=str(ROOT))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(db), str(log), str(lease)],
            stdin=subprocess.PIPE,
            text=True,
        )
        for log in logs
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(bodies)
        proc.stdin.close()
    for proc in procs:
        assert proc.wait(timeout=300) == 0, f"delivery process exited with {proc.returncode}"
    runs: Counter[str] = Counter()
    for log in logs:
        runs.update(log.read_text(encoding="utf-8").split())
    return tally(
        "attempts run 3x their lease, 2 processes x 4 threads deliver each task",
        "sqlite",
        runs,
        tasks,
        dao,
        keys,
    )


def late_attempt_vs_mutex(accounts: int = 20) -> FaultResult:
    """Per account: attempt 1 of job 1 stalls past its lease and is taken over by attempt 2;
    attempt 1 then finishes late; job 2 (same mutex) is delivered while attempt 2 runs. The
    late attempt's lock release is fenced, so job 2 never runs beside attempt 2.
    ``duplicates`` counts runs that overlapped another run holding the same mutex."""
    from ..tasks import SyncAccount

    clock = FakeClock()
    dao = InMemoryTaskDao(SyncAccount, clock=clock)
    queue = InMemoryTaskQueue(clock=clock)
    enqueue = with_queue_lifecycle(get_new=lambda t: t, dao=dao, queue=queue, clock=clock)
    lease = timedelta(minutes=1)
    active: Counter[str] = Counter()
    overlaps = 0
    runs: Counter[str] = Counter()
    lock = threading.Lock()
    gates: dict[tuple[str, int], tuple[threading.Event, threading.Event]] = {}

    def logic(task: SyncAccount) -> None:
        nonlocal overlaps
        with lock:
            runs[f"{task.account_id}/{task.job}"] += 1
            active[task.account_id] += 1
            if active[task.account_id] > 1 and runs[f"{task.account_id}/{task.job}"] == 1:
                overlaps += 1  # another task of this mutex is running beside this one
            gate = gates.get((task.account_id, task.attempts))
        if task.job == 1 and gate is not None:
            started, finish = gate
            started.set()
            assert finish.wait(10)
        with lock:
            active[task.account_id] -= 1

    execute = with_execute_lifecycle(
        logic, dao=dao, queue=queue, clock=clock, options=ExecuteOptions(lease=lease)
    )
    keys = []
    for n in range(accounts):
        account = f"acct{n}"
        first = enqueue(SyncAccount(account_id=account, job=1))
        second = enqueue(SyncAccount(account_id=account, job=2))
        keys += [dao.unique_key(first), dao.unique_key(second)]
        gates[(account, 1)] = (threading.Event(), threading.Event())
        gates[(account, 2)] = (threading.Event(), threading.Event())
        late = threading.Thread(target=execute, args=(first,))
        late.start()
        assert gates[(account, 1)][0].wait(10)
        clock.advance(lease + timedelta(seconds=1))
        takeover = threading.Thread(target=execute, args=(first,))
        takeover.start()
        assert gates[(account, 2)][0].wait(10)
        gates[(account, 1)][1].set()
        late.join(10)
        execute(second)  # attempt 2 still holds the account: put back, never run beside it
        gates[(account, 2)][1].set()
        takeover.join(10)
    runs_of_first = sum(runs[f"acct{n}/1"] for n in range(accounts))
    assert runs_of_first == 2 * accounts  # the stalled attempt and its takeover
    queue_before = len(queue)
    drain(queue, execute)
    assert queue_before > 0
    return FaultResult(
        "late attempt finishes after its takeover; same-mutex task delivered",
        "memory",
        sum(runs.values()),
        2 * accounts,
        overlaps,
        count_lost(dao, keys),
    )


def clock_skew(tasks: int = 50, skew: timedelta = timedelta(minutes=10)) -> FaultResult:
    """A second worker's clock runs ``skew`` ahead; with ``clock_skew`` set above it, its
    duplicate deliveries never take over the live attempts of the first worker."""
    here, ahead = FakeClock(), FakeClock()
    ahead.advance(skew)
    dao = InMemoryTaskDao(SendEmail, clock=here)
    queue = InMemoryTaskQueue(clock=here)
    options = ExecuteOptions(clock_skew=skew + timedelta(minutes=5))
    runs: Counter[str] = Counter()
    running: list[SendEmail] = []

    def slow(task: SendEmail) -> None:
        runs[task.user_id] += 1
        running.append(task)
        for duplicate in list(running):  # the skewed worker delivers every live task again
            skewed(duplicate)

    def log_run(task: SendEmail) -> None:
        runs[task.user_id] += 1

    enqueue = with_queue_lifecycle(
        get_new=lambda i: SendEmail(user_id=f"u{i}"), dao=dao, queue=queue, clock=here
    )
    execute = with_execute_lifecycle(slow, dao=dao, queue=queue, clock=here, options=options)
    skewed = with_execute_lifecycle(log_run, dao=dao, queue=queue, clock=ahead, options=options)
    keys = [enqueue(i).user_id for i in range(tasks)]
    drain(queue, execute)
    return tally(
        f"a worker's clock {int(skew.total_seconds() // 60)} min ahead (clock_skew margin set)",
        "memory",
        runs,
        tasks,
        dao,
        keys,
    )
