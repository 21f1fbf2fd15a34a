"""Backend URLs: every accepted form, and an error that shows the right form for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from simple_async_tasks.app.backend import Backend
from simple_async_tasks.app.urls import (
    DynamoUrl,
    MemoryUrl,
    SqliteUrl,
    SqsUrl,
    parse_backend_url,
)
from simple_async_tasks.errors import ConfigurationError

from .tasks import SendEmail


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("memory://", MemoryUrl()),
        ("sqlite:///tasks.db", SqliteUrl(Path("tasks.db"))),
        ("sqlite:////var/lib/app/tasks.db", SqliteUrl(Path("/var/lib/app/tasks.db"))),
        (
            "sqlite:///t.db?queue=emails&visibility_timeout=2.5&max_receives=3",
            SqliteUrl(Path("t.db"), "emails", 2.5, 3),
        ),
        ("dynamodb://tasks", DynamoUrl("tasks")),
        (
            "dynamodb://tasks?region=eu-west-1&endpoint=http://127.0.0.1:4566",
            DynamoUrl("tasks", "eu-west-1", "http://127.0.0.1:4566"),
        ),
        ("sqs://jobs?region=eu-west-1", SqsUrl(name="jobs", region="eu-west-1")),
        (
            "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
            SqsUrl(
                queue_url="https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
                region="eu-west-1",
            ),
        ),
        (
            "http://127.0.0.1:5000/123456789012/jobs.fifo",
            SqsUrl(
                queue_url="http://127.0.0.1:5000/123456789012/jobs.fifo",
                endpoint="http://127.0.0.1:5000",
            ),
        ),
    ],
)
def test_accepted_forms(url, parsed):
    assert parse_backend_url(url) == parsed


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgres://db/tasks", "use memory://, sqlite:///tasks.db"),
        ("sqlite://tasks.db", "SQLite URLs have three slashes: sqlite:///tasks.db"),
        ("sqlite:///", "names no file"),
        ("sqlite:///t.db?max_receives=0", "max_receives must be a number of at least 1"),
        ("sqlite:///t.db?max_receives=1.5", "max_receives must be a whole number"),
        ("sqlite:///t.db?visibility_timeout=soon", "visibility_timeout must be a number"),
        ("sqlite:///t.db?region=x", "unknown option(s) ['region']; sqlite URLs take: max_rec"),
        ("dynamodb://", "names no table"),
        ("sqs://?region=x", "names no queue"),
        ("https://example.com/jobs", "is not an SQS queue URL"),
    ],
)
def test_mistakes_say_what_to_write(url, says):
    with pytest.raises(ConfigurationError) as raised:
        parse_backend_url(url)
    assert says in str(raised.value)


def test_a_queue_is_not_a_store_and_a_table_is_not_a_queue():
    with pytest.raises(ConfigurationError, match="is a queue, not a store"):
        Backend("sqs://jobs")
    with pytest.raises(ConfigurationError, match="is a DynamoDB table, not a queue"):
        Backend("dynamodb://tasks", "dynamodb://other")


def test_a_dynamodb_store_needs_a_queue_only_when_one_is_used():
    backend = Backend("dynamodb://tasks?region=us-east-1")
    backend.dao(SendEmail)  # no call is made yet, and no queue is needed for records
    with pytest.raises(ConfigurationError, match="needs a queue: give an SQS queue"):
        _ = backend.queue


def test_opening_touches_nothing_until_used(tmp_path):
    path = tmp_path / "t.db"
    backend = Backend(f"sqlite:///{path}")
    assert not path.exists()
    backend.dao(SendEmail)
    assert path.exists()
    assert backend.dao(SendEmail) is backend.dao(SendEmail)  # one DAO per class


def test_memory_has_no_worker_source_and_no_dead_letters():
    backend = Backend("memory://")
    with pytest.raises(ConfigurationError, match=r"testing\.drain"):
        backend.source()
    with pytest.raises(ConfigurationError, match="no dead letters"):
        backend.dead_letters()
