"""The real ``simple-async-tasks`` console script, in a subprocess, on the SQLite backend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from simple_async_tasks import AsyncTaskStatus, SqliteTaskQueue

from .cli_app import ROOT, Charge, Notify, app, cli_env, cli_path, run_cli, runs

S = AsyncTaskStatus
APP = "tests.cli_app:app"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path, max_receives=2)


def _json(out: subprocess.CompletedProcess[str]) -> object:
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _worker(
    env: dict[str, str], *extra: str, pending: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the worker until idle; ``pending``: FAILED tasks keep retries left (exit 5)."""
    out = run_cli("worker", APP, "--until-idle", "1.5", "--poll-wait", "0.1", *extra, env=env)
    assert out.returncode == (5 if pending else 0), out.stderr
    return out


def test_help_explains_every_command(env):
    top = run_cli("--help", env=env)
    assert top.returncode == 0
    for command in ("worker", "tasks", "dlq", "Exit codes"):
        assert command in top.stdout
    for args in (
        ["worker", "--help"],
        ["tasks", "list", "--help"],
        ["tasks", "retry", "--help"],
        ["dlq", "redrive", "--help"],
    ):
        out = run_cli(*args, env=env)
        assert out.returncode == 0, out.stderr
        assert "Usage: simple-async-tasks" in out.stdout
    assert "SIGTERM" in run_cli("worker", "--help", env=env).stdout
    assert "--all-failed" in run_cli("tasks", "retry", "--help", env=env).stdout


def test_stats_and_paginated_list(env):
    for order in ("o1", "o2", "o3"):
        app.enqueue(Charge(order_id=order))
    app.enqueue(Notify(user_id="u1"))

    stats = _json(run_cli("tasks", "stats", "--json", env=env))
    assert stats["Charge"]["QUEUED"] == 3
    assert stats["Notify"] == {s.value: (1 if s is S.QUEUED else 0) for s in S}
    table = run_cli("tasks", "stats", env=env).stdout.splitlines()
    assert table[0].split() == ["TYPE", *[s.value for s in S], "TOTAL"]
    assert table[1].split()[0] == "Charge"

    page = ["tasks", "list", "--type", "Charge", "--limit", "2", "--json"]
    first = _json(run_cli(*page, "--status", "queued", env=env))
    assert [t["unique_key"] for t in first["tasks"]] == ["o1", "o2"]  # oldest first
    assert first["cursor"]
    rest = _json(run_cli(*page, "--status", "QUEUED", "--cursor", first["cursor"], env=env))
    assert [t["unique_key"] for t in rest["tasks"]] == ["o3"]
    assert rest["cursor"] is None

    listing = run_cli("tasks", "list", env=env)
    assert listing.returncode == 0
    assert listing.stdout.splitlines()[0].split()[:3] == ["TYPE", "UNIQUE", "KEY"]
    assert sum("QUEUED" in line for line in listing.stdout.splitlines()) == 4

    shown = _json(run_cli("tasks", "show", "u1", "--json", env=env))
    assert shown["task_type"] == "Notify"
    assert shown["status"] == "QUEUED"
    assert (shown["attempts"], shown["failures"]) == (0, 0)
    # logs name tasks by uuid: the same task is found by it
    by_uuid = _json(run_cli("tasks", "show", shown["uuid"], "--json", env=env))
    assert by_uuid == shown
    text = run_cli("tasks", "show", shown["uuid"], env=env).stdout
    assert "failures" in text


def test_retry_of_a_failed_task_which_then_runs(env, tmp_path):
    (tmp_path / "fail-o1").touch()
    app.enqueue(Charge(order_id="o1"))
    _worker(env)
    failed = _json(run_cli("tasks", "list", "--status", "FAILED", "--json", env=env))
    assert [(t["unique_key"], t["attempts"], t["failures"]) for t in failed["tasks"]] == [
        ("o1", 1, 1)
    ]
    assert "marked to fail" in failed["tasks"][0]["last_error"]
    assert failed["tasks"][0]["retry"] == "failed for good"  # Charge has one attempt
    table = run_cli("tasks", "list", "--status", "FAILED", env=env).stdout
    assert "FAILED (failed for good)" in table

    (tmp_path / "fail-o1").unlink()  # the cause is fixed
    retried = run_cli("tasks", "retry", "o1", env=env)
    assert retried.returncode == 0, retried.stderr
    assert "retried Charge o1: QUEUED (runs 1, failed 1)" in retried.stdout
    again = run_cli("tasks", "retry", "o1", env=env)
    assert again.returncode == 4  # QUEUED now: only FAILED tasks can be retried
    assert "only FAILED tasks can be retried" in again.stderr

    _worker(env)
    assert app.dao(Charge).get("o1").status is S.FULFILLED
    assert runs(tmp_path) == ["start Charge o1", "start Charge o1", "done Charge o1"]
    shown = _json(run_cli("tasks", "show", "o1", "--json", env=env))
    assert (shown["result"], shown["retry"]) == ({"receipt": "r-o1"}, None)
    text = run_cli("tasks", "show", "o1", env=env).stdout
    assert 'result         {"receipt":"r-o1"}' in text.splitlines()


