"""The wire format: a task and its delivery metadata, as one JSON message body.

Compatible with the TypeScript original's envelope::

    {"task": {...}, "meta": {"queueType": "SQS", "queueUrl": "...",
     "enqueueUuid": "...", "requeueDepth": 0, "taskType": "SendWelcomeEmail"}}

``taskType`` is our addition; unknown meta keys are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar

import attrs
import cattrs

from .errors import ParcelDecodeError, SerializationError
from .serialization import dumps, json_size_bound, loads, structure_task, unstructure_task
from .task import AsyncTask, new_uuid

T_co = TypeVar("T_co", bound=AsyncTask, covariant=True)
T = TypeVar("T", bound=AsyncTask)


class QueueAddress(Protocol):
    """Where a parcel is sent (every ``TaskQueue`` is one)."""

    @property
    def queue_type(self) -> str: ...

    @property
    def queue_url(self) -> str: ...


NOTHING_CARRIED: Mapping[str, str] = MappingProxyType({})
"""The ``carried`` of a parcel that carries nothing (shared: it cannot change)."""


@attrs.frozen(kw_only=True)
class ParcelMeta:
    """Delivery metadata of a parcel."""

    queue_type: str
    """The kind of queue it was sent on: "SQS", "MEMORY", ..."""
    queue_url: str
    """Where it was sent."""
    task_type: str | None
    """The task type, for routing; None in parcels from the TypeScript original."""
    enqueue_uuid: str = attrs.field(factory=new_uuid)
    """One id per enqueue, kept across requeues of the same parcel."""
    requeue_depth: int = 0
    """How many times the parcel was put back on the queue to retry later."""
    carried: Mapping[str, str] = NOTHING_CARRIED
    """Entries the enqueue's hooks put in the meta, such as the W3C trace context
    (``traceparent``, ``tracestate``): written as meta keys of their own, read back by
    the attempt's hooks."""

    @classmethod
    def for_queue(cls, queue: QueueAddress, task_type: str) -> ParcelMeta:
        """The meta of a new enqueue of ``task_type`` on ``queue`` (a fresh enqueue id)."""
        return cls(queue_type=queue.queue_type, queue_url=queue.queue_url, task_type=task_type)

    def requeued(self) -> ParcelMeta:
        """The meta of the same parcel put back once more."""
        return attrs.evolve(self, requeue_depth=self.requeue_depth + 1)


@attrs.frozen(kw_only=True)
class TaskParcel(Generic[T_co]):
    """A task as it travels on a queue."""

    task: T_co
    meta: ParcelMeta


@attrs.frozen(kw_only=True)
class RawParcel:
    """A parsed message body whose task is still JSON data (before routing)."""

    task: dict[str, Any]
    meta: ParcelMeta


def encode_parcel(parcel: TaskParcel[AsyncTask], converter: cattrs.Converter) -> str:
    """The JSON message body of a parcel."""
    meta: dict[str, object] = {
        "queueType": parcel.meta.queue_type,
        "queueUrl": parcel.meta.queue_url,
        "enqueueUuid": parcel.meta.enqueue_uuid,
        "requeueDepth": parcel.meta.requeue_depth,
        "taskType": parcel.meta.task_type,
    }
    for key, value in parcel.meta.carried.items():
        meta.setdefault(key, value)  # never over a key of the parcel's own
    task = unstructure_task(parcel.task, converter)
    task.pop("result", None)  # a queued task has none, and the consumer does not need it
    return dumps({"task": task, "meta": meta})


STAMP_MARGIN = 1024
"""Bytes a parcel may grow by between ``TaskQueue.check`` and the push of the stored task:
the timestamps, version and counts the DAO writes on save, and a stored uuid of up to
about 130 characters in place of the candidate's."""


_ENVELOPE_BYTES = 120
"""The parcel's own punctuation and keys around the task and the meta values
(``{"task":...,"meta":{"queueType":...,"queueUrl":...}}``: 86 bytes, and ``null`` for
a missing task type), rounded up."""


