"""Local AWS engines for tests, over real HTTP on 127.0.0.1.

* DynamoDB: **DynamoDB Local**, the engine AWS ships (see
  :mod:`simple_async_tasks.testing.dynamodb_local`; needs Java).
* SQS: **moto**'s server (``moto[server]``, the project's ``test`` group).

::

    with local_aws() as aws:
        dynamodb = aws.client("dynamodb")
        sqs = aws.client("sqs")
        os.environ.update(aws.environ())  # boto3 clients made elsewhere go there too
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from ._ports import free_port
from .dynamodb_local import start_dynamodb_local

__all__ = ["LocalAws", "local_aws", "local_client", "start_moto"]

REGION = "us-east-1"


def start_moto(port: int | None = None) -> tuple[str, Any]:
    """Start moto's ThreadedMotoServer on 127.0.0.1; return its URL and the server.

    Used for SQS. (Its DynamoDB is lenient where AWS is strict, and applies a
    conditional write as check-then-write without a lock: the DynamoDB tests
    run on DynamoDB Local.) Call ``server.stop()`` when done.
    """
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    port = port or free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return f"http://127.0.0.1:{port}", server


@attrs.frozen
class LocalAws:
    """Where the local engines listen: DynamoDB Local and moto's SQS."""

    dynamodb: str
    sqs: str

    def endpoint(self, service: str) -> str:
        """The URL serving ``service`` ("dynamodb" or "sqs")."""
        if service == "dynamodb":
            return self.dynamodb
        if service == "sqs":
            return self.sqs
        raise ValueError(f"no local engine for {service!r}: use 'dynamodb' or 'sqs'")

    def client(self, service: str, *, max_pool_connections: int = 50) -> Any:
        """A boto3 client for ``service`` at its local engine, with dummy keys."""
        return local_client(
            service, self.endpoint(service), max_pool_connections=max_pool_connections
        )

    def environ(self) -> dict[str, str]:
        """Environment variables that point every boto3 client at these engines."""
        return {
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb,
            "AWS_ENDPOINT_URL_SQS": self.sqs,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }


@contextmanager
def local_aws() -> Iterator[LocalAws]:
    """Run DynamoDB Local and moto's SQS for the duration of the ``with`` block."""
    dynamodb = start_dynamodb_local()
    try:
        sqs_url, server = start_moto()
        try:
            yield LocalAws(dynamodb=dynamodb.url, sqs=sqs_url)
        finally:
            server.stop()
    finally:
        dynamodb.stop()


def local_client(service: str, endpoint: str, *, max_pool_connections: int = 50) -> Any:
    """A boto3 client for ``service`` ("dynamodb", "sqs") at a local endpoint, with dummy
    keys and botocore's standard retries (3 attempts)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=max_pool_connections,
        ),
    )
