"""A local AWS endpoint for tests: moto's server on 127.0.0.1, over real HTTP.

Needs ``moto[server]`` (the project's ``test`` dependency group)::

    with local_aws_endpoint() as endpoint:
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                                aws_access_key_id="testing", aws_secret_access_key="testing")
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["free_port", "local_aws_endpoint", "local_client", "start_local_aws"]

REGION = "us-east-1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_local_aws(port: int | None = None) -> tuple[str, Any]:
    """Start moto's ThreadedMotoServer on 127.0.0.1; return its URL and the server.

    DynamoDB requests are served one at a time: moto applies a conditional
    write or a transaction as check-then-write without a lock, so two
    concurrent requests could both pass the check, which DynamoDB itself never
    allows (each conditional write and transaction is atomic there). SQS
    requests stay concurrent. Call ``server.stop()`` when done.
    """
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class AtomicDynamoDbMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            dynamodb_lock = threading.Lock()

            def serve(environ: dict[str, Any], start_response: Any) -> Any:
                if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
                    with dynamodb_lock:
                        return list(app(environ, start_response))
                return app(environ, start_response)

            self._server = make_server(
                self._ip_address, self._port, serve, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    port = port or free_port()
    server = AtomicDynamoDbMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return f"http://127.0.0.1:{port}", server


@contextmanager
def local_aws_endpoint() -> Iterator[str]:
    """Run a local AWS endpoint for the duration of the ``with`` block; yield its URL."""
    url, server = start_local_aws()
    try:
        yield url
    finally:
        server.stop()


def local_client(service: str, endpoint: str, *, max_pool_connections: int = 50) -> Any:
    """A boto3 client for ``service`` ("dynamodb", "sqs") at the local endpoint, with dummy keys
    and botocore's standard retries (3 attempts)."""
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
