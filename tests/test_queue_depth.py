"""Queue depth (issue 15's queueLength): visible, in flight, delayed and dead, per queue;
exact in memory and on SQLite, from Python and from the command line."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from simple_async_tasks import InMemoryTaskQueue, SqliteTaskQueue
from simple_async_tasks.errors import ConfigurationError
from simple_async_tasks.operations import QueueDepth, queue_depth
from simple_async_tasks.testing import FakeClock

from .cli_app import cli_env, run_cli


def test_memory_counts_visible_and_delayed_exactly():
    clock = FakeClock()
    queue = InMemoryTaskQueue(clock=clock)
    for _ in range(3):
        queue.push_body("{}")
    queue.push_body("{}", delay=timedelta(seconds=30))
    queue.receive(1)  # received: it left the queue
    assert queue_depth(queue) == QueueDepth(visible=2, in_flight=0, delayed=1)
    clock.advance(30)
    assert queue_depth(queue) == QueueDepth(visible=3, in_flight=0, delayed=0)


def test_sqlite_counts_each_state_and_the_dead_letters(tmp_path):
    clock = FakeClock()
    queue = SqliteTaskQueue(
        tmp_path / "t.db", clock=clock, max_receives=1, visibility_timeout=timedelta(seconds=10)
    )
    queue.push_bodies(["a", "b", "c", "d"])
    queue.push_bodies(["later"], delay=timedelta(seconds=60))
    taken = queue.receive(2)  # two in flight
    queue.release(taken[1], delay=timedelta(seconds=5))  # hidden for a backoff: in flight
    assert queue_depth(queue) == QueueDepth(visible=2, in_flight=2, delayed=1, dead=0)
    clock.advance(11)  # both come back; each was received once, the most allowed
    queue.receive(10)  # the two over max_receives go to the dead letters
    depth = queue_depth(queue)
    assert (depth.dead, depth.delayed, depth.exact) == (2, 1, True)
    assert depth.visible + depth.in_flight == 2


def test_a_queue_that_cannot_count_says_what_it_lacks():
    with pytest.raises(ConfigurationError, match="give it a depth\\(\\) method"):
        queue_depth(object())


def test_the_command_line_prints_the_depth(tmp_path):
    env = cli_env(tmp_path, max_receives=2)
    from .cli_app import Charge, app

    app.enqueue(Charge(order_id="o1"))
    app.enqueue(Charge(order_id="o2"))
    out = run_cli("queue", "depth", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) | {"queue": "q"} == {
        "name": "default",
        "queue": "q",
        "visible": 2,
        "in_flight": 0,
        "delayed": 0,
        "dead": 0,
        "exact": True,
    }
    text = run_cli("queue", "depth", env=env).stdout
    assert text.rstrip().endswith(": 2 visible, 0 in flight, 0 delayed, 0 dead")
    missing = run_cli("queue", "depth", "--backend", f"sqlite:///{tmp_path / 'nope.db'}", env=env)
    assert missing.returncode == 2
    assert not (tmp_path / "nope.db").exists()


def test_purge_drops_the_messages_and_the_sweep_brings_queued_tasks_back(tmp_path):
    """A purge never loses a task: the records stay QUEUED, and the requeue sweep pushes
    them again once they are stale."""
    from simple_async_tasks.operations import purge_queue, requeue_stale

    from .cli_app import Charge, app

    env = cli_env(tmp_path, max_receives=2)
    app.enqueue(Charge(order_id="o1"))
    app.enqueue(Charge(order_id="o2"))
    refused = run_cli("queue", "purge", env=env)
    assert refused.returncode == 2
    assert "add --yes to confirm" in refused.stderr
    out = run_cli("queue", "purge", "--yes", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["purged"] == 2
    assert queue_depth(app.queue).visible == 0
    assert app.dao(Charge).get("o1").status.value == "QUEUED"  # the records stay
    report = requeue_stale(dao=app.dao(Charge), queue=app.queue, older_than=timedelta(0))
    assert sorted(t.order_id for t in report.requeued) == ["o1", "o2"]
    assert queue_depth(app.queue).visible == 2
    assert purge_queue(InMemoryTaskQueue()) == 0
