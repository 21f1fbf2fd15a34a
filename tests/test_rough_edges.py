"""The rough edges a newcomer hit (issue 14), each reproduced and fixed: the real console
script in a subprocess, on the SQLite backend."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .cli_app import ROOT, Charge, Notify, app, cli_env, cli_path, run_cli, runs

APP = "tests.cli_app:app"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path, max_receives=3)


def test_a_garbage_cursor_is_a_usage_error_and_the_paging_hint_pastes_into_a_shell(env):
    for order in ("o1", "o2"):
        app.enqueue(Charge(order_id=order))
    bad = run_cli(
        "tasks", "list", "--type", "Charge", "--status", "QUEUED", "--cursor", "junk", env=env
    )
    assert bad.returncode == 2, bad.stderr
    assert "is not a cursor of this listing" in bad.stderr
    assert "Traceback" not in bad.stderr
    first = run_cli(
        "tasks", "list", "--type", "Charge", "--status", "QUEUED", "--limit", "1", env=env
    )
    (hint,) = [line for line in first.stderr.splitlines() if line.startswith("more:")]
    pasted = subprocess.run(  # the hint, pasted into bash as it is printed
        [
            "bash",
            "-c",
            f"{cli_path()} tasks list --type Charge --status QUEUED --limit 1 "
            f"{hint.removeprefix('more: add ')}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        check=False,
    )
    assert pasted.returncode == 0, pasted.stderr
    assert "o2" in pasted.stdout
    assert "o1" not in pasted.stdout


def test_the_command_line_beats_the_app_which_beats_the_environment(tmp_path, env):
    own = f"sqlite:///{tmp_path / 'own.db'}"
    app.use(own)
    app.enqueue(Charge(order_id="mine"))
    other = f"sqlite:///{tmp_path / 'other.db'}"
    app.use(other)
    app.dao(Charge)  # exists, empty
    with_own = {**env, "SAT_CLI_OWN_URL": own}  # env names tasks.db, the app its own file

    def queued(*args: str, run_env: dict[str, str]) -> int:
        out = run_cli("tasks", "stats", "--json", *args, env=run_env)
        assert out.returncode == 0, out.stderr
        return int(json.loads(out.stdout)["Charge"]["QUEUED"])

    assert queued(run_env=with_own) == 1  # the app's own URL, not the environment's
    assert queued("--backend", other, run_env=with_own) == 0  # the command line first
    assert queued(run_env=env) == 0  # an app without a URL reads the environment


def test_an_inspecting_command_never_creates_a_store(env, tmp_path):
    typo = tmp_path / "typo.db"
    out = run_cli("tasks", "stats", "--backend", f"sqlite:///{typo}", env=env)
    assert out.returncode == 2
    assert f"there is no SQLite store at {typo}" in out.stderr
    assert not typo.exists()
    missing = tmp_path / "no-such-dir" / "tasks.db"
    out = run_cli("dlq", "list", "--backend", f"sqlite:///{missing}", env=env)
    assert out.returncode == 2
    assert f"nor does its directory {missing.parent}" in out.stderr


def test_a_worker_on_a_missing_directory_names_the_path(env, tmp_path):
    missing = tmp_path / "no-such-dir" / "tasks.db"
    out = run_cli(
        "worker", "--app", APP, "--backend", f"sqlite:///{missing}", "--until-idle", "0", env=env
    )
    assert out.returncode == 2, out.stderr
    assert f"cannot open the SQLite file {missing}" in out.stderr
    assert "Traceback" not in out.stderr


def test_failed_waiting_for_a_retry_is_told_apart_and_until_idle_says_so(env, tmp_path):
    (tmp_path / "fail-u1").touch()
    app.enqueue(Notify(user_id="u1"))  # 5 attempts
    slow = {**env}
    out = run_cli(
        "worker",
        "--app",
        APP,
        "--until-idle",
        "0.5",
        "--poll-wait",
        "0.1",
        "--no-schedule",
        env=slow,
    )
    assert out.returncode == 5, out.stderr
    assert "FAILED task(s) still wait for a retry" in out.stderr
    listed = json.loads(run_cli("tasks", "list", "--status", "FAILED", "--json", env=env).stdout)
    (task,) = listed["tasks"]
    assert task["retry"].startswith("retry due ")


def test_the_worker_logs_a_task_when_it_starts_and_while_it_runs(env):
    app.enqueue(Charge(order_id="slow"))
    out = run_cli(
        "worker",
        "--app",
        APP,
        "-v",
        "--until-idle",
        "0.3",
        "--poll-wait",
        "0.1",
        "--long-task-every",
        "1",
        "--no-schedule",
        env={**env, "SAT_CLI_SLOW": "2.5"},
    )
    assert out.returncode == 0, out.stderr
    assert "running Charge " in out.stderr
    assert "still running Charge " in out.stderr


def test_sigterm_while_the_app_imports_stops_the_worker_cleanly(env):
    process = subprocess.Popen(
        [cli_path(), "worker", "--app", APP, "--poll-wait", "0.1"],
        cwd=ROOT,
        env={**os.environ, **env, "SAT_CLI_SLOW_IMPORT": "1.5"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.8)  # the interpreter is up, the app is still importing
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "worker stopped: delivered 0" in err


def test_the_worker_takes_the_sweep_threshold(env, tmp_path):
    """A record saved QUEUED whose message was lost (a crash between save and push) is
    pushed again by the worker's sweep once it is older than --requeue-after."""
    app.dao(Charge).save(Charge(order_id="lost"), condition=None)  # no message
    args = ("worker", "--app", APP, "--until-idle", "0.5", "--poll-wait", "0.1")
    kept = run_cli(*args, env=env)  # the default, 15 minutes: not yet
    assert kept.returncode == 0, kept.stderr
    assert app.dao(Charge).get("lost").status.value == "QUEUED"
    swept = run_cli(*args, "--requeue-after", "0", env=env)
    assert swept.returncode == 0, swept.stderr
    assert app.dao(Charge).get("lost").status.value == "FULFILLED"
    assert runs(tmp_path) == ["start Charge lost", "done Charge lost"]


def test_small_inconsistencies(env):
    app.enqueue(Charge(order_id="o1"))
    positional = run_cli("worker", APP, "--until-idle", "0.2", "--poll-wait", "0.1", env=env)
    assert positional.returncode == 0, positional.stderr  # the old form still works
    shown = json.loads(run_cli("tasks", "show", "o1", "--json", env=env).stdout)
    assert all(key == key.lower() for key in shown)  # snake_case throughout
    assert {"task_type", "unique_key", "created_at"} <= set(shown)
    no_key = run_cli("tasks", "retry", env=env)
    assert no_key.returncode == 2
    assert "--all-failed" in no_key.stderr


def test_output_into_a_closed_pipe_prints_no_traceback(env):
    dao = app.dao(Charge)
    for i in range(1500):  # more than a pipe holds, so the writer meets a closed pipe
        dao.save(Charge(order_id=f"p{i:04d}"), condition=None)
    out = subprocess.run(
        ["bash", "-c", f"{cli_path()} tasks list --limit 1000 | head -1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        check=False,
    )
    assert out.returncode == 0
    assert out.stdout.startswith("TYPE")
    assert "BrokenPipeError" not in out.stderr
    assert "Traceback" not in out.stderr
