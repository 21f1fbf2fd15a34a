"""The stored-schedule tests of tests/test_stored_schedules.py on DynamoDB Local and SQS
(moto), over HTTP: the same test bodies with a ``backend`` on the local AWS endpoint."""

from __future__ import annotations

from typing import Any

import pytest

from simple_async_tasks.aws import reset_clients
from simple_async_tasks.testing.local_aws import LocalAws

from ..test_stored_schedules import (
    clock,
    make_app,
    test_a_bad_schedule_is_refused_and_nothing_is_stored,
    test_a_daily_schedule_enqueues_each_occurrence_once_with_two_schedulers,
    test_a_one_off_fires_once_even_after_its_task_is_deleted,
    test_eight_schedulers_at_the_same_moment_enqueue_an_occurrence_once,
    test_pause_resume_and_delete,
    test_update_is_fenced_by_the_version_read,
)

__all__ = [
    "clock",
    "test_a_bad_schedule_is_refused_and_nothing_is_stored",
    "test_a_daily_schedule_enqueues_each_occurrence_once_with_two_schedulers",
    "test_a_one_off_fires_once_even_after_its_task_is_deleted",
    "test_eight_schedulers_at_the_same_moment_enqueue_an_occurrence_once",
    "test_pause_resume_and_delete",
    "test_update_is_fenced_by_the_version_read",
]


@pytest.fixture
def backend(aws_endpoint: LocalAws, table: str, queue_url: str) -> Any:
    yield (f"dynamodb://{table}?region=us-east-1&endpoint={aws_endpoint.dynamodb}", queue_url)
    reset_clients()


@pytest.fixture
def app(backend: Any, clock: Any) -> Any:  # not tests/aws's app (examples/lambda_app.py)
    return make_app(backend, clock)
