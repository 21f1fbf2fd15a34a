"""The one policy for batch calls answered in part (BatchGetItem, SendMessageBatch)."""

from __future__ import annotations

from simple_async_tasks.backends._partial import PARTIAL_RETRY, until_done


def test_the_rest_is_tried_again_with_growing_pauses_until_done():
    sleeps: list[float] = []
    calls: list[list[int]] = []

    def call(left: list[int]) -> list[int] | None:
        calls.append(left)
        rest = left[1:]  # one item done per call
        return rest or None

    assert until_done(call, [1, 2, 3], sleep=sleeps.append) is None
    assert calls == [[1, 2, 3], [2, 3], [3]]
    assert len(sleeps) == 2
    assert 0 < sleeps[0] <= 0.1  # 50 ms, jittered
    assert sleeps[0] <= sleeps[1] * 2


def test_it_gives_up_after_the_policys_tries_and_returns_what_is_left():
    sleeps: list[float] = []
    calls = []
    left = until_done(lambda w: calls.append(w) or w, ["stuck"], sleep=sleeps.append)
    assert left == ["stuck"]
    assert len(calls) == PARTIAL_RETRY.max_attempts
    assert len(sleeps) == PARTIAL_RETRY.max_attempts - 1
    assert max(sleeps) <= PARTIAL_RETRY.max_delay.total_seconds()
