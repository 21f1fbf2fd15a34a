"""boto3 clients, created lazily and once per process (reused across Lambda invocations)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

from ._edges import aws_edge, require_boto3

_NAMES = {"dynamodb": "DynamoDB", "sqs": "SQS"}

_clients: dict[tuple[str, str | None, str | None], Any] = {}
_lock = threading.Lock()

DEFAULT_MAX_ATTEMPTS = 8
"""botocore retry attempts (standard mode: exponential backoff with jitter on throttling)."""


def _client(service: str, region: str | None, endpoint_url: str | None) -> Any:
    key = (service, region, endpoint_url)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                require_boto3(f"the {service} backend")
                import boto3
                from botocore.config import Config

                config = Config(
                    retries={"max_attempts": DEFAULT_MAX_ATTEMPTS, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=20,
                    max_pool_connections=32,
                )
                with aws_edge(_NAMES[service], "client"):  # no region: a clear error
                    client = boto3.session.Session().client(
                        service,  # type: ignore[call-overload]
                        region_name=region,
                        endpoint_url=endpoint_url,
                        config=config,
                    )
                _clients[key] = client
    return client


def dynamodb_client(region: str | None = None, endpoint_url: str | None = None) -> DynamoDBClient:
    """The process-wide DynamoDB client for this region and endpoint."""
    client: DynamoDBClient = _client("dynamodb", region, endpoint_url)
    return client


def sqs_client(region: str | None = None, endpoint_url: str | None = None) -> SQSClient:
    """The process-wide SQS client for this region and endpoint."""
    client: SQSClient = _client("sqs", region, endpoint_url)
    return client


def reset_clients() -> None:
    """Forget the cached clients (tests that change endpoints or credentials)."""
    with _lock:
        _clients.clear()


class ClientPlace:
    """Where a backend's AWS client points, for its async twin to open its own there."""

    _region: str | None
    _endpoint_url: str | None

    def _given(self, attribute: str) -> str | None:
        client = getattr(self, "_client", None)  # the backend's own, typed there
        value = getattr(client.meta, attribute, None) if client is not None else None
        return None if value is None else str(value)

    @property
    def region(self) -> str | None:
        """The region asked for, else the given client's (None: the environment's)."""
        return self._region if self._region is not None else self._given("region_name")

    @property
    def endpoint_url(self) -> str | None:
        """The endpoint asked for, else the given client's (None: AWS's own)."""
        if self._endpoint_url is not None:
            return self._endpoint_url
        return self._given("endpoint_url")
