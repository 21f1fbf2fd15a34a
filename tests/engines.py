"""The local AWS engines, one of each per test session, shared by every test folder:
DynamoDB Local for DynamoDB (AWS's own engine, a Java program) and moto's server for
SQS, both over real HTTP on 127.0.0.1. Registered in tests/conftest.py."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest

from simple_async_tasks.testing.local_aws import LocalAws, local_aws

_names = itertools.count()


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[LocalAws]:
    """Start DynamoDB Local and moto's SQS once per test session; yield their URLs."""
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(_ENV)
    os.environ.pop("AWS_PROFILE", None)
    with local_aws() as aws:
        yield aws
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def dynamodb(aws_endpoint: LocalAws) -> Any:
    return aws_endpoint.client("dynamodb")


@pytest.fixture(scope="session")
def sqs(aws_endpoint: LocalAws) -> Any:
    return aws_endpoint.client("sqs")


@pytest.fixture
def table(dynamodb: Any) -> str:
    """A new, empty task table for one test."""
    from simple_async_tasks.aws import create_table

    name = f"tasks-{next(_names)}"
    create_table(name, client=dynamodb)
    return name


@pytest.fixture
def queue_url(sqs: Any) -> str:
    """A new standard queue for one test (visibility timeout 30 s)."""
    name = f"q-{next(_names)}"
    return str(sqs.create_queue(QueueName=name)["QueueUrl"])


@pytest.fixture
def fifo_queue_url(sqs: Any) -> str:
    name = f"q-{next(_names)}.fifo"
    return str(sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"])
