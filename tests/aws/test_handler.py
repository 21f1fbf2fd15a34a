"""The Lambda handler on real SQS messages and DynamoDB records (moto server over HTTP)."""

from __future__ import annotations

import json
import sys

import pytest

from simple_async_tasks import AsyncTaskStatus
from simple_async_tasks.aws import reset_clients
from simple_async_tasks.errors import InvalidEventError

from ..tasks import SendEmail
from .conftest import Context, lambda_event, load_app, queue_arn, receive_all

S = AsyncTaskStatus


def deliver(app, sqs, queue_url, context=None):
    messages = receive_all(sqs, queue_url)
    event = lambda_event(messages, queue_arn(sqs, queue_url))
    return messages, app.handler(event, context)


def test_end_to_end_every_task_fulfilled(app, sqs, queue_url):
    for i in range(12):
        app.send_invoice_email.enqueue(
            invoice_id=f"inv-{i}", email=f"c{i}@example.com", amount_cents=1000 + i
        )
    app.send_invoice_email.enqueue(
        invoice_id="inv-0", email="c0@example.com", amount_cents=1000
    )  # duplicate
    for rev in (1, 2):
        app.sync_customer.enqueue(customer_id="cust-1", revision=rev)
    messages, response = deliver(app, sqs, queue_url)
    assert len(messages) == 14
    assert response == {"batchItemFailures": []}
    for i in range(12):
        task = app.tasks.dao(app.SendInvoiceEmail).get(f"inv-{i}")
        assert (task.status, task.attempts) == (S.FULFILLED, 1)
    assert app.tasks.dao(app.SyncCustomerToCrm).get('["cust-1",1]').status is S.FULFILLED
    assert app.tasks.dao(app.SyncCustomerToCrm).get('["cust-1",2]').status is S.FULFILLED
    assert sorted(app.OUTBOX).count("invoice inv-0 to c0@example.com") == 1
    assert app.tasks.dao(app.SyncCustomerToCrm).mutex_holder("SyncCustomerToCrm#cust-1") is None
    # redelivering the same batch runs nothing again
    app.OUTBOX.clear()
    assert app.handler(lambda_event(messages, queue_arn(sqs, queue_url)), None) == {
        "batchItemFailures": []
    }
    assert app.OUTBOX == []


def test_bad_records_fail_alone(app, sqs, queue_url):
    app.send_invoice_email.enqueue(invoice_id="good-1", email="a@x", amount_cents=1)
    app.send_invoice_email.enqueue(invoice_id="good-2", email="b@x", amount_cents=2)
    app.send_invoice_email.enqueue(invoice_id="boom", email="c@x", amount_cents=3)
    sqs.send_message(QueueUrl=queue_url, MessageBody="{not json")
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps({"task": {"x": 1}, "meta": {"taskType": "NoSuchTask"}}),
    )
    original = app.tasks.executor(app.SendInvoiceEmail).logic

    def logic(task):
        if task.invoice_id == "boom":
            raise RuntimeError("mail provider down")
        return original(task)

    app.tasks.executor(app.SendInvoiceEmail).logic = logic
    messages, response = deliver(app, sqs, queue_url)
    by_body = {m["MessageId"]: m["Body"] for m in messages}
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert len(failed) == 3
    failed_bodies = [by_body[i] for i in failed]
    assert "{not json" in failed_bodies
    assert any("NoSuchTask" in b for b in failed_bodies)
    assert any('"boom"' in b for b in failed_bodies)
    assert app.tasks.dao(app.SendInvoiceEmail).get("good-1").status is S.FULFILLED
    assert app.tasks.dao(app.SendInvoiceEmail).get("good-2").status is S.FULFILLED
    boom = app.tasks.dao(app.SendInvoiceEmail).get("boom")
    assert boom.status is S.FAILED
    assert boom.last_error == "RuntimeError: mail provider down"


def test_parcel_without_task_type_is_routed_by_queue_arn(app, sqs, queue_url):
    from simple_async_tasks.aws import create_sqs_handler

    app.send_invoice_email.enqueue(invoice_id="ts-1", email="a@x", amount_cents=1)
    (message,) = receive_all(sqs, queue_url)
    body = json.loads(message["Body"])
    del body["meta"]["taskType"]  # as the TypeScript original sends it
    message["Body"] = json.dumps(body)
    arn = queue_arn(sqs, queue_url)
    both = [app.tasks.executor(app.SendInvoiceEmail), app.tasks.executor(app.SyncCustomerToCrm)]
    unrouted = create_sqs_handler(both)
    assert len(unrouted(lambda_event([message], arn), None)["batchItemFailures"]) == 1
    routed = create_sqs_handler(both, by_queue_arn={arn: app.tasks.executor(app.SendInvoiceEmail)})
    assert routed(lambda_event([message], arn), None) == {"batchItemFailures": []}
    assert app.tasks.dao(app.SendInvoiceEmail).get("ts-1").status is S.FULFILLED


def test_running_out_of_time_reports_the_untouched_records(app, sqs, queue_url):
    for i in range(5):
        app.send_invoice_email.enqueue(invoice_id=f"t-{i}", email="a@x", amount_cents=i)
    context = Context([60_000, 60_000, 60_000, 5_000])  # one look per batch, one per task
    _messages, response = deliver(app, sqs, queue_url, context)
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert len(failed) == 3  # the tasks run on threads, so which three is not fixed
    statuses = [app.tasks.dao(app.SendInvoiceEmail).get(f"t-{i}").status for i in range(5)]
    assert statuses.count(S.FULFILLED) == 2
    assert statuses.count(S.QUEUED) == 3