def test_retry_all_failed(env, tmp_path):
    for order in ("o1", "o2"):
        (tmp_path / f"fail-{order}").touch()
        app.enqueue(Charge(order_id=order))
    _worker(env)
    for order in ("o1", "o2"):
        (tmp_path / f"fail-{order}").unlink()
    out = _json(run_cli("tasks", "retry", "--all-failed", "--json", env=env))
    assert sorted(r["unique_key"] for r in out) == ["o1", "o2"]
    _worker(env)
    assert {app.dao(Charge).get(o).status for o in ("o1", "o2")} == {S.FULFILLED}


def test_cancel_of_a_queued_task_which_then_is_skipped(env, tmp_path):
    app.enqueue(Charge(order_id="keep"))
    app.enqueue(Charge(order_id="drop"))
    out = run_cli("tasks", "cancel", "drop", env=env)
    assert out.returncode == 0, out.stderr
    assert "canceled Charge drop: CANCELED" in out.stdout

    _worker(env)
    assert runs(tmp_path) == ["start Charge keep", "done Charge keep"]
    assert app.dao(Charge).get("drop").status is S.CANCELED
    queue = app.queue
    assert isinstance(queue, SqliteTaskQueue)
    assert len(queue) == 0  # the canceled task's message was delivered, skipped and deleted
    assert run_cli("tasks", "cancel", "keep", env=env).returncode == 4  # FULFILLED already


def test_halt_and_resume(env, tmp_path):
    app.enqueue(Notify(user_id="u1"))
    assert run_cli("tasks", "halt", "u1", env=env).returncode == 0
    _worker(env)
    assert runs(tmp_path) == []
    assert app.dao(Notify).get("u1").status is S.HALTED
    resumed = run_cli("tasks", "resume", "u1", env=env)
    assert "resumed Notify u1: QUEUED" in resumed.stdout
    _worker(env)
    assert app.dao(Notify).get("u1").status is S.FULFILLED


def test_dead_letters_are_listed_and_redriven(env, tmp_path):
    (tmp_path / "fail-u1").touch()
    app.enqueue(Notify(user_id="u1"))
    # fails on each of max_receives=2 receives, then is dead-lettered; its record keeps
    # retries left, which the worker reports (exit 5) though only a redrive brings them
    _worker(env, pending=True)
    letters = _json(run_cli("dlq", "list", "--json", env=env))
    assert [(d["task_type"], d["receive_count"]) for d in letters] == [("Notify", 2)]
    table = run_cli("dlq", "list", env=env).stdout
    assert "Notify" in table
    assert app.dao(Notify).get("u1").status is S.FAILED

    (tmp_path / "fail-u1").unlink()
    moved = run_cli("dlq", "redrive", env=env)
    assert moved.returncode == 0, moved.stderr
    assert "moved 1 dead letter(s)" in moved.stdout
    assert _json(run_cli("dlq", "list", "--json", env=env)) == []
    _worker(env)
    task = app.dao(Notify).get("u1")
    assert task.status is S.FULFILLED
    assert task.attempts == 3


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["tasks", "show", "nobody"],
            3,
            "no stored Charge or Notify task for the given unique key",
        ),
        (["tasks", "show", "x", "--type", "Refund"], 2, "has no task type 'Refund'"),
        (["tasks", "stats", "--backend", "postgres://db"], 2, "cannot read backend URL"),
        (["tasks", "stats", "--app", "tests.nowhere:app"], 2, "cannot import 'tests.nowhere'"),
        (["tasks", "stats", "--app", "tests.cli_app:Charge"], 2, "not a TaskApp"),
        (["tasks", "list", "--status", "DONE"], 2, "Invalid value for '--status'"),
        (["tasks", "retry"], 2, "give the unique key of at least one task"),
        (["worker", APP, "--backend", "memory://"], 2, "a worker cannot poll it"),
    ],
)
def test_exit_codes_scripts_can_trust(env, args, code, message):
    out = run_cli(*args, env=env)
    assert out.returncode == code, out.stderr
    assert message in out.stderr
    if code != 2 or "Invalid value" not in message:
        assert "Traceback" not in out.stderr


def test_sigterm_finishes_the_running_task_and_takes_no_new_one(env, tmp_path):
    app.enqueue(Notify(user_id="first"))
    app.enqueue(Notify(user_id="second"))
    worker = subprocess.Popen(
        [cli_path(), "worker", APP, "-c", "1", "--poll-wait", "0.1"],
        cwd=ROOT,
        env={**os.environ, **env, "SAT_CLI_SLOW": "1.5"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while "start Notify first" not in runs(tmp_path):
        assert time.monotonic() < deadline, "the worker never started the first task"
        assert worker.poll() is None, worker.communicate()
        time.sleep(0.05)
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 0, stderr
    assert "worker stopped" in stderr
    assert runs(tmp_path) == ["start Notify first", "done Notify first"]
    assert app.dao(Notify).get("first").status is S.FULFILLED
    assert app.dao(Notify).get("second").status is S.QUEUED
