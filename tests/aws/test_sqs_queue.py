from __future__ import annotations

import json
from datetime import timedelta

import pytest

from simple_async_tasks.aws import SqsTaskQueue
from simple_async_tasks.contracts import ParcelMeta, TaskParcel
from simple_async_tasks.errors import QueueLimitError, QueueSendError
from simple_async_tasks.parcel import parse_parcel

from ..tasks import SendEmail, SyncAccount
from .conftest import receive_all


def parcel(task, depth=0):
    return TaskParcel(
        task=task,
        meta=ParcelMeta(
            queue_type="SQS", queue_url="q", task_type=type(task).__name__, requeue_depth=depth
        ),
    )


def test_push_sends_the_parcel_as_json(sqs, queue_url):
    queue = SqsTaskQueue(queue_url, client=sqs)
    queue.push(parcel(SendEmail(user_id="u1")))
    (message,) = receive_all(sqs, queue_url)
    raw = parse_parcel(message["Body"])
    assert raw.task["user_id"] == "u1"
    assert raw.meta.task_type == "SendEmail"


def test_delayed_push_is_invisible_until_due(sqs, queue_url):
    queue = SqsTaskQueue(queue_url, client=sqs)
    queue.push(parcel(SendEmail(user_id="late")), delay=timedelta(seconds=900))
    queue.push(parcel(SendEmail(user_id="now")))
    bodies = [json.loads(m["Body"])["task"]["user_id"] for m in receive_all(sqs, queue_url)]
    assert bodies == ["now"]
    with pytest.raises(QueueLimitError, match="between 0 and 0:15:00"):
        queue.push(parcel(SendEmail(user_id="x")), delay=timedelta(seconds=901))


def test_body_size_is_checked_before_sending(sqs, queue_url):
    queue = SqsTaskQueue(queue_url, client=sqs)
    big = SendEmail(user_id="u1", email="x" * (1024 * 1024))
    with pytest.raises(QueueLimitError, match="1048576-byte limit"):
        queue.push(parcel(big))
    with pytest.raises(QueueLimitError):
        queue.push_many([parcel(SendEmail(user_id="ok")), parcel(big)])
    assert receive_all(sqs, queue_url) == []  # nothing half-sent


def test_push_many_batches_by_ten_and_by_size(sqs, queue_url):
    calls = []
    sqs.meta.events.register("before-call.sqs.SendMessageBatch", lambda **kw: calls.append(1))
    try:
        queue = SqsTaskQueue(queue_url, client=sqs)
        queue.push_many([parcel(SendEmail(user_id=f"u{i}")) for i in range(25)])
        assert len(calls) == 3
        calls.clear()
        # 4 bodies of ~400 KiB: at most 2 fit in one 1 MiB batch
        queue.push_many(
            [parcel(SendEmail(user_id=f"b{i}", email="y" * 400_000)) for i in range(4)]
        )
        assert len(calls) == 2
    finally:
        sqs.meta.events.unregister("before-call.sqs.SendMessageBatch")
    assert len(receive_all(sqs, queue_url)) == 29


