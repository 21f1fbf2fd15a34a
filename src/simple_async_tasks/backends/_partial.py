"""One policy for the batch calls AWS answers in part (``BatchGetItem``'s unprocessed keys,
``SendMessageBatch``'s failed entries): try the rest again after a short, growing pause.

botocore retries a call that fails whole; these are calls that succeed with part of the
work left, which botocore does not retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from ..lifecycle.retry import RetryPolicy

W = TypeVar("W")

PARTIAL_RETRY = RetryPolicy(
    max_attempts=8,
    initial_delay=timedelta(milliseconds=50),
    multiplier=2.0,
    max_delay=timedelta(seconds=1),
    jitter=0.5,
)
"""Tries of one batch (the first included) and the pauses between them: 50 ms doubling to
1 s, half of it jittered, so concurrent callers do not retry in step (about 4 s in all)."""


def until_done(
    call: Callable[[W], W | None],
    work: W,
    *,
    policy: RetryPolicy = PARTIAL_RETRY,
    sleep: Callable[[float], None] = time.sleep,
) -> W | None:
    """Call ``call(work)`` until it returns None (all done), at most ``policy.max_attempts``
    times, pausing ``policy.delay_for(n)`` before the n-th retry; ``call`` returns what is
    left to do. Returns what is still left after the last try, or None."""
    left: W | None = work
    for attempt in range(policy.max_attempts):
        assert left is not None
        left = call(left)
        if left is None:
            return None
        if attempt + 1 < policy.max_attempts:
            sleep(policy.delay_for(attempt + 1).total_seconds())
    return left
