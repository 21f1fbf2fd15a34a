from __future__ import annotations

from datetime import timedelta

import attrs

from simple_async_tasks import AsyncTaskStatus, RetryPolicy
from simple_async_tasks.operations import requeue_stale

from ..tasks import SendEmail

S = AsyncTaskStatus


def seed(dao, user_id, status, **fields):
    return dao.seed(attrs.evolve(SendEmail(user_id=user_id), status=status, **fields))


def test_requeue_stale_pushes_only_lost_tasks(dao, queue, clock):
    old = clock.now()
    seed(dao, "queued-old", S.QUEUED, updated_at=old)
    seed(dao, "queued-later", S.QUEUED, updated_at=old, execute_after=old + timedelta(hours=2))
    seed(dao, "failed-retry", S.FAILED, failures=1, updated_at=old, execute_after=old)
    seed(dao, "failed-done", S.FAILED, attempts=5, failures=3, updated_at=old)
    seed(dao, "fulfilled", S.FULFILLED, updated_at=old)
    seed(dao, "stuck", S.ATTEMPTED, attempts=1, updated_at=old, lease_until=old)
    clock.advance(timedelta(minutes=20))
    seed(dao, "queued-fresh", S.QUEUED, updated_at=clock.now())
    report = requeue_stale(dao=dao, queue=queue, clock=clock, retry=RetryPolicy(max_attempts=3))
    # the stuck attempt's runner died 20 minutes ago and its message is gone: pushed again
    assert sorted(t.user_id for t in report.requeued) == ["failed-retry", "queued-old", "stuck"]
    assert [t.user_id for t in report.stuck] == ["stuck"]
    assert len(queue) == 3
    # run again at once: the touched tasks are fresh, nothing is pushed twice
    assert requeue_stale(dao=dao, queue=queue, clock=clock).requeued == []
    assert len(queue) == 3
