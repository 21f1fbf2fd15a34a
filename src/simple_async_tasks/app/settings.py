"""``TaskSettings``: one registered task type as an operator sees it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

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
    queue: str = "default"
    """The name of the queue its tasks travel on."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (durations in seconds), as the CLI and the dashboard print it."""
        return {
            "task_type": self.task_type,
            "task_class": self.task_class,
            "logic": self.logic,
            "unique": list(self.unique),
            "mutex": None if self.mutex is None else list(self.mutex),
            "options": _plain(self.options),
            "retention_seconds": None
            if self.retention is None
            else self.retention.total_seconds(),
            "queue": self.queue,
        }


def _plain(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if attrs.has(type(value)):
        return {k: _plain(v) for k, v in attrs.asdict(value, recurse=False).items()}
    return value


def dotted(obj: object) -> str:
    """``module.QualifiedName`` of a class or function."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
