"""The worker registry (issue 15): heartbeats, what each worker runs, dead workers shown
and cleaned, and a killed worker's task taken over by the lease rules."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from datetime import timedelta

import pytest

from simple_async_tasks import TaskApp
from simple_async_tasks.backends.documents import InMemoryDocumentStore
from simple_async_tasks.operations import WorkerRegistry
from simple_async_tasks.testing import FakeClock

from .cli_app import Notify, app, cli_env, cli_path, run_cli, runs
from .tasks import SendEmail


def test_a_heartbeat_is_listed_alive_then_dead_then_reaped():
    clock = FakeClock()
    registry = WorkerRegistry(InMemoryDocumentStore(clock=clock), clock=clock)
    started = clock.now()
    registry.beat("w1", started_at=started, running=["SendEmail 123"], queues=["q"])
    registry.beat("w2", started_at=started, concurrency=4)
    clock.advance(30)
    registry.beat("w2", started_at=started, concurrency=4)  # w1 goes silent
    listed = {w.worker_id: w for w in registry.workers()}
    assert (listed["w1"].alive, listed["w1"].running, listed["w1"].queues) == (
        True,
        ("SendEmail 123",),
        ("q",),
    )
    assert (listed["w2"].last_seen, listed["w2"].started_at) == (clock.now(), started)
    clock.advance(31)  # w1 silent for 61 s: dead; w2 for 31 s
    assert [(w.worker_id, w.alive) for w in registry.workers()] == [("w1", False), ("w2", True)]
    reaped = registry.reap()
    assert [(w.worker_id, w.running) for w in reaped] == [("w1", ("SendEmail 123",))]
    assert [w.worker_id for w in registry.workers()] == ["w2"]
    registry.leave("w2")
    assert registry.workers() == []


def test_a_dead_workers_row_is_forgotten_after_an_hour_without_a_reap():
    clock = FakeClock()
    registry = WorkerRegistry(InMemoryDocumentStore(clock=clock), clock=clock)
    registry.beat("w1", started_at=clock.now())
    clock.advance(timedelta(minutes=59))
    assert [w.alive for w in registry.workers()] == [False]
    clock.advance(timedelta(minutes=2))
    assert registry.workers() == []


def test_forget_after_shorter_than_dead_after_is_refused():
    with pytest.raises(ValueError, match="must be at least dead_after"):
        WorkerRegistry(InMemoryDocumentStore(), forget_after=timedelta(seconds=1))


def test_a_running_worker_reports_what_it_runs_and_leaves_when_it_stops(tmp_path):
    local = TaskApp(f"sqlite:///{tmp_path / 't.db'}")
    started, release = threading.Event(), threading.Event()

    @local.task(SendEmail)
    def send(task: SendEmail) -> None:
        started.set()
        assert release.wait(10)

    stored = send.enqueue(user_id="u1")
    worker = local.worker(concurrency=2, schedule=False, poll_wait=timedelta(seconds=0.05))
    worker.heartbeat_every = timedelta(seconds=0.05)
    thread = threading.Thread(target=worker.run, kwargs={"handle_signals": False})
    thread.start()
    try:
        assert started.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            listed = local.registry().workers()
            if listed and listed[0].running:
                break
            time.sleep(0.05)
        assert [(w.worker_id, w.running, w.concurrency) for w in listed] == [
            (worker.worker_id, (f"SendEmail {stored.uuid}",), 2)
        ]
        assert listed[0].queues == ("default",)
    finally:
        release.set()
        worker.stop()
        thread.join(10)
    assert local.registry().workers() == []  # it left


def test_a_killed_workers_row_shows_it_dead_with_its_task_which_another_takes_over(tmp_path):
    killed_worker_is_shown_dead_and_taken_over(cli_env(tmp_path, max_receives=10), tmp_path)


def killed_worker_is_shown_dead_and_taken_over(env: dict[str, str], tmp_path) -> None:
    """Kill a worker (SIGKILL) mid-task: the registry shows it dead with its task, reap
    removes it, and a second worker takes the task over once the lease (2 s) lapsed."""
    env = {**env, "SAT_CLI_LEASE": "2"}
    task = app.enqueue(Notify(user_id="n1"))
    first = subprocess.Popen(
        [cli_path(), "worker", "tests.cli_app:app", "--concurrency", "1"],
        env={**os.environ, **env, "SAT_CLI_SLOW": "60"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        listed: list = []
        while time.monotonic() < deadline:
            listed = app.registry().workers()
            if listed and listed[0].running:
                break
            time.sleep(0.1)
        assert [w.running for w in listed] == [(f"Notify {task.uuid}",)]
        assert listed[0].pid == first.pid
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    time.sleep(1.2)
    shown = json.loads(run_cli("workers", "list", "--dead-after", "1", "--json", env=env).stdout)
    assert [(w["alive"], w["running"]) for w in shown] == [(False, [f"Notify {task.uuid}"])]
    table = run_cli("workers", "list", "--dead-after", "1", env=env).stdout
    assert "DEAD" in table
    reaped = run_cli("workers", "reap", "--dead-after", "1", env=env)
    assert reaped.returncode == 0, reaped.stderr
    assert f"it was running Notify {task.uuid}" in reaped.stdout
    assert run_cli("workers", "list", env=env).stdout.strip() == "no workers"

    # the second worker takes the task over once the dead attempt's lease lapsed
    second = run_cli(
        "worker",
        "tests.cli_app:app",
        "--until-idle",
        "5",
        "--poll-wait",
        "0.1",
        env=env,
        timeout=120,
    )
    assert second.returncode == 0, second.stderr
    assert runs(tmp_path) == ["start Notify n1", "start Notify n1", "done Notify n1"]
    done = app.dao(Notify).get("n1")
    assert (done.status.value, done.attempts, done.failures) == ("FULFILLED", 2, 1)
    assert run_cli("workers", "list", env=env).stdout.strip() == "no workers"  # it left
