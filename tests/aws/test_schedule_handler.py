"""The scheduler Lambda of examples/lambda_app.py on the local endpoint."""

from __future__ import annotations

from datetime import timedelta

from simple_async_tasks import AsyncTaskStatus

from .conftest import Context, lambda_event, queue_arn, receive_all


class _Lost(Exception):
    pass


def test_schedule_handler_recovers_a_lost_push(app, sqs, queue_url):
    def lost(parcel, delay=timedelta(0)):
        raise _Lost  # the process died between the save and the push

    app.tasks.queue.push = lost
    try:
        app.send_invoice_email.enqueue(invoice_id="lost-1", email="a@x", amount_cents=1)
    except _Lost:
        pass
    finally:
        del app.tasks.queue.push
    assert receive_all(sqs, queue_url) == []
    app.scheduler.requeue_after = timedelta(0)
    event = {"source": "aws.events", "detail-type": "Scheduled Event"}
    result = app.schedule_handler(event, Context([60_000]))
    assert result["requeued"] == 1
    assert result["out_of_time"] is False
    messages = receive_all(sqs, queue_url)
    assert len(messages) == 1
    response = app.handler(lambda_event(messages, queue_arn(sqs, queue_url)), None)
    assert response == {"batchItemFailures": []}
    assert app.tasks.dao(app.SendInvoiceEmail).get("lost-1").status is AsyncTaskStatus.FULFILLED


def test_schedule_handler_stops_when_time_runs_short(app):
    result = app.schedule_handler({}, Context([1_000]))
    assert result["out_of_time"] is True


def test_a_canceled_task_delivered_costs_one_refused_claim_and_never_runs(
    app, dynamodb, sqs, queue_url
):
    from collections import Counter

    from simple_async_tasks.operations import cancel_task

    for i in range(3):
        app.send_invoice_email.enqueue(invoice_id=f"c{i}", email="a@x", amount_cents=i)
    for i in range(3):
        cancel_task(app.tasks.dao(app.SendInvoiceEmail), f"c{i}")
    messages = receive_all(sqs, queue_url)
    calls: Counter[str] = Counter()

    def count(model, **_):
        calls[model.name] += 1

    client = app.tasks.dao(app.SendInvoiceEmail).client
    client.meta.events.register("before-call", count)
    try:
        response = app.handler(lambda_event(messages, queue_arn(sqs, queue_url)), None)
        single = app.handler(lambda_event(messages[:1], queue_arn(sqs, queue_url)), None)
    finally:
        client.meta.events.unregister("before-call", count)
    assert response == single == {"batchItemFailures": []}
    assert app.OUTBOX == []
    # one failed conditional claim per record (no read first), which changes nothing
    assert calls == Counter({"UpdateItem": 4})
    assert all(app.tasks.dao(app.SendInvoiceEmail).get(f"c{i}").version == 2 for i in range(3))
    assert all(
        app.tasks.dao(app.SendInvoiceEmail).get(f"c{i}").status is AsyncTaskStatus.CANCELED
        for i in range(3)
    )
