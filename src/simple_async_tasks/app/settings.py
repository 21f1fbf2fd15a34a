"""``TaskSettings``: one registered task type as an operator sees it."""

from __future__ import annotations

from datetime import timedelta

import attrs

from ..lifecycle.options import ExecuteOptions


@attrs.frozen(kw_only=True)
class TaskSettings:
    """One registered task type as an operator sees it (``TaskApp.settings()``)."""

    task_type: str
    task_class: str
    """``module.QualifiedName`` of the class."""
    logic: str
    """``module.qualified_name`` of the logic function."""
    unique: tuple[str, ...]
    mutex: tuple[str, ...] | None
    options: ExecuteOptions
    """Retry policy, lease, time limit, result keeping, ..."""
    retention: timedelta | None
    """How long a DynamoDB store keeps its finished tasks (None: forever)."""


def dotted(obj: object) -> str:
    """``module.QualifiedName`` of a class or function."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
