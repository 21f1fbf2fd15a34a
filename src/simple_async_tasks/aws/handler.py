"""``create_sqs_handler``: the executor(s) as the handler of an SQS-triggered Lambda."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from ..errors import InvalidEventError, SimpleAsyncTasksError
from ..lifecycle.execute import ExecuteOutcome
from ..routing import Executors, RawExecutor, Router
from .events import BatchItemFailure, LambdaContext, SqsBatchResponse, SqsRecord

logger = logging.getLogger("simple_async_tasks.lambda")

SqsHandler = Callable[[Mapping[str, Any], Any], SqsBatchResponse]


def _records(event: object) -> list[Any]:
    if not isinstance(event, Mapping) or not isinstance(event.get("Records"), list):
        kind = type(event).__name__
        keys = sorted(event)[:5] if isinstance(event, Mapping) else []
        raise InvalidEventError(
            f"this handler takes SQS events ({{'Records': [...]}} from an SQS event source "
            f"mapping), got a {kind} with keys {keys}; check the function's trigger"
        )
    records: list[Any] = event["Records"]
    for record in records:
        source = record.get("eventSource") if isinstance(record, Mapping) else None
        if source != "aws:sqs":
            raise InvalidEventError(
                f"this handler takes SQS events, got a record from {source!r}; "
                "check the function's trigger"
            )
    return records


def _reason(error: Exception) -> str:
    """What to log about a failure: library errors in full, other errors by type only
    (their messages may carry task data; the record keeps them in ``last_error``)."""
    if isinstance(error, SimpleAsyncTasksError):
        return f"{type(error).__name__}: {error}"
    return type(error).__name__


def create_sqs_handler(
    executors: Executors,
    *,
    by_queue_arn: Mapping[str, RawExecutor] | None = None,
    time_guard: timedelta = timedelta(seconds=10),
) -> SqsHandler:
    """Build ``handler(event, context)`` for an SQS-triggered Lambda.

    ``executors`` is one executor, several (routed by ``meta.taskType``) or a
    mapping from task type to executor; ``by_queue_arn`` routes parcels that
    carry no task type (from the TypeScript original) by the queue they came
    from. The handler returns the partial batch response: every record that
    could not be decoded, routed or run is in ``batchItemFailures`` and is
    redelivered by SQS; the others are deleted. On FIFO queues the records
    after the first failure are reported too, to keep their order. When the
    Lambda has less than ``time_guard`` left, the records not yet started are
    reported, so they are redelivered rather than cut off.

    Raises:
        InvalidEventError: the event is not an SQS event (a wrong trigger).
    """
    router = Router(executors, by_source=by_queue_arn)
    guard_ms = time_guard.total_seconds() * 1000

    def handler(
        event: Mapping[str, Any], context: LambdaContext | None = None
    ) -> SqsBatchResponse:
        records = _records(event)
        failures: list[BatchItemFailure] = []
        stop_reason = ""
        for index, record in enumerate(records):
            message_id = record.get("messageId") if isinstance(record, Mapping) else None
            if not isinstance(message_id, str) or not message_id:
                logger.error("record %d has no messageId; it cannot be reported or retried", index)
                continue
            if (
                not stop_reason
                and context is not None
                and context.get_remaining_time_in_millis() < guard_ms
            ):
                stop_reason = "the Lambda is running out of time"
            if stop_reason:
                logger.warning("message %s not started: %s", message_id, stop_reason)
                failures.append({"itemIdentifier": message_id})
                continue
            if not _run_record(router, record, message_id):
                failures.append({"itemIdentifier": message_id})
                if str(record.get("eventSourceARN", "")).endswith(".fifo"):
                    stop_reason = "an earlier message of this FIFO batch failed"
        return {"batchItemFailures": failures}

    return handler


def _run_record(router: Router, record: SqsRecord, message_id: str) -> bool:
    """Run one record; True if its message may be deleted (executed, skipped or put back).

    A failed attempt leaves the message on the queue: SQS redelivers it after
    its visibility timeout (the task's backoff still applies: an early
    redelivery is put back until due), and the redrive policy sends it to the
    dead-letter queue after maxReceiveCount receives.
    """
    try:
        body = record.get("body")
        if not isinstance(body, str):
            raise InvalidEventError(f"record body must be a string, got {type(body).__name__}")
        executor, raw = router.route(body, source=record.get("eventSourceARN"))
        result = executor.execute_raw(raw, leave_failures_on_queue=True)
    except Exception as error:
        logger.warning("message %s failed: %s", message_id, _reason(error))
        return False
    logger.info(
        "message %s: %s %s %s -> %s",
        message_id,
        executor.task_type,
        result.task.uuid,
        result.outcome.value,
        result.task.status.value,
    )
    return result.outcome is not ExecuteOutcome.FAILED
