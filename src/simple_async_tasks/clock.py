"""Time, injectable so tests can move it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Protocol

__all__ = ["Clock", "SystemClock", "system_clock"]


class Clock(Protocol):
    """Tells the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


system_clock = SystemClock()
