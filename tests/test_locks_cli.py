"""``simple-async-tasks locks list|break`` on the SQLite backend (issue 15's locks and
delLock): what holds a lock, until when, and breaking a stuck one with care."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from simple_async_tasks import AsyncTaskStatus
from simple_async_tasks.contracts import MutexLock, Transition, status_in

from .cli_app import Charge, app, cli_env, run_cli


def hold(key: str, order: str, until: datetime) -> MutexLock:
    """Claim the Charge ``order`` while taking the lock ``key`` (as an attempt does)."""
    dao = app.dao(Charge)
    dao.save(Charge(order_id=order), condition=None)
    now = datetime.now(timezone.utc)
    lock = MutexLock(key=key, owner=f"lease-{order}", acquired_at=now, expires_at=until)
    claim = Transition(status=AsyncTaskStatus.ATTEMPTED, add_attempts=1, attempted_at=now)
    dao.transition(order, claim, condition=status_in(AsyncTaskStatus.QUEUED), acquire=lock)
    return lock


def test_locks_are_listed_and_a_live_one_needs_force(tmp_path):
    env = cli_env(tmp_path, max_receives=2)
    now = datetime.now(timezone.utc)
    hold("Charge#live", "o1", now + timedelta(hours=1))
    hold("Charge#stale", "o2", now - timedelta(minutes=1))
    listed = run_cli("locks", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [(lock["key"], lock["owner"], lock["held"]) for lock in json.loads(listed.stdout)] == [
        ("Charge#live", "lease-o1", True),
        ("Charge#stale", "lease-o2", False),
    ]
    table = run_cli("locks", "list", env=env).stdout
    assert "Charge#live" in table
    assert "held" in table
    assert "expired" in table

    refused = run_cli("locks", "break", "Charge#live", env=env)
    assert refused.returncode == 4, refused.stderr
    assert "is held by task 'lease-o1'" in refused.stderr
    stale = run_cli("locks", "break", "Charge#stale", env=env)
    assert stale.returncode == 0, stale.stderr
    assert stale.stdout.startswith("broke Charge#stale (held by lease-o2 until ")
    forced = run_cli("locks", "break", "Charge#live", "--force", "--json", env=env)
    assert forced.returncode == 0, forced.stderr
    assert json.loads(forced.stdout)["owner"] == "lease-o1"
    gone = run_cli("locks", "break", "Charge#live", "--force", env=env)
    assert gone.returncode == 3
    assert "no lock 'Charge#live' is stored" in gone.stderr
    assert run_cli("locks", "list", env=env).stdout.strip() == "no locks"
