from __future__ import annotations

from ..aws.conftest import aws_endpoint, dynamodb, queue_url, sqs, table  # noqa: F401  (fixtures)
