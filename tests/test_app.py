"""TaskApp: registration, lazy binding to a backend URL, and running on memory and SQLite."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest

from simple_async_tasks import AsyncTaskStatus, RetryPolicy, SqliteTaskQueue, TaskApp
from simple_async_tasks.errors import ConfigurationError, TaskDefinitionError
from simple_async_tasks.testing import FakeClock, drain

from .tasks import SendEmail, SyncAccount

S = AsyncTaskStatus


def _app(clock: FakeClock) -> tuple[TaskApp, list[str]]:
    app = TaskApp("memory://", clock=clock)
    sent: list[str] = []

    @app.task(SendEmail, retry=RetryPolicy(max_attempts=2, initial_delay=timedelta(1), jitter=0))
    def send(task: SendEmail) -> str:
        if task.user_id == "flaky" and "flaky" not in sent:
            sent.append("flaky")
            raise ConnectionError("down")
        sent.append(task.user_id)
        return task.user_id

    return app, sent


def test_enqueue_dedup_and_drain_on_memory(clock):
    app, sent = _app(clock)

    @app.enqueuer
    def welcome(user_id: str, *, email: str = "a@example.com") -> SendEmail:
        return SendEmail(user_id=user_id, email=email)

    assert list(inspect.signature(welcome).parameters) == ["user_id", "email"]
    first = welcome("u1")
    assert welcome("u1").uuid == first.uuid  # deduplicated
    welcome("flaky")
    report = drain(app)
    assert report.delivered == 3  # u1, flaky, flaky's retry after its backoff
    assert sent == ["u1", "flaky", "flaky"]
    assert app.dao(SendEmail).get("flaky").attempts == 2
    assert app.task_types == ["SendEmail"]
    assert app.task_class("SendEmail") is SendEmail


def test_registration_mistakes_are_caught_early(clock):
    app, _ = _app(clock)
    with pytest.raises(TaskDefinitionError, match="registered with this app already"):
        app.task(SendEmail)(lambda task: None)
    with pytest.raises(ConfigurationError, match=r"with @app.task\(SyncAccount"):
        app.enqueue(SyncAccount(account_id="a", job=1))
    with pytest.raises(ConfigurationError, match="has no task type 'Refund'; it has: SendEmail"):
        app.task_class("Refund")
    with pytest.raises(ConfigurationError, match="this app has no tasks"):
        TaskApp("memory://").executors()
    with pytest.raises(TaskDefinitionError):
        app.recurring(SendEmail, name="bad", get_new=lambda at: SendEmail(user_id="x"))


def test_the_backend_comes_from_the_environment_when_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMPLE_ASYNC_TASKS_BACKEND", f"sqlite:///{tmp_path / 'env.db'}")
    app = TaskApp()
    assert app.backend.store_url.endswith("env.db")
    app.use(f"sqlite:///{tmp_path / 'other.db'}")
    assert app.backend.store_url.endswith("other.db")


def test_use_rebinds_everything_built_before(clock, tmp_path):
    app, _ = _app(clock)
    app.enqueue(SendEmail(user_id="u1"))
    app.use(f"sqlite:///{tmp_path / 't.db'}")
    assert app.dao(SendEmail).get("u1") is None  # a new, empty store
    app.enqueue(SendEmail(user_id="u1"))
    assert isinstance(app.queue, SqliteTaskQueue)
    assert len(app.queue) == 1


def test_drain_refuses_a_durable_queue(tmp_path):
    app = TaskApp(f"sqlite:///{tmp_path / 't.db'}")
    app.task(SendEmail)(lambda task: None)
    with pytest.raises(ConfigurationError, match=r"call app.use\('memory://'\) first"):
        drain(app)


def test_recurring_schedules_run_through_the_scheduler(clock):
    app, sent = _app(clock)
    app.recurring(
        SendEmail,
        name="digest",
        every=timedelta(hours=1),
        get_new=lambda at: SendEmail(user_id=f"digest-{at:%H}"),
    )
    with pytest.raises(TaskDefinitionError, match="named 'digest' exists already"):
        app.recurring(SendEmail, name="digest", every=timedelta(hours=1), get_new=lambda at: None)
    scheduler = app.scheduler()
    assert scheduler.run_once().enqueued == 1
    clock.advance(timedelta(hours=1))
    assert scheduler.run_once().enqueued == 1
    drain(app)
    assert sent == ["digest-00", "digest-01"]


def test_a_worker_from_the_app_runs_the_sqlite_queue(tmp_path):
    app = TaskApp(f"sqlite:///{tmp_path / 't.db'}")
    done: list[str] = []
    app.task(SendEmail)(lambda task: done.append(task.user_id))
    for user in ("a", "b", "c"):
        app.enqueue(SendEmail(user_id=user))
    worker = app.worker(concurrency=2, poll_wait=timedelta(milliseconds=50))
    summary = worker.run(handle_signals=False, max_idle=timedelta(milliseconds=500))
    assert sorted(done) == ["a", "b", "c"]
    assert (summary.succeeded, summary.failed, summary.scheduler_runs) == (3, 0, 1)
    assert {app.dao(SendEmail).get(u).status for u in done} == {S.FULFILLED}


def test_use_keeps_what_it_is_not_given(tmp_path):
    first, second = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    app = TaskApp(first, queue=second)
    app.use(clock=FakeClock())
    assert (app.backend.store_url, app.backend.queue_url) == (first, second)
    app.use(queue=first)
    assert (app.backend.store_url, app.backend.queue_url) == (first, first)
    app.use(second)  # a new store comes with its own queue
    assert (app.backend.store_url, app.backend.queue_url) == (second, None)
