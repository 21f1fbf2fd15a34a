from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from simple_async_tasks import InMemoryTaskDao, InMemoryTaskQueue
from simple_async_tasks.testing import FakeClock

from .tasks import SendEmail, SyncAccount

# No test may reach a real AWS endpoint: a client not pointed at the local
# endpoint goes to a closed loopback port and fails at once, with dummy keys.
os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

settings.register_profile(
    "stress", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("stress" if os.environ.get("SAT_STRESS") else "ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stress",
        action="store_true",
        help="run the fault suite 10x larger (also: SAT_STRESS=1)",
    )


@pytest.fixture(scope="session")
def scale(request: pytest.FixtureRequest) -> int:
    """1 in CI, 10 with --stress or SAT_STRESS=1."""
    return 10 if request.config.getoption("--stress") or os.environ.get("SAT_STRESS") else 1


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
