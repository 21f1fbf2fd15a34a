"""Observability: hooks into the lifecycle, and what is built on them.

- ``TaskHooks`` and its events: subclass it to plug in your own logging, metrics or
  tracing (``TaskApp(hooks=[...])``, or ``hooks=`` of the lifecycle wrappers).
"""

from __future__ import annotations

from .lifecycle.hooks import (
    ClaimEvent,
    EnqueueEvent,
    FinishEvent,
    RetryEvent,
    SkipEvent,
    TaskHooks,
)

__all__ = [
    "ClaimEvent",
    "EnqueueEvent",
    "FinishEvent",
    "RetryEvent",
    "SkipEvent",
    "TaskHooks",
]
