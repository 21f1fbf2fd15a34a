"""Validation of a task class, and the keys derived from a task's values."""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar

import attrs
import cattrs

from .errors import TaskDefinitionError
from .serialization import dumps
from .task import LIFECYCLE_FIELDS, AsyncTask

T = TypeVar("T", bound=AsyncTask)


def _key_fields(cls: type, name: str, value: object, *, required: bool) -> tuple[str, ...] | None:
    if value is None:
        if required:
            raise TaskDefinitionError(
                f"{cls.__name__} has no {name!r}: set `{name}: ClassVar[tuple[str, ...]] = "
                f'("field",)` to name the fields that identify one task'
            )
        return None
    if isinstance(value, str) or not isinstance(value, tuple) or not value:
        raise TaskDefinitionError(
            f"{cls.__name__}.{name} must be a non-empty tuple of field names, got {value!r}"
        )
    fields = {a.name for a in attrs.fields(cls)}
    for field in value:
        if not isinstance(field, str) or field not in fields:
            business = sorted(fields - LIFECYCLE_FIELDS)
            raise TaskDefinitionError(
                f"{cls.__name__}.{name} names {field!r}, which is not a field of "
                f"{cls.__name__}; its fields are {business}"
            )
        if field in LIFECYCLE_FIELDS:
            raise TaskDefinitionError(
                f"{cls.__name__}.{name} names {field!r}, a field the library maintains; "
                "name business fields only"
            )
    return value


@attrs.frozen
class TaskSpec(Generic[T]):
    """What the library needs to know about a task class, checked once."""

    cls: type[T]
    task_type: str
    unique: tuple[str, ...]
    mutex: tuple[str, ...] | None
    business_fields: tuple[str, ...] = ()
    """The fields of the class that the library does not maintain."""

    def unique_key(self, task: T, converter: cattrs.Converter) -> str:
        """The string that identifies the task among tasks of its type."""
        return _key(task, self.unique, converter)

    def mutex_key(self, task: T, converter: cattrs.Converter) -> str | None:
        """The lock name (qualified by the task type), or None without a mutex."""
        if self.mutex is None:
            return None
        return f"{self.task_type}#{_key(task, self.mutex, converter)}"


def _key(task: AsyncTask, fields: tuple[str, ...], converter: cattrs.Converter) -> str:
    if len(fields) == 1:
        value = getattr(task, fields[0])
        if type(value) is str:
            return value
        if type(value) is int:
            return str(value)  # the same text as its JSON
    values = [converter.unstructure(getattr(task, f)) for f in fields]
    if len(values) == 1 and isinstance(values[0], str):
        return values[0]
    return dumps(values if len(values) > 1 else values[0])


_cache: dict[type, TaskSpec[Any]] = {}
_cache_lock = threading.Lock()


def task_spec(cls: type[T]) -> TaskSpec[T]:
    """Check ``cls`` is a valid task definition and describe it.

    Raises:
        TaskDefinitionError: what is wrong and how to fix it.
    """
    cached = _cache.get(cls)
    if cached is not None:
        return cached
    if not isinstance(cls, type) or not issubclass(cls, AsyncTask):
        raise TaskDefinitionError(
            f"{cls!r} is not a task class: subclass simple_async_tasks.AsyncTask"
        )
    if cls is AsyncTask:
        raise TaskDefinitionError("AsyncTask is the base class; define a subclass of it")
    if "__attrs_attrs__" not in cls.__dict__:
        raise TaskDefinitionError(
            f"{cls.__name__} is not an attrs class of its own: decorate it with "
            "@attrs.frozen(kw_only=True)"
        )
    task_type = cls.__dict__.get("task_type") or cls.__name__
    if not isinstance(task_type, str) or not task_type or "#" in task_type:
        raise TaskDefinitionError(
            f"{cls.__name__}.task_type must be a non-empty string without '#', got {task_type!r}"
        )
    unique = _key_fields(cls, "unique", getattr(cls, "unique", None), required=True)
    assert unique is not None
    mutex = _key_fields(cls, "mutex", getattr(cls, "mutex", None), required=False)
    business = tuple(f.name for f in attrs.fields(cls) if f.name not in LIFECYCLE_FIELDS)
    spec = TaskSpec(
        cls=cls, task_type=task_type, unique=unique, mutex=mutex, business_fields=business
    )
    with _cache_lock:
        _cache[cls] = spec
    return spec
