"""The edge-case tests of issue 11 (``tests/lifecycle/test_edges.py``) on DynamoDB, over
HTTP on the local AWS endpoint: the same test bodies, with a ``make_dao`` that builds
``DynamoTaskDao``s on a fresh table."""

from __future__ import annotations

from typing import Any

import pytest

from simple_async_tasks.clock import Clock, system_clock

from ..lifecycle.test_edges import (
    test_a_deleted_tasks_message_is_skipped_and_a_never_stored_tasks_still_fails,
    test_a_late_attempt_cannot_release_the_lock_of_the_attempt_that_took_it_over,
    test_a_slow_live_attempt_renews_its_lease_and_is_not_run_beside_itself,
    test_a_takeover_at_exactly_the_end_of_the_lease_runs_the_task,
    test_a_task_that_does_not_survive_its_round_trip_is_refused_and_nothing_is_written,
    test_a_worker_with_a_clock_ahead_within_the_margin_does_not_take_over,
    test_retry_later_does_not_use_the_retry_budget,
    test_the_same_key_with_another_payload_is_reported,
    test_unique_keys_stay_out_of_logs_above_debug,
)

__all__ = [
    "test_a_deleted_tasks_message_is_skipped_and_a_never_stored_tasks_still_fails",
    "test_a_late_attempt_cannot_release_the_lock_of_the_attempt_that_took_it_over",
    "test_a_slow_live_attempt_renews_its_lease_and_is_not_run_beside_itself",
    "test_a_takeover_at_exactly_the_end_of_the_lease_runs_the_task",
    "test_a_task_that_does_not_survive_its_round_trip_is_refused_and_nothing_is_written",
    "test_a_worker_with_a_clock_ahead_within_the_margin_does_not_take_over",
    "test_retry_later_does_not_use_the_retry_budget",
    "test_the_same_key_with_another_payload_is_reported",
    "test_unique_keys_stay_out_of_logs_above_debug",
]


@pytest.fixture
def make_dao(dynamodb: Any, table: str) -> Any:
    from simple_async_tasks.aws import DynamoTaskDao

    def make(cls: Any, clock: Clock = system_clock) -> Any:
        return DynamoTaskDao(cls, table_name=table, client=dynamodb, clock=clock)

    return make
