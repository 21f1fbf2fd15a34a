"""What one delivery of a parcel led to."""

from __future__ import annotations

import contextlib
import enum
import logging
import typing
from collections.abc import Callable
from datetime import timedelta
from json.encoder import encode_basestring
from typing import Any, Generic, TypeVar

import attrs
import cattrs

from ..errors import SerializationError, TaskDefinitionError
from ..serialization import dumps, loads
from ..task import AsyncTask

T_co = TypeVar("T_co", bound=AsyncTask, covariant=True)
R_co = TypeVar("R_co", covariant=True)

logger = logging.getLogger("simple_async_tasks.execute")

MAX_ERROR_TEXT = 4000
"""Longest error text kept on a task (the rest is cut, to bound the record size)."""


class ExecuteOutcome(str, enum.Enum):
    """What one delivery of a parcel led to."""

    EXECUTED = "EXECUTED"
    """The business logic ran and returned."""
    SKIPPED = "SKIPPED"
    """Not run: already finished, canceled, halted, or scheduled for later."""
    RETRY_LATER = "RETRY_LATER"
    """Not run now; the parcel was pushed again with a delay."""
    FAILED = "FAILED"
    """The attempt failed; the failure is recorded, and a retry pushed (``retry_in``)
    unless the caller leaves the message on the queue for redelivery."""


@attrs.frozen(kw_only=True)
class ExecuteResult(Generic[T_co, R_co]):
    """The result of one delivery."""

    task: T_co
    """The task as stored after this delivery."""
    outcome: ExecuteOutcome
    result: R_co | None = None
    """What the business logic returned (None unless EXECUTED)."""
    retry_in: timedelta | None = None
    """The delay of the parcel pushed again (RETRY_LATER and FAILED)."""


def describe_error(error: BaseException) -> str:
    """``Type: message``, cut to ``MAX_ERROR_TEXT`` characters."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 3] + "..."


def encode_result(
    value: object, converter: cattrs.Converter, max_bytes: int, where: str
) -> str | None:
    """The JSON text a FULFILLED record keeps of what the logic returned, or None: for
    None itself, and for a value that cannot be written as JSON or is longer than
    ``max_bytes`` (logged as an error naming ``where``; the task still counts as done,
    since its work ran)."""
    if value is None:
        return None
    try:
        scalar = _SCALAR_JSON.get(type(value))  # the common results, without the converter
        text = scalar(value) if scalar else dumps(converter.unstructure(value))
    except Exception as error:  # SerializationError, or the converter's own
        logger.error(
            "%s: result not kept: a %s cannot be written as JSON (%s); return JSON-friendly "
            "data, register a hook on the converter, or set keep_result=False",
            where,
            type(value).__name__,
            error,
        )
        return None
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        logger.error(
            "%s: result not kept: %d bytes of JSON, over the limit of %d "
            "(ExecuteOptions.max_result_bytes); store large results elsewhere (S3) and "
            "return their key",
            where,
            size,
            max_bytes,
        )
        return None
    return text


_SCALAR_JSON: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,  # the C escaper ``dumps`` itself uses (non-ASCII kept)
    int: int.__repr__,
    bool: lambda value: "true" if value else "false",
}
"""The JSON text of plain results, as ``dumps`` writes it (floats go through the
converter: NaN is refused there)."""

_return_hints: dict[Callable[..., object], Any] = {}


def return_hint(logic: Callable[..., object]) -> Any:
    """The return annotation of ``logic``, resolved (``object`` when it has none).

    Raises:
        TaskDefinitionError: the annotation names a type that cannot be resolved.
    """
    try:
        return _return_hints[logic]
    except (KeyError, TypeError):
        pass
    target = getattr(logic, "__wrapped__", logic)
    try:
        hint = typing.get_type_hints(target).get("return", object)
    except Exception as error:
        raise TaskDefinitionError(
            f"cannot resolve the return annotation of {getattr(target, '__qualname__', target)}"
            f" ({type(error).__name__}: {error}); define the types it names at module level"
        ) from error
    with contextlib.suppress(TypeError):
        _return_hints[logic] = hint
    return hint


def stored_result(
    task: AsyncTask, logic: Callable[..., object], converter: cattrs.Converter
) -> Any:
    """What ``logic`` returned for the stored ``task``, structured into its return
    annotation; None when the record keeps no result.

    Raises:
        SerializationError: the stored JSON does not fit the annotation (the logic's
            return type changed since the task ran).
    """
    if task.result is None:
        return None
    hint = return_hint(logic)
    data = loads(task.result)
    if hint is object or hint is Any:
        return data
    try:
        return converter.structure(data, hint)
    except Exception as error:
        raise SerializationError(
            f"the stored result of {type(task).__name__} {task.uuid} does not fit "
            f"{hint!r}: {type(error).__name__}: {error}"
        ) from error
