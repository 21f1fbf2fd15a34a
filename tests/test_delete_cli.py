"""Deleting tasks from the command line (issue 15's del and removeFailed): one by key, or
every FAILED one with a confirmation; a deleted task's message is skipped, not dead-lettered."""

from __future__ import annotations

import json

from simple_async_tasks import AsyncTaskStatus, SqliteTaskQueue

from .cli_app import Charge, app, cli_env, run_cli, runs
from .test_cli import _worker

S = AsyncTaskStatus


def test_delete_a_queued_task_whose_message_is_then_skipped(tmp_path):
    env = cli_env(tmp_path, max_receives=2)
    app.enqueue(Charge(order_id="keep"))
    app.enqueue(Charge(order_id="drop"))
    out = run_cli("tasks", "delete", "drop", env=env)
    assert out.returncode == 0, out.stderr
    assert "deleted Charge drop (was QUEUED; runs 0, failed 0)" in out.stdout
    assert app.dao(Charge).get("drop") is None

    _worker(env)
    assert runs(tmp_path) == ["start Charge keep", "done Charge keep"]
    queue = app.queue
    assert isinstance(queue, SqliteTaskQueue)
    assert len(queue) == 0
    assert queue.dead_letters() == []  # skipped, not a permanent error
    missing = run_cli("tasks", "delete", "drop", env=env)
    assert missing.returncode == 3
    assert "no stored Charge or Notify task" in missing.stderr


def test_delete_all_failed_needs_yes_and_leaves_the_others(tmp_path):
    env = cli_env(tmp_path, max_receives=2)
    for order in ("o1", "o2"):
        (tmp_path / f"fail-{order}").touch()
        app.enqueue(Charge(order_id=order))
    _worker(env)
    app.enqueue(Charge(order_id="later"))
    refused = run_cli("tasks", "delete", "--all-failed", env=env)
    assert refused.returncode == 2
    assert "add --yes" in refused.stderr
    assert app.dao(Charge).count_by_status(S.FAILED) == 2

    out = run_cli("tasks", "delete", "--all-failed", "--yes", "--json", env=env)
    assert out.returncode == 0, out.stderr
    deleted = json.loads(out.stdout)
    assert sorted((d["unique_key"], d["status"]) for d in deleted) == [
        ("o1", "FAILED"),
        ("o2", "FAILED"),
    ]
    assert app.dao(Charge).count_by_status(S.FAILED) == 0
    assert app.dao(Charge).get("later").status is S.QUEUED
