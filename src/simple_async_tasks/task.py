"""The task entity: the status enum and the ``AsyncTask`` base class."""

from __future__ import annotations

import enum
import os
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import attrs


class AsyncTaskStatus(str, enum.Enum):
    """Where a task is in its lifecycle. The values are the names."""

    HALTED = "HALTED"
    """Parked on purpose; runs only after being resumed."""
    SCHEDULED = "SCHEDULED"
    """Saved, not on the queue yet; a sweep enqueues it when due."""
    QUEUED = "QUEUED"
    """Saved and (normally) on the queue; waiting to be claimed."""
    ATTEMPTED = "ATTEMPTED"
    """Claimed by an executor that is running it now."""
    FULFILLED = "FULFILLED"
    """Done."""
    FAILED = "FAILED"
    """The last attempt raised; retried until the retry policy's max attempts."""
    CANCELED = "CANCELED"
    """Will never run."""

    def __str__(self) -> str:
        return self.value


def new_uuid() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` gives, in a third of
    its time: the same 122 random bits, version and variant."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}
"""The first hex digit of the variant field (RFC 4122: the two top bits are 10)."""


@attrs.frozen(kw_only=True)
class AsyncTask:
    """Base class of every task: subclass it with ``@attrs.frozen(kw_only=True)``.

    A subclass must set ``unique`` (the fields whose values identify one task:
    enqueueing the same values again is deduplicated) and may set ``mutex``
    (the fields whose values name a lock: two tasks with the same mutex values
    never run at the same time) and ``task_type`` (the name used for routing
    and storage; the class name by default, never the module path).

    The fields below are maintained by the library; business code reads them
    and normally leaves them alone.
    """

    unique: ClassVar[tuple[str, ...]]
    mutex: ClassVar[tuple[str, ...] | None] = None
    task_type: ClassVar[str | None] = None

    status: AsyncTaskStatus = AsyncTaskStatus.QUEUED
    """The lifecycle status."""
    uuid: str = attrs.field(factory=new_uuid)
    """The record's id; kept when the same unique key is enqueued again."""
    created_at: datetime | None = None
    """When the record was first stored (UTC); set by the DAO."""
    updated_at: datetime | None = None
    """When the record was last written (UTC); set by the DAO."""
    version: int = 0
    """Incremented by the DAO on every write; 0 means never stored."""
    attempts: int = 0
    """How many attempts started (runs of the logic, crashed ones included)."""
    failures: int = 0
    """How many attempts failed: raised, crashed or ran past their time limit. Only
    these count against ``RetryPolicy.max_attempts``; a retry-later does not."""
    attempted_at: datetime | None = None
    """When the current or last attempt started (UTC)."""
    lease_id: str | None = None
    """The fencing token of the current or last attempt: its writes, lease renewals and
    mutex release apply only while the stored record still carries it."""
    lease_until: datetime | None = None
    """Until when the current attempt's lease holds (UTC); renewed while it runs. An
    ATTEMPTED task whose lease lapsed is taken over by the next delivery."""
    last_error: str | None = None
    """The error of the last failed attempt, as ``Type: message``."""
    execute_after: datetime | None = None
    """The task must not run before this moment (UTC). None: as soon as possible."""
    result: str | None = None
    """What the logic returned, as JSON text, kept when the task is FULFILLED (unless its
    task type turned it off); ``TaskFunction.result`` reads it back typed."""


LIFECYCLE_FIELDS: frozenset[str] = frozenset(a.name for a in attrs.fields(AsyncTask))
"""Names of the fields every task has; business fields are the others."""

T = TypeVar("T", bound=AsyncTask)

_setattr = object.__setattr__
_layouts: dict[type, tuple[str, ...] | None] = {}


def _layout(cls: type) -> tuple[str, ...] | None:
    """The attribute names of ``cls`` when ``with_lifecycle`` may copy them without its
    ``__init__``: no ``__attrs_post_init__``, and no slot but the fields' (attrs keeps a
    cached hash in one, which ``__init__`` sets); else None."""
    try:
        return _layouts[cls]
    except KeyError:
        pass
    names: tuple[str, ...] | None = tuple(a.name for a in attrs.fields(cls))
    slots = {s for klass in cls.__mro__ for s in getattr(klass, "__slots__", ())}
    if hasattr(cls, "__attrs_post_init__") or slots - set(names or ()) - {"__weakref__"}:
        names = None
    _layouts[cls] = names
    return names


def with_lifecycle(task: T, changes: dict[str, Any]) -> T:
    """``task`` with some lifecycle fields changed: ``attrs.evolve`` for the fields the
    library maintains, without running ``__init__`` again (the business fields are the
    same objects, already checked), in a third of its time."""
    cls = type(task)
    names = _layout(cls)
    if names is None:
        return attrs.evolve(task, **changes)
    new = object.__new__(cls)
    for name in names:
        _setattr(new, name, changes[name] if name in changes else getattr(task, name))
    return new