def test_batch_entries_that_keep_failing_are_named(sqs, queue_url):
    def fail_second(parsed, **kwargs):
        parsed["Successful"] = parsed["Successful"][:1]
        parsed["Failed"] = [
            {"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "try again"}
        ]

    sqs.meta.events.register("after-call.sqs.SendMessageBatch", fail_second)
    try:
        queue = SqsTaskQueue(queue_url, client=sqs)
        with pytest.raises(QueueSendError, match="entry 1: InternalError") as caught:
            queue.push_many([parcel(SendEmail(user_id="a")), parcel(SendEmail(user_id="b"))])
        assert caught.value.failed[0]["Id"] == "1"
    finally:
        sqs.meta.events.unregister("after-call.sqs.SendMessageBatch", fail_second)


def test_fifo_groups_by_mutex_and_dedups_by_unique_key(sqs, fifo_queue_url):
    queue = SqsTaskQueue(fifo_queue_url, client=sqs)
    assert queue.max_delay == timedelta(0)
    same = parcel(SyncAccount(account_id="acc", job=1))
    queue.push(same)
    queue.push(same)  # the same enqueue: deduplicated by SQS
    queue.push(parcel(SyncAccount(account_id="acc", job=2)))
    queue.push(parcel(SendEmail(user_id="u1")))
    messages = receive_all(sqs, fifo_queue_url)
    groups = sorted(m["Attributes"]["MessageGroupId"] for m in messages)
    assert groups == ["SendEmail", "SyncAccount#acc", "SyncAccount#acc"]
    with pytest.raises(QueueLimitError, match=r"FIFO queue .* does not allow a per-message delay"):
        queue.push(same, delay=timedelta(seconds=5))


def test_the_worker_deletes_finished_messages_in_batches(sqs, queue_url):
    """Deletes ride with the next receive (and the last ones with the worker's stop):
    one DeleteMessageBatch per up to 10 messages instead of one DeleteMessage each."""
    from simple_async_tasks import InMemoryTaskDao, with_execute_lifecycle, with_queue_lifecycle
    from simple_async_tasks.worker import SqsSource, Worker

    dao = InMemoryTaskDao(SendEmail)
    queue = SqsTaskQueue(queue_url, client=sqs)
    enqueue = with_queue_lifecycle(get_new=lambda u: SendEmail(user_id=u), dao=dao, queue=queue)
    for i in range(12):
        enqueue(f"u{i}")
    calls: dict[str, int] = {}

    def count(event_name, **_):
        name = event_name.rsplit(".", 1)[-1]
        calls[name] = calls.get(name, 0) + 1

    sqs.meta.events.register("before-call.sqs.*", count)
    try:
        worker = Worker(
            with_execute_lifecycle(lambda task: None, dao=dao, queue=queue),
            SqsSource(queue_url, sqs),
            concurrency=4,
            poll_wait=timedelta(seconds=1),
        )
        worker.run(handle_signals=False, max_idle=timedelta(seconds=1))
    finally:
        sqs.meta.events.unregister("before-call.sqs.*", count)
    assert {t.status.value for t in dao.all()} == {"FULFILLED"}
    assert calls.get("DeleteMessage", 0) == 0
    assert 2 <= calls["DeleteMessageBatch"] <= 6
    left = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert left["ApproximateNumberOfMessages"] == "0"
    assert left["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_sqs_errors_leave_the_queue_as_the_librarys_own(sqs, queue_url):
    """A raw ClientError never escapes: the CLI and callers catch BackendError alone."""
    from botocore.exceptions import ClientError

    from simple_async_tasks.errors import BackendError
    from simple_async_tasks.worker import SqsSource

    gone = queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    queue = SqsTaskQueue(gone, client=sqs)
    with pytest.raises(BackendError, match=r"SQS queue .*no-such-queue.* does not exist") as err:
        queue.push(parcel(SendEmail(user_id="u1")))
    assert isinstance(err.value.__cause__, ClientError)
    assert err.value.code is not None
    with pytest.raises(BackendError, match="does not exist"):
        queue.push_many([parcel(SendEmail(user_id="u2"))])
    with pytest.raises(BackendError, match="does not exist"):
        SqsSource(gone, sqs).take(1, timedelta(0))


def test_the_depth_of_an_sqs_queue_is_its_approximate_counts(sqs, queue_url):
    from simple_async_tasks.operations import QueueDepth, queue_depth

    queue = SqsTaskQueue(queue_url, client=sqs)
    for i in range(3):
        queue.push(parcel(SendEmail(user_id=f"u{i}")))
    queue.push(parcel(SendEmail(user_id="later")), delay=timedelta(seconds=60))
    sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, VisibilityTimeout=60)
    assert queue_depth(queue) == QueueDepth(visible=2, in_flight=1, delayed=1, exact=False)


def test_purging_an_sqs_queue_drops_its_messages_once_a_minute(sqs, queue_url):
    from simple_async_tasks.errors import BackendError
    from simple_async_tasks.operations import purge_queue, queue_depth

    queue = SqsTaskQueue(queue_url, client=sqs)
    for i in range(3):
        queue.push(parcel(SendEmail(user_id=f"u{i}")))
    assert purge_queue(queue) is None  # SQS does not say how many
    assert queue_depth(queue).visible == 0
    with pytest.raises(BackendError, match="PurgeQueueInProgress"):
        purge_queue(queue)  # SQS refuses a second purge within 60 s
