"""Queues by priority (issue 15): task types routed to named queues, a worker that takes
several queues in priority order (every message of ``high`` before any of ``low``, as
node-resque's workers do) or by weight. SQLite and memory here; SQS in
tests/aws/test_priority_queues_aws.py."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any, ClassVar

import attrs
import pytest

from simple_async_tasks import AsyncTask, SqliteTaskQueue, TaskApp
from simple_async_tasks.backends.sqlite_queue import SqliteSource
from simple_async_tasks.errors import ConfigurationError
from simple_async_tasks.lifecycle.priority import QueueSources
from simple_async_tasks.testing import drain


@attrs.frozen(kw_only=True)
class Urgent(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("n",)
    n: int


@attrs.frozen(kw_only=True)
class Bulk(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("n",)
    n: int


def routed_app(url: str, ran: list[str], **queues: str) -> TaskApp:
    app = TaskApp(url, queues=queues or None)
    app.task(Urgent, queue="high")(lambda task: ran.append(f"urgent {task.n}"))
    app.task(Bulk, queue="low")(lambda task: ran.append(f"bulk {task.n}"))
    return app


def test_each_task_type_travels_on_its_own_queue(tmp_path):
    ran: list[str] = []
    app = routed_app(f"sqlite:///{tmp_path / 't.db'}", ran)
    app.enqueue(Urgent(n=1))
    app.enqueue(Bulk(n=1))
    app.enqueue(Bulk(n=2))
    high, low = app.queue_for(Urgent), app.queue_for("Bulk")
    assert isinstance(high, SqliteTaskQueue)
    assert (len(high), len(low), len(app.queue)) == (1, 2, 0)  # nothing on "default"
    assert app.queue_names() == ["high", "low"]
    assert [e.task_type for e in app.executors(queue="high")] == ["Urgent"]
    with pytest.raises(ConfigurationError, match="no tasks on queue 'nope'"):
        app.executors(queue="nope")


def test_priority_takes_every_high_message_before_any_low(tmp_path):
    path = tmp_path / "t.db"
    high, low = SqliteTaskQueue(path, name="high"), SqliteTaskQueue(path, name="low")
    low.push_bodies(["l1", "l2", "l3"])
    high.push_bodies(["h1", "h2", "h3"])
    sources = QueueSources([("high", SqliteSource(high)), ("low", SqliteSource(low))])
    first = sources.take(2, timedelta(0))
    assert [d.body for d in first] == ["h1", "h2"]
    rest = sources.take(10, timedelta(0))
    assert [d.body for d in rest] == ["h3", "l1", "l2", "l3"]  # high's last, then low
    for delivery in first + rest:
        sources.done(delivery)  # settled on the queue it came from
    sources.flush()
    assert (len(high), len(low)) == (0, 0)


def test_weights_share_the_takes_so_no_queue_starves(tmp_path):
    path = tmp_path / "t.db"
    high, low = SqliteTaskQueue(path, name="high"), SqliteTaskQueue(path, name="low")
    high.push_bodies([f"h{i}" for i in range(400)])
    low.push_bodies([f"l{i}" for i in range(400)])
    sources = QueueSources(
        [("high", SqliteSource(high)), ("low", SqliteSource(low))],
        weights={"high": 3, "low": 1},
        rng=random.Random(7),
    )
    taken = Counter(sources.take(1, timedelta(0))[0].body[0] for _ in range(400))
    assert 260 <= taken["h"] <= 340  # about 3 in 4
    assert taken["l"] >= 60  # low keeps its share while high is full
    with pytest.raises(ValueError, match="positive weight"):
        QueueSources([("high", SqliteSource(high))], weights={"high": 0})
    with pytest.raises(ValueError, match="positive weight"):
        QueueSources([("high", SqliteSource(high))], weights={"low": 1})


def test_a_worker_runs_high_before_low(tmp_path):
    ran: list[str] = []
    app = routed_app(f"sqlite:///{tmp_path / 't.db'}", ran)
    for n in range(5):
        app.enqueue(Bulk(n=n))
    for n in range(5):
        app.enqueue(Urgent(n=n))
    worker = app.worker(concurrency=1, schedule=False, poll_wait=timedelta(0))
    assert worker.queue_names == ["high", "low"]
    worker.run(max_idle=timedelta(seconds=0.5), handle_signals=False)
    assert ran == [f"urgent {n}" for n in range(5)] + [f"bulk {n}" for n in range(5)]


def test_a_worker_on_one_queue_leaves_the_others(tmp_path):
    ran: list[str] = []
    app = routed_app(f"sqlite:///{tmp_path / 't.db'}", ran)
    app.enqueue(Bulk(n=1))
    app.enqueue(Urgent(n=1))
    worker = app.worker(queues=["low"], schedule=False, poll_wait=timedelta(0))
    worker.run(max_idle=timedelta(seconds=0.3), handle_signals=False)
    assert ran == ["bulk 1"]
    assert len(app.queue_for(Urgent)) == 1


def test_drain_of_an_app_takes_its_memory_queues_by_priority():
    ran: list[str] = []
    app = routed_app("memory://", ran)
    app.enqueue(Bulk(n=1))
    app.enqueue(Urgent(n=1))
    report = drain(app)
    assert (report.delivered, ran) == (2, ["urgent 1", "bulk 1"])


def test_an_sqs_queue_needs_its_url_and_a_name_is_checked():
    app = TaskApp("dynamodb://t?region=us-east-1", queue="sqs://q?region=us-east-1")
    app.task(Urgent, queue="high")(lambda task: None)
    with pytest.raises(ConfigurationError, match="no URL for queue 'high'"):
        app.queue_for(Urgent)
    with pytest.raises(ConfigurationError, match="a queue name is 1 to 80"):
        app.task(Bulk, queue="has space")
    with pytest.raises(ConfigurationError, match="a DynamoDB table, not a queue"):
        _ = TaskApp("memory://", queues={"high": "dynamodb://t"}).backend


def test_the_command_line_worker_and_depth_name_the_queues(tmp_path: Any):
    from .cli_app import run_cli

    url = f"sqlite:///{tmp_path / 'tasks.db'}"
    env = {"SIMPLE_ASYNC_TASKS_BACKEND": url, "SAT_CLI_DIR": str(tmp_path)}
    from .ops_app import Invoice, Report, app

    app.use(url)
    app.dao(Report)
    app.enqueue(Invoice(invoice_id="i1"))
    depth = run_cli("queue", "depth", "--app", "tests.ops_app:app", env=env)
    assert depth.returncode == 0, depth.stderr
    assert depth.stdout.startswith("default (")
    out = run_cli(
        "worker", "tests.ops_app:app", "--queues", "default", "--weights", "default=2",
        "--until-idle", "0.5", "--poll-wait", "0", "--no-schedule", env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "queues default (by weight)" in out.stderr
    bad = run_cli("worker", "tests.ops_app:app", "--weights", "default", env=env)
    assert bad.returncode == 2
    assert "is not NAME=NUMBER" in bad.stderr


def test_the_lambda_example_has_one_handler_per_queue():
    import importlib

    module = importlib.import_module("examples.priority_lambda")
    assert module.tasks.queue_names() == ["default", "high"]
    assert [e.task_type for e in module.tasks.executors(queue="high")] == ["ResetPassword"]
    assert [e.task_type for e in module.tasks.executors(queue="default")] == ["RebuildSearchIndex"]
    body = '{"task": {"request_id": "r"}, "meta": {"taskType": "RebuildSearchIndex"}}'
    record = {"messageId": "m1", "body": body, "eventSource": "aws:sqs", "eventSourceARN": "a"}
    event = {"Records": [record]}
    # a message of the other queue's type is refused alone (it is not this function's)
    assert module.high_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_a_low_queue_not_asked_still_sends_its_deletes(tmp_path):
    path = tmp_path / "t.db"
    high, low = SqliteTaskQueue(path, name="high"), SqliteTaskQueue(path, name="low")
    low.push_bodies(["l1"])
    sources = QueueSources([("high", SqliteSource(high)), ("low", SqliteSource(low))])
    (taken,) = sources.take(1, timedelta(0))  # high is empty: low's message
    sources.done(taken)
    high.push_bodies(["h1", "h2"])
    assert [d.body for d in sources.take(1, timedelta(0))] == ["h1"]  # low is not asked
    assert len(low) == 0  # but its finished message was deleted with this take
