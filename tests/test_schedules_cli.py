"""``simple-async-tasks schedules``: stored schedules from a shell, run by the worker."""

from __future__ import annotations

import json

from .cli_app import run_cli, runs
from .ops_app import Report, app


def _env(tmp_path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'tasks.db'}?visibility_timeout=1"
    app.use(url)
    app.dao(Report)  # creates the file
    return {
        "SIMPLE_ASYNC_TASKS_BACKEND": url,
        "SIMPLE_ASYNC_TASKS_APP": "tests.ops_app:app",
        "SAT_CLI_DIR": str(tmp_path),
    }


def test_create_show_update_pause_resume_delete(tmp_path):
    env = _env(tmp_path)
    out = run_cli(
        "schedules", "create", "nightly", "--job", "Report", "--interval", "every_day",
        "--hour", "2", "--payload", '{"report": "sales"}', "--creator", "ada", env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "created nightly: Report at '0 2 * * *', next " in out.stdout
    shown = json.loads(run_cli("schedules", "show", "nightly", "--json", env=env).stdout)
    assert (shown["creator"], shown["payload"], shown["version"]) == (
        "ada",
        {"report": "sales"},
        1,
    )

    stale = run_cli("schedules", "update", "nightly", "--minute", "5", "--version", "7", env=env)
    assert stale.returncode == 4
    assert "changed by someone else" in stale.stderr
    moved = run_cli("schedules", "update", "nightly", "--minute", "5", "--json", env=env)
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["cron"] == "5 2 * * *"  # the hour kept, the minute merged

    assert "paused nightly" in run_cli("schedules", "pause", "nightly", env=env).stdout
    listed = run_cli("schedules", "list", env=env).stdout
    assert "nightly" in listed
    assert "paused" in listed
    assert "resumed nightly" in run_cli("schedules", "resume", "nightly", env=env).stdout
    assert run_cli("schedules", "delete", "nightly", env=env).returncode == 0
    missing = run_cli("schedules", "show", "nightly", env=env)
    assert missing.returncode == 3
    assert "no stored schedule is named 'nightly'" in missing.stderr


def test_a_bad_schedule_exits_2_and_stores_nothing(tmp_path):
    env = _env(tmp_path)
    for args, message in [
        (["--job", "Nope", "--interval", "EVERY_DAY"], "Nope"),
        (["--job", "Invoice", "--interval", "EVERY_DAY"], "no datetime field"),
        (["--job", "Report", "--interval", "EVERY_DAY", "--payload", "{}"], "report"),
        (["--job", "Report", "--interval", "EVERY_HOUR", "--hour", "3"], "does not read hour"),
        (["--job", "Report", "--interval", "EVERY_DAY", "--payload", "[1]"], "JSON object"),
        (["--interval", "EVERY_DAY"], "needs --job"),
    ]:
        out = run_cli("schedules", "create", "bad", *args, env=env)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
    assert run_cli("schedules", "list", env=env).stdout.strip() == "no schedules"


def test_the_worker_runs_a_stored_schedule(tmp_path):
    env = _env(tmp_path)
    out = run_cli(
        "schedules", "create", "minutely", "--job", "Report", "--interval", "EVERY_MINUTE",
        "--payload", '{"report": "tick"}', "--start-at", "2020-01-01T00:00:00+00:00", env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    worker = run_cli(
        "worker", "tests.ops_app:app", "--until-idle", "1.5", "--poll-wait", "0.1", env=env
    )
    assert worker.returncode == 0, worker.stderr
    ran = runs(tmp_path)
    assert len(ran) == 1  # the current minute's occurrence, once
    assert ran[0].startswith("report tick ")