def test_fifo_failure_reports_it_and_everything_after_it(
    monkeypatch, aws_endpoint, table, sqs, fifo_queue_url
):
    app = load_app(monkeypatch, aws_endpoint, table, fifo_queue_url)
    try:
        for rev in range(1, 11):
            app.sync_customer.enqueue(customer_id="cust-fifo", revision=rev)
        app.CRM_RATE_LIMITED.add("cust-fifo")
        ran = []
        original = app.tasks.executor(app.SyncCustomerToCrm).logic

        def logic(task):
            ran.append(task.revision)
            if task.revision == 3:
                raise RuntimeError("fails at record 3")
            return original(task)

        app.tasks.executor(app.SyncCustomerToCrm).logic = logic
        app.CRM_RATE_LIMITED.clear()
        messages = receive_all(sqs, fifo_queue_url)
        assert len(messages) == 10
        response = app.handler(lambda_event(messages, queue_arn(sqs, fifo_queue_url)), None)
        failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        assert failed == [m["MessageId"] for m in messages[2:]]
        assert ran == [1, 2, 3]
    finally:
        sys.modules.pop("examples.lambda_app", None)
        reset_clients()


def test_an_event_that_is_not_sqs_gets_one_clear_error(app):
    with pytest.raises(InvalidEventError, match="takes SQS events"):
        app.handler({"detail-type": "Scheduled Event", "source": "aws.events"}, None)
    with pytest.raises(InvalidEventError, match="from 'aws:kinesis'"):
        app.handler({"Records": [{"eventSource": "aws:kinesis"}]}, None)


def test_an_invocation_with_a_registry_beats_while_it_runs_and_leaves(app, sqs, queue_url):
    from simple_async_tasks.aws import create_sqs_handler

    registry = app.tasks.registry()
    seen = []
    original = app.tasks.executor(app.SendInvoiceEmail).logic

    def logic(task):
        seen.append([(w.worker_id, w.kind, w.running, w.alive) for w in registry.workers()])
        return original(task)

    app.tasks.executor(app.SendInvoiceEmail).logic = logic
    stored = app.send_invoice_email.enqueue(invoice_id="i1", email="a@x", amount_cents=1)
    handler = create_sqs_handler(app.tasks.executors(), registry=registry, max_workers=1)

    class WithRequestId(Context):
        aws_request_id = "req-1"

    messages = receive_all(sqs, queue_url)
    response = handler(lambda_event(messages, queue_arn(sqs, queue_url)), WithRequestId([60_000]))
    assert response == {"batchItemFailures": []}
    assert seen == [[("lambda-req-1", "lambda", (f"SendInvoiceEmail {stored.uuid}",), True)]]
    assert registry.workers() == []  # removed at the end of the invocation


def test_async_logic_runs_in_the_lambda_handler_on_dynamodb_and_sqs(
    aws_endpoint, table, sqs, queue_url
):
    import asyncio

    from simple_async_tasks import TaskApp
    from simple_async_tasks.aws import create_sqs_handler

    tasks = TaskApp(
        f"dynamodb://{table}?region=us-east-1&endpoint={aws_endpoint.dynamodb}", queue=queue_url
    )
    sent: list[str] = []
    loops: set[int] = set()
    running = {"now": 0, "most": 0}

    @tasks.task(SendEmail)
    async def send(task: SendEmail) -> str:
        loops.add(id(asyncio.get_running_loop()))
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        await asyncio.sleep(0.2)
        running["now"] -= 1
        sent.append(task.user_id)
        return f"sent {task.user_id}"

    try:
        for n in range(8):
            send.enqueue(user_id=f"u{n}")
        handler = create_sqs_handler(tasks.executors(), max_workers=1, async_concurrency=8)
        messages = receive_all(sqs, queue_url)
        response = handler(lambda_event(messages, queue_arn(sqs, queue_url)), None)
        assert response == {"batchItemFailures": []}
        assert sorted(sent) == [f"u{n}" for n in range(8)]
        assert send.result("u2") == "sent u2"
        assert len(loops) == 1  # the invocation's loop
        assert running["most"] == 8  # all eight awaited at once, on one thread
    finally:
        reset_clients()


def test_coroutines_enqueue_on_dynamodb_and_sqs_once_and_the_handler_runs_it(
    aws_endpoint, table, sqs, queue_url
):
    import asyncio

    from simple_async_tasks import TaskApp
    from simple_async_tasks.aws import create_sqs_handler

    tasks = TaskApp(
        f"dynamodb://{table}?region=us-east-1&endpoint={aws_endpoint.dynamodb}", queue=queue_url
    )
    sent: list[str] = []

    @tasks.task(SendEmail)
    async def send(task: SendEmail) -> None:
        sent.append(task.user_id)

    async def requests() -> list[SendEmail]:
        from simple_async_tasks.aio import close_clients

        try:
            return await asyncio.gather(*(send.aenqueue(user_id="u1") for _ in range(20)))
        finally:
            await close_clients()

    try:
        stored = asyncio.run(requests())
        assert len({t.uuid for t in stored}) == 1
        messages = receive_all(sqs, queue_url)
        assert len(messages) == 1  # one message for twenty concurrent requests
        handler = create_sqs_handler(tasks.executors())
        response = handler(lambda_event(messages, queue_arn(sqs, queue_url)), None)
        assert response == {"batchItemFailures": []}
        assert sent == ["u1"]
    finally:
        reset_clients()
