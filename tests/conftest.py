from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from simple_async_tasks import InMemoryTaskDao, InMemoryTaskQueue
from simple_async_tasks.testing import FakeClock

from .tasks import SendEmail, SyncAccount

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "stress", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("stress" if os.environ.get("SAT_STRESS") else "ci")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> InMemoryTaskQueue:
    return InMemoryTaskQueue(clock=clock)


@pytest.fixture
def dao(clock: FakeClock) -> InMemoryTaskDao[SendEmail]:
    return InMemoryTaskDao(SendEmail, clock=clock)


@pytest.fixture
def mutex_dao(clock: FakeClock) -> InMemoryTaskDao[SyncAccount]:
    return InMemoryTaskDao(SyncAccount, clock=clock)
