"""The real ``simple-async-tasks`` console script against the local AWS endpoint: records in
DynamoDB, messages on SQS with a dead-letter queue, all over HTTP."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from simple_async_tasks import AsyncTaskStatus
from simple_async_tasks.aws import reset_clients
from simple_async_tasks.testing.local_aws import LocalAws

from ..cli_app import Charge, Notify, app, run_cli, runs
from .conftest import queue_arn

S = AsyncTaskStatus
APP = "tests.cli_app:app"


@pytest.fixture
def env(aws_endpoint: LocalAws, table: str, sqs: Any, tmp_path: Path) -> Any:
    name = tmp_path.name[-40:].replace("_", "-")
    dlq_url = sqs.create_queue(QueueName=f"dlq-{name}")["QueueUrl"]
    queue_url = sqs.create_queue(
        QueueName=f"q-{name}",
        Attributes={
            "VisibilityTimeout": "2",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": queue_arn(sqs, dlq_url), "maxReceiveCount": "2"}
            ),
        },
    )["QueueUrl"]
    backend = f"dynamodb://{table}?region=us-east-1&endpoint={aws_endpoint.dynamodb}"
    app.use(backend, queue=queue_url)
    yield {
        "SIMPLE_ASYNC_TASKS_BACKEND": backend,
        "SIMPLE_ASYNC_TASKS_QUEUE": queue_url,
        "SIMPLE_ASYNC_TASKS_APP": APP,
        "SAT_CLI_DIR": str(tmp_path),
    }
    app.use("memory://")
    reset_clients()


def _json(out: subprocess.CompletedProcess[str]) -> Any:
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _worker(env: dict[str, str], *, pending: bool = False) -> None:
    """Run the worker until idle; ``pending``: FAILED tasks keep retries left (exit 5)."""
    out = run_cli("worker", APP, "--until-idle", "3", "--poll-wait", "1", env=env, timeout=120)
    assert out.returncode == (5 if pending else 0), out.stderr


def test_list_and_stats(env):
    app.enqueue(Charge(order_id="o1"))
    app.enqueue(Charge(order_id="o2"))
    app.enqueue(Notify(user_id="u1"))
    stats = _json(run_cli("tasks", "stats", "--json", env=env))
    assert (stats["Charge"]["QUEUED"], stats["Notify"]["QUEUED"]) == (2, 1)
    assert "FULFILLED" not in stats["Charge"]  # not indexed: only a table scan counts it
    everything = _json(run_cli("tasks", "stats", "--all", "--json", env=env))
    assert everything["Charge"]["FULFILLED"] == 0
    assert everything["Charge"]["QUEUED"] == 2
    table = run_cli("tasks", "stats", env=env).stdout
    assert "not indexed by this backend" in table
    listed = _json(run_cli("tasks", "list", "--type", "Charge", "--json", env=env))
    assert [t["unique_key"] for t in listed["tasks"]] == ["o1", "o2"]
    assert "u1" in run_cli("tasks", "list", env=env).stdout


def test_retry_of_a_failed_task_which_then_runs(env, tmp_path):
    (tmp_path / "fail-o1").touch()
    app.enqueue(Charge(order_id="o1"))
    _worker(env)
    assert app.dao(Charge).get("o1").status is S.FAILED
    (tmp_path / "fail-o1").unlink()
    out = run_cli("tasks", "retry", "o1", env=env)
    assert out.returncode == 0, out.stderr
    _worker(env)
    assert app.dao(Charge).get("o1").status is S.FULFILLED
    assert runs(tmp_path).count("done Charge o1") == 1


def test_cancel_of_a_queued_task_which_then_is_skipped(env, tmp_path):
    app.enqueue(Charge(order_id="drop"))
    assert run_cli("tasks", "cancel", "drop", env=env).returncode == 0
    _worker(env)
    assert runs(tmp_path) == []
    assert app.dao(Charge).get("drop").status is S.CANCELED


def test_dead_letters_are_listed_and_redriven(env, tmp_path):
    (tmp_path / "fail-u1").touch()
    app.enqueue(Notify(user_id="u1"))
    _worker(env, pending=True)  # two failed receives; SQS moves the message on the third
    letters = _json(run_cli("dlq", "list", "--json", env=env))
    assert [d["task_type"] for d in letters] == ["Notify"]
    (tmp_path / "fail-u1").unlink()
    moved = _json(run_cli("dlq", "redrive", "--json", env=env))
    assert moved == {"redriven": 1}
    assert _json(run_cli("dlq", "list", "--json", env=env)) == []
    _worker(env)
    assert app.dao(Notify).get("u1").status is S.FULFILLED


def test_a_task_app_serves_the_lambda_handler(env, sqs, tmp_path, monkeypatch):
    from simple_async_tasks.aws import create_sqs_handler

    from .conftest import lambda_event, queue_arn, receive_all

    monkeypatch.setenv("SAT_CLI_DIR", str(tmp_path))
    handler = create_sqs_handler(app.executors())
    app.enqueue(Charge(order_id="o1"))
    app.enqueue(Notify(user_id="u1"))
    queue_url = env["SIMPLE_ASYNC_TASKS_QUEUE"]
    messages = receive_all(sqs, queue_url)
    assert handler(lambda_event(messages, queue_arn(sqs, queue_url)), None) == {
        "batchItemFailures": []
    }
    assert app.dao(Charge).get("o1").status is S.FULFILLED
    assert app.dao(Notify).get("u1").status is S.FULFILLED
    assert sorted(runs(tmp_path)) == sorted(
        ["start Charge o1", "done Charge o1", "start Notify u1", "done Notify u1"]
    )


def test_a_queue_given_by_name(env, aws_endpoint):
    name = env["SIMPLE_ASYNC_TASKS_QUEUE"].rsplit("/", 1)[1]
    by_name = f"sqs://{name}?region=us-east-1&endpoint={aws_endpoint.sqs}"
    listed = run_cli("dlq", "list", "--queue", by_name, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "no dead letters in the dead-letter queue of http://127.0.0.1" in listed.stdout
    missing = run_cli(
        "dlq",
        "list",
        "--queue",
        f"sqs://nope?region=us-east-1&endpoint={aws_endpoint.sqs}",
        env=env,
    )
    assert missing.returncode == 2
    assert "there is no SQS queue named 'nope'" in missing.stderr


def test_a_killed_worker_on_dynamodb_and_sqs_is_shown_dead_and_its_task_taken_over(env, tmp_path):
    from ..test_workers import killed_worker_is_shown_dead_and_taken_over

    killed_worker_is_shown_dead_and_taken_over(env, tmp_path)


def test_a_backend_failure_exits_1_without_a_traceback(env, aws_endpoint):
    """On the local engine, not AWS itself: a table that does not exist (the test used to
    point at ``dynamodb://t`` in us-east-1, which reached for the network and took up to
    a minute of botocore's retries to fail)."""
    missing = f"dynamodb://no-such-table?region=us-east-1&endpoint={aws_endpoint.dynamodb}"
    out = run_cli("tasks", "stats", "--backend", missing, env=env)
    assert out.returncode == 1, out.stderr
    assert "does not exist" in out.stderr
    assert "Traceback" not in out.stderr
