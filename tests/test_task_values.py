"""The fast paths of task values: ids as ``uuid4`` makes them, and lifecycle changes as
``attrs.evolve`` makes them."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, AsyncTaskStatus
from simple_async_tasks.task import new_uuid, with_lifecycle

from .tasks import SendEmail


def test_new_uuid_is_a_random_version_4_uuid_in_its_usual_text():
    ids = [new_uuid() for _ in range(2_000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    # every hex digit of the random part turns up, the variant digit takes its 4 values
    assert {t[19] for t in ids} == set("89ab")
    assert set("".join(t[:8] for t in ids)) == set("0123456789abcdef")


def test_with_lifecycle_equals_evolve():
    now = datetime(2026, 1, 2, tzinfo=timezone.utc)
    task = SendEmail(user_id="u1", email="a@example.com")
    changes = {"status": AsyncTaskStatus.ATTEMPTED, "version": 3, "attempted_at": now}
    fast = with_lifecycle(task, changes)
    assert fast == attrs.evolve(task, **changes)
    assert type(fast) is SendEmail
    assert fast.email is task.email
    assert task.status is AsyncTaskStatus.QUEUED  # the original is untouched
    assert hash(fast) == hash(attrs.evolve(task, **changes))


@attrs.frozen(kw_only=True)
class Counted(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("n",)
    n: int
    inits: ClassVar[list[int]] = []

    def __attrs_post_init__(self) -> None:
        self.inits.append(self.n)


def test_with_lifecycle_runs_init_for_a_class_with_a_post_init_hook():
    task = Counted(n=1)
    Counted.inits.clear()
    changed = with_lifecycle(task, {"version": 2})
    assert changed.version == 2
    assert Counted.inits == [1]  # the hook ran: the copy went through __init__ (evolve)


@attrs.frozen(kw_only=True, cache_hash=True)
class CachedHash(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("n",)
    n: int


def test_with_lifecycle_keeps_a_cached_hash_class_hashable():
    task = CachedHash(n=1)
    hash(task)
    changed = with_lifecycle(task, {"version": 2})
    assert hash(changed) == hash(attrs.evolve(task, version=2))
    assert changed == attrs.evolve(task, version=2)
