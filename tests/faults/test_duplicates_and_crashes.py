"""Faults 1-3: duplicate deliveries, executor crashes at every step, lost pushes."""

from __future__ import annotations

import pytest

from . import scenarios


def check(result: scenarios.FaultResult) -> None:
    assert result.duplicates == 0, result
    assert result.lost == 0, result


def test_duplicate_delivery_memory(scale):
    result = scenarios.duplicate_delivery_memory(tasks=1000 * scale)
    check(result)
    assert result.runs == result.tasks


@pytest.mark.aws
def test_duplicate_delivery_two_processes_on_aws(aws_endpoint, table, queue_url, tmp_path, scale):
    result = scenarios.duplicate_delivery_aws(
        aws_endpoint, table, queue_url, 200 * scale, tmp_path
    )
    check(result)
    assert result.runs == result.tasks


def test_crash_at_every_step_memory(scale):
    results = scenarios.crashes_memory(tasks_per_point=20 * scale)
    by_point = {r.fault.split(" (")[0]: r for r in results}
    for result in results:
        check(result)
    # the crashed run of the logic counts; the takeover runs once more
    assert by_point["executor crash after claim"].runs == 20 * scale
    assert by_point["executor crash in logic"].runs == 40 * scale
    assert by_point["executor crash before finish"].runs == 40 * scale


@pytest.mark.aws
def test_crash_at_every_step_in_a_child_process_on_aws(
    aws_endpoint, table, queue_url, tmp_path, scale
):
    results = scenarios.crashes_aws(aws_endpoint, table, queue_url, 2 * scale, tmp_path)
    assert len(results) == 3
    for result in results:
        check(result)


def test_crash_at_every_step_in_a_child_process_on_sqlite(tmp_path, scale):
    results = scenarios.crashes_sqlite(2 * scale, tmp_path)
    assert [r.backend for r in results] == ["sqlite"] * 3
    for result in results:
        check(result)


def test_crash_between_save_and_push_is_recovered_by_the_sweep(scale):
    check(scenarios.save_push_crash_memory(tasks=200 * scale))


@pytest.mark.aws
def test_transient_errors_on_every_call_kind(aws_endpoint, table, queue_url, scale):
    check(scenarios.transient_errors_aws(aws_endpoint, table, queue_url, tasks=20 * scale))


def test_poison_tasks_end_failed_and_the_queue_drains(scale):
    result = scenarios.poison_memory(tasks=50 * scale)
    check(result)  # "lost" here counts tasks not FAILED after max attempts, or left queued
    assert result.runs == 3 * result.tasks


@pytest.mark.aws
def test_crash_between_save_and_push_on_aws(aws_endpoint, table, queue_url, scale):
    check(scenarios.save_push_crash_aws(aws_endpoint, table, queue_url, tasks=30 * scale))


def test_attempts_longer_than_their_lease_run_once_on_8_threads(scale):
    result = scenarios.lease_outlived_threads(tasks=24 * scale)
    check(result)
    assert result.runs == result.tasks


def test_attempts_longer_than_their_lease_run_once_in_two_processes(tmp_path, scale):
    result = scenarios.lease_outlived_processes(tmp_path, tasks=12 * scale)
    check(result)
    assert result.runs == result.tasks


def test_a_late_attempt_never_frees_the_mutex_of_its_takeover(scale):
    check(scenarios.late_attempt_vs_mutex(accounts=20 * scale))


def test_a_worker_with_a_skewed_clock_takes_no_live_attempt_over(scale):
    result = scenarios.clock_skew(tasks=50 * scale)
    check(result)
    assert result.runs == result.tasks
