"""When to try a failed task again."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

import attrs

from ._validators import must


def random_fraction() -> float:
    """A uniform float in [0, 1) from ``os.urandom`` (``random`` costs a millisecond of
    import for the few jittered delays a process computes)."""
    return (int.from_bytes(os.urandom(7), "big") >> 3) / (1 << 53)


_positive_int = must(int, lambda v: v >= 1, "be at least 1")
_non_negative = must(timedelta, lambda v: v >= timedelta(0), "not be negative")
_unit = must(float, lambda v: 0.0 <= v <= 1.0, "be within [0, 1]")
_at_least_one = must(float, lambda v: v >= 1.0, "be at least 1.0")


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """Exponential backoff with jitter and a cap.

    After failed attempt ``n`` (1-based) the task waits
    ``min(max_delay, initial_delay * multiplier ** (n - 1))``, less a random
    share of up to ``jitter`` of it, then runs again; after ``max_attempts``
    failed attempts it stays FAILED.
    """

    max_attempts: int = attrs.field(default=3, validator=_positive_int)
    initial_delay: timedelta = attrs.field(default=timedelta(seconds=10), validator=_non_negative)
    multiplier: float = attrs.field(default=2.0, validator=_at_least_one)
    max_delay: timedelta = attrs.field(default=timedelta(minutes=15), validator=_non_negative)
    jitter: float = attrs.field(default=0.2, validator=_unit)

    def delay_for(self, attempts: int, rand: Callable[[], float] = random_fraction) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        exponent = max(attempts - 1, 0)
        base = self.initial_delay.total_seconds() * self.multiplier**exponent
        capped = min(base, self.max_delay.total_seconds())
        return timedelta(seconds=capped * (1.0 - self.jitter * rand()))
