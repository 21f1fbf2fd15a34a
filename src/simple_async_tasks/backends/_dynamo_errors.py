"""Reading botocore errors without importing botocore: codes, and the ones retrying cannot fix."""

from __future__ import annotations

from ..errors import BackendError


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for other errors)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def raise_permanent(error: Exception, *, table: str) -> None:
    """Turn errors that retrying cannot fix into a BackendError that says what to do."""
    code = error_code(error)
    if code == "ResourceNotFoundException":
        raise BackendError(
            f"DynamoDB table {table!r} does not exist (or is in another region/account): "
            "create it with simple_async_tasks.aws.create_table or deploy/template.yaml"
        ) from error
    if code in ("AccessDeniedException", "UnrecognizedClientException"):
        raise BackendError(
            f"access to DynamoDB table {table!r} was denied ({code}): grant the function "
            "the actions listed in docs/deploy.md on this table and its index"
        ) from error
