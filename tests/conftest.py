from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, TypeVar

import pytest
from hypothesis import HealthCheck, settings

from simple_async_tasks import (
    AsyncTask,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    SqliteTaskDao,
    TaskDao,
)
from simple_async_tasks.clock import Clock, system_clock
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

pytest_plugins = ["tests.engines"]  # the local AWS engines, started once per session

T = TypeVar("T", bound=AsyncTask)

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
    return InMemoryTaskQueue(clock=clock, keep_history=True)


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store of the lifecycle tests: every one runs on memory and on a SQLite file."""
    return "memory" if request.param == "memory" else str(tmp_path / "tasks.db")


class MakeDao(Protocol):
    def __call__(self, cls: type[T], clock: Clock = ...) -> TaskDao[T]: ...


@pytest.fixture
def make_dao(backend: str) -> MakeDao:
    """A DAO of any task class on this test's store (the system clock unless given)."""

    def make(cls: type[T], clock: Clock = system_clock) -> TaskDao[T]:
        if backend == "memory":
            return InMemoryTaskDao(cls, clock=clock)
        return SqliteTaskDao(cls, backend, clock=clock)

    return make


@pytest.fixture
def dao(make_dao: MakeDao, clock: FakeClock) -> TaskDao[SendEmail]:
    return make_dao(SendEmail, clock)


@pytest.fixture
def mutex_dao(make_dao: MakeDao, clock: FakeClock) -> TaskDao[SyncAccount]:
    return make_dao(SyncAccount, clock)
