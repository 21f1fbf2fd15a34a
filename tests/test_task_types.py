"""The registered task types and their settings (issue 15's getAllTasks), from Python
(``TaskApp.settings()``) and from ``simple-async-tasks tasks types``."""

from __future__ import annotations

import json
from datetime import timedelta

from .cli_app import app, cli_env, run_cli


def test_settings_name_each_type_its_class_logic_and_options():
    by_type = {s.task_type: s for s in app.settings()}
    assert list(by_type) == ["Charge", "Notify"]  # registration order
    charge = by_type["Charge"]
    assert (charge.task_class, charge.logic) == ("tests.cli_app.Charge", "tests.cli_app.charge")
    assert (charge.unique, charge.mutex, charge.retention) == (("order_id",), None, None)
    assert charge.options.retry.max_attempts == 1
    assert by_type["Notify"].options.retry.initial_delay == timedelta(0)


def test_the_command_lists_them_without_needing_a_store(tmp_path):
    env = cli_env(tmp_path, max_receives=2)
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    out = run_cli("tasks", "types", "--json", "--backend", missing, env=env)
    assert out.returncode == 0, out.stderr
    found = {t["task_type"]: t for t in json.loads(out.stdout)}
    assert found["Charge"]["options"]["retry"]["max_attempts"] == 1
    assert found["Notify"]["options"]["retry"]["max_attempts"] == 5
    assert found["Notify"]["options"]["lease"] == 60.0
    assert found["Charge"]["queue"] == "default"  # the queue's name (issue 15)
    shown = run_cli("tasks", "types", "--backend", missing, env=env)
    assert f"queue default: {missing}" in shown.stderr  # its URL, on stderr
    assert not (tmp_path / "none.db").exists()
    table = run_cli("tasks", "types", "--type", "Notify", env=env)
    assert table.returncode == 0, table.stderr
    (header, row) = table.stdout.splitlines()
    assert header.split()[:4] == ["TYPE", "UNIQUE", "MUTEX", "ATTEMPTS"]
    assert row.split()[:3] == ["Notify", "user_id", "5"]
