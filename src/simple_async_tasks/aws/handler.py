"""``create_sqs_handler``: the executor(s) as the handler of an SQS-triggered Lambda."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..errors import InvalidEventError
from ..lifecycle.options import OnFailure
from ..parcel import RawParcel
from ..routing import (
    ExecuteResultLike,
    Executors,
    RawExecutor,
    Router,
    failure_reason,
    flush_hooks,
    settle,
)
from .events import LambdaContext, SqsBatchResponse, SqsRecord
from .visibility import hold_back

if TYPE_CHECKING:
    from ..lifecycle.workers import WorkerRegistry
    from .invocation import InvocationLoop

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


def create_sqs_handler(
    executors: Executors,
    *,
    by_queue_arn: Mapping[str, RawExecutor] | None = None,
    time_guard: timedelta = timedelta(seconds=10),
    max_workers: int = 4,
    async_concurrency: int = 100,
    registry: WorkerRegistry | None = None,
) -> SqsHandler:
    """Build ``handler(event, context)`` for an SQS-triggered Lambda.

    ``executors`` is one executor, several (routed by ``meta.taskType``) or a
    mapping from task type to executor; ``by_queue_arn`` routes parcels that
    carry no task type (from the TypeScript original) by the queue they came
    from. The handler returns the partial batch response: every record that
    could not be decoded, routed or run is in ``batchItemFailures`` and is
    redelivered by SQS; the others are deleted.

    Standard queues: the records of each task type are claimed together (on
    DynamoDB one conditional write per record, issued concurrently), then run
    on up to ``max_workers`` threads, each task's final status written as soon
    as it returns. A failed record's message is hidden for its task's backoff
    (``ChangeMessageVisibility``) before it is reported, so SQS brings it back
    when the retry is due, not after the queue's visibility timeout. FIFO
    queues (``.fifo``): records run one by one, in order, and the records
    after the first failure are reported without running. When the Lambda has
    less than ``time_guard`` left, tasks not yet started are reported (and put
    back to QUEUED if already claimed), so they are redelivered, not cut off.
    ``async def`` logic runs on one event loop per invocation, up to
    ``async_concurrency`` attempts at once, beside the sync records on their threads,
    with the same claims, time guard, report and FIFO order (``aws.invocation``).
    Hooks that buffer (``EmfMetrics``) are flushed at the end of each invocation.
    With ``registry`` (``app.registry()``), each invocation writes a heartbeat row
    (``lambda-<request id>``, its tasks) while it runs and removes it at its end: two
    more writes per invocation, so it is off by default.

    Raises:
        InvalidEventError: the event is not an SQS event (a wrong trigger).
    """
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")
    if async_concurrency < 1:
        raise ValueError(f"async_concurrency must be at least 1, got {async_concurrency}")
    router = Router(executors, by_source=by_queue_arn)
    guard_ms = time_guard.total_seconds() * 1000

    def handler(
        event: Mapping[str, Any], context: LambdaContext | None = None
    ) -> SqsBatchResponse:
        records = _records(event)

        def may_start() -> bool:
            return context is None or context.get_remaining_time_in_millis() >= guard_ms

        fifo = any(
            str(r.get("eventSourceARN", "")).endswith(".fifo")
            for r in records
            if isinstance(r, Mapping)
        )
        beats = _heartbeat(registry, records, context, max_workers)
        beats.__enter__()
        loop = _Loop(async_concurrency)
        try:
            if fifo:
                failed = _run_in_order(router, records, may_start, loop)
            else:
                failed = _run_batched(router, records, may_start, max_workers, loop)
        finally:
            loop.close()
            beats.__exit__(None, None, None)
            flush_hooks(router, logger)  # EMF metrics: one flush per invocation
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failed]}

    return handler


class _Loop:
    """The invocation's event loop (``aws.invocation``), made on first need: a batch
    with no async logic imports no event loop."""

    __slots__ = ("_limit", "_loop")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._loop: InvocationLoop | None = None

    def get(self) -> InvocationLoop:
        if self._loop is None:
            from .invocation import InvocationLoop

            self._loop = InvocationLoop(self._limit)
        return self._loop

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()


def _on_loop(executor: RawExecutor) -> bool:
    """``lifecycle.execute.runs_on_loop``, imported when a batch is run (any app that built
    an executor has loaded it): ``import simple_async_tasks.aws`` stays without it."""
    from ..lifecycle.execute import runs_on_loop

    return runs_on_loop(executor)


def _heartbeat(
    registry: WorkerRegistry | None,
    records: list[Any],
    context: LambdaContext | None,
    max_workers: int,
) -> AbstractContextManager[object]:
    """The invocation's heartbeat (or nothing without a registry): its tasks, as
    ``TaskType uuid`` read from the bodies, and the queues they came from."""
    if registry is None:
        return nullcontext()
    from ..lifecycle.workers import Heartbeat, new_worker_id  # only with a registry

    running, queues = [], []
    for record in records:
        if not isinstance(record, Mapping):
            continue
        queues.append(str(record.get("eventSourceARN", "?")))
        try:
            parcel = json.loads(str(record.get("body", "")))
            running.append(f"{parcel['meta']['taskType']} {parcel['task']['uuid']}")
        except (ValueError, KeyError, TypeError):
            running.append(f"message {record.get('messageId', '?')}")
    request = getattr(context, "aws_request_id", None) or new_worker_id()
    return Heartbeat(
        registry,
        f"lambda-{request}",
        running=lambda: running,
        queues=sorted(set(queues)),
        concurrency=max_workers,
        kind="lambda",
    )


def _message_id(record: Any, index: int) -> str | None:
    message_id = record.get("messageId") if isinstance(record, Mapping) else None
    if not isinstance(message_id, str) or not message_id:
        logger.error("record %d has no messageId; it cannot be reported or retried", index)
        return None
    return message_id


def _route(
    router: Router, record: SqsRecord, message_id: str
) -> tuple[RawExecutor, RawParcel] | None:
    try:
        body = record.get("body")
        if not isinstance(body, str):
            raise InvalidEventError(f"record body must be a string, got {type(body).__name__}")
        return router.route(body, source=record.get("eventSourceARN"))
    except Exception as error:
        logger.warning("message %s failed: %s", message_id, failure_reason(error))
        return None


def _run_batched(
    router: Router,
    records: list[Any],
    may_start: Callable[[], bool],
    max_workers: int,
    loop: _Loop,
) -> list[str]:
    failed: set[str] = set()
    order: list[str] = []
    groups: dict[int, tuple[RawExecutor, list[tuple[str, RawParcel, SqsRecord]]]] = {}
    for index, record in enumerate(records):
        message_id = _message_id(record, index)
        if message_id is None:
            continue
        order.append(message_id)
        routed = _route(router, record, message_id)
        if routed is None:
            failed.add(message_id)
            continue
        executor, raw = routed
        groups.setdefault(id(executor), (executor, []))[1].append((message_id, raw, record))
    batches = list(groups.values())
    plain = [(executor, [raw for _, raw, _ in items]) for executor, items in batches]
    if any(_on_loop(executor) for executor, _ in plain):
        ran = loop.get().run_groups(plain, may_start=may_start, max_workers=max_workers)
    else:
        ran = [_run_group(executor, raws, may_start, max_workers) for executor, raws in plain]
    for (executor, items), outcomes in zip(batches, ran, strict=True):
        if outcomes is None:
            for message_id, _, _ in items:
                logger.warning(
                    "message %s not started: the Lambda is running out of time", message_id
                )
                failed.add(message_id)
            continue
        for (message_id, _, record), outcome in zip(items, outcomes, strict=False):
            if not settle(message_id, executor, outcome, logger):
                failed.add(message_id)
                hold_back(executor, record, outcome)
    return [m for m in order if m in failed]


def _run_group(
    executor: RawExecutor,
    raws: list[RawParcel],
    may_start: Callable[[], bool],
    max_workers: int,
) -> Sequence[ExecuteResultLike | Exception] | None:
    """One task type's records on the handler's threads; None when not started."""
    if not may_start():
        return None
    return executor.execute_many_raw(
        raws, on_failure=OnFailure.LEAVE_MESSAGE, max_workers=max_workers, may_start=may_start
    )


def _run_in_order(
    router: Router, records: list[Any], may_start: Callable[[], bool], loop: _Loop
) -> list[str]:
    failed: list[str] = []
    stop_reason = ""
    for index, record in enumerate(records):
        message_id = _message_id(record, index)
        if message_id is None:
            continue
        if not stop_reason and not may_start():
            stop_reason = "the Lambda is running out of time"
        if stop_reason:
            logger.warning("message %s not started: %s", message_id, stop_reason)
            failed.append(message_id)
            continue
        routed = _route(router, record, message_id)
        ok = False
        if routed is not None:
            executor, raw = routed
            try:
                outcome: ExecuteResultLike | Exception = (
                    loop.get().run_one(executor, raw)
                    if _on_loop(executor)
                    else executor.execute_raw(raw, on_failure=OnFailure.LEAVE_MESSAGE)
                )
            except Exception as error:
                outcome = error
            ok = settle(message_id, executor, outcome, logger)
            if not ok:
                hold_back(executor, record, outcome)
        if not ok:
            failed.append(message_id)
            stop_reason = "an earlier message of this FIFO batch failed"
    return failed
