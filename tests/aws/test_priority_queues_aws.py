"""Queues by priority on SQS (moto) with records in DynamoDB Local, over HTTP: one SQS queue
per name, a worker that takes them in priority order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from simple_async_tasks.aws import reset_clients
from simple_async_tasks.testing.local_aws import LocalAws

from ..test_priority_queues import Bulk, Urgent, routed_app


def test_a_worker_on_two_sqs_queues_runs_high_before_low(
    aws_endpoint: LocalAws, table: str, sqs: Any
) -> None:
    urls = {
        name: sqs.create_queue(QueueName=f"{table}-{name}")["QueueUrl"] for name in ("high", "low")
    }
    ran: list[str] = []
    store = f"dynamodb://{table}?region=us-east-1&endpoint={aws_endpoint.dynamodb}"
    app = routed_app(store, ran, **urls)
    try:
        for n in range(4):
            app.enqueue(Bulk(n=n))
        for n in range(4):
            app.enqueue(Urgent(n=n))
        assert app.queue_for(Urgent).queue_url == urls["high"]
        worker = app.worker(concurrency=1, schedule=False, poll_wait=timedelta(0), register=False)
        worker.run(max_idle=timedelta(seconds=1), handle_signals=False)
        assert ran == [f"urgent {n}" for n in range(4)] + [f"bulk {n}" for n in range(4)]
        for url in urls.values():
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])[
                "Attributes"
            ]
            counts = (
                attributes["ApproximateNumberOfMessages"],
                attributes["ApproximateNumberOfMessagesNotVisible"],
            )
            assert counts == ("0", "0")  # each deleted from the queue it came from
    finally:
        reset_clients()