def body_size_bound(parcel: TaskParcel[AsyncTask], converter: cattrs.Converter) -> int | None:
    """An upper bound of the UTF-8 size of ``encode_parcel(parcel)``, without encoding it
    (see ``serialization.json_size_bound``), or None when only the encoding can tell."""
    task = json_size_bound(parcel.task, converter)
    if task is None:
        return None
    meta = parcel.meta
    strings = (meta.queue_type, meta.queue_url, meta.enqueue_uuid, meta.task_type or "")
    carried = sum(6 * (len(k) + len(v)) + 6 for k, v in meta.carried.items())
    return (
        task
        + _ENVELOPE_BYTES
        + sum(6 * len(text) + 2 for text in strings)
        + len(str(meta.requeue_depth))
        + carried
    )


def fits_without_encoding(
    parcel: TaskParcel[AsyncTask], max_bytes: int, converter: cattrs.Converter
) -> bool:
    """Whether the parcel, and the stored task's parcel after a save, surely fit in
    ``max_bytes`` (``STAMP_MARGIN``), told without encoding it."""
    bound = body_size_bound(parcel, converter)
    return bound is not None and bound + STAMP_MARGIN <= max_bytes


def _meta_str(meta: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = meta.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ParcelDecodeError(f"parcel meta.{key} must be a string, got {type(value).__name__}")
    return value


def parse_parcel(body: str | bytes) -> RawParcel:
    """Parse a message body into its task data and meta.

    ``meta`` may be missing (the TypeScript original made it optional and sent
    none before 1.5.0): such a parcel has no task type and is routed by the
    queue it came from (``create_sqs_handler(by_queue_arn=...)``).

    Raises:
        ParcelDecodeError: the body is not JSON or not a ``{task, meta?}`` object.
    """
    try:
        data = loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParcelDecodeError(f"message body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ParcelDecodeError(
            f"message body must be a JSON object {{task, meta}}, got {type(data).__name__}"
        )
    task, meta = data.get("task"), data.get("meta")
    if not isinstance(task, dict):
        raise ParcelDecodeError("message body has no 'task' object; is it a task parcel?")
    if meta is None:  # simple-async-tasks (TypeScript) before 1.5.0 sends no meta
        meta = {}
    if not isinstance(meta, dict):
        raise ParcelDecodeError(
            f"parcel meta must be an object, got {type(meta).__name__}; is it a task parcel?"
        )
    depth = meta.get("requeueDepth", 0)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ParcelDecodeError(f"parcel meta.requeueDepth must be an int >= 0, got {depth!r}")
    enqueue_uuid = _meta_str(meta, "enqueueUuid", required=False) or new_uuid()
    return RawParcel(
        task=task,
        meta=ParcelMeta(
            queue_type=_meta_str(meta, "queueType", required=False) or "UNKNOWN",
            queue_url=_meta_str(meta, "queueUrl", required=False) or "",
            task_type=_meta_str(meta, "taskType", required=False),
            enqueue_uuid=enqueue_uuid,
            requeue_depth=depth,
            carried=_carried(meta),
        ),
    )


_OWN_META = frozenset({"queueType", "queueUrl", "enqueueUuid", "requeueDepth", "taskType"})
"""The meta keys of the parcel format itself; any other string entry is carried."""


def _carried(meta: dict[str, Any]) -> Mapping[str, str]:
    if meta.keys() <= _OWN_META:
        return NOTHING_CARRIED  # the usual parcel: no dict to build
    return {k: v for k, v in meta.items() if k not in _OWN_META and isinstance(v, str)}


def structure_parcel(raw: RawParcel, cls: type[T], converter: cattrs.Converter) -> TaskParcel[T]:
    """Build the typed parcel once the task class is known."""
    try:
        task = structure_task(raw.task, cls, converter)
    except SerializationError as exc:
        raise ParcelDecodeError(str(exc)) from exc
    return TaskParcel(task=task, meta=raw.meta)


def decode_parcel(body: str | bytes, cls: type[T], converter: cattrs.Converter) -> TaskParcel[T]:
    """Parse and build a parcel of a known task class."""
    return structure_parcel(parse_parcel(body), cls, converter)
