"""The backends' edge: every error of boto3/botocore or ``sqlite3`` leaves a backend as one
of the library's own (``raise … from error``), as httpx maps its transport errors.

What a caller can act on decides the class: a setting to fix (``ConfigurationError``:
no boto3, no region, no credentials, a SQLite file that cannot be opened), a call worth
retrying later
(``BackendUnavailableError``: throttling, timeouts, a busy SQLite file) or another
failure of the backend (``BackendError``). The original error stays on ``__cause__``
and its code on ``.code``.
"""

from __future__ import annotations

import functools
import importlib.util
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ..errors import (
    BackendError,
    BackendUnavailableError,
    ConfigurationError,
    SimpleAsyncTasksError,
)

C = TypeVar("C", bound=type)

AWS_EXTRA_HINT = 'pip install "simple-async-tasks[aws]"'
AWS_ASYNC_EXTRA_HINT = 'pip install "simple-async-tasks[aws-async]"'

_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "RequestThrottled",
        "ServiceUnavailable",
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "TransactionInProgressException",
        "LimitExceededException",
        "KMS.ThrottlingException",
    }
)
_MISSING_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
    }
)
_DENIED_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredTokenException",
        "ExpiredToken",
    }
)


def require_boto3(what: str) -> None:
    """Raise ``ConfigurationError`` with the install command when boto3 is missing, at
    construction rather than at the first call (looked up without importing it)."""
    try:
        missing = importlib.util.find_spec("boto3") is None
    except (ImportError, ValueError):  # blocked, or a stub without a spec
        missing = True
    if missing:
        raise ConfigurationError(f"{what} needs boto3, which is not installed: {AWS_EXTRA_HINT}")


def has_aiobotocore() -> bool:
    """Whether aiobotocore can be imported (looked up without importing it)."""
    try:
        return importlib.util.find_spec("aiobotocore") is not None
    except (ImportError, ValueError):
        return False


def require_aiobotocore(what: str) -> None:
    """Raise ``ConfigurationError`` with the install command when aiobotocore is missing."""
    if not has_aiobotocore():
        raise ConfigurationError(
            f"{what} needs aiobotocore, which is not installed: {AWS_ASYNC_EXTRA_HINT}"
        )


def aws_code(error: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` ('' for other errors)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_aws_error(error: BaseException) -> bool:
    """An error raised by botocore or boto3 (told apart without importing them)."""
    return type(error).__module__.split(".")[0] in ("botocore", "boto3", "aiobotocore")


def aws_error(error: BaseException, *, service: str, resource: str) -> SimpleAsyncTasksError:
    """The library's error for a botocore/boto3 error of a call on ``resource``."""
    code = aws_code(error)
    kind = type(error).__name__
    where = f"{service} {resource!r}"
    if code in _MISSING_CODES:
        found: SimpleAsyncTasksError = BackendError(
            f"{where} does not exist (or is in another region or account): create it "
            "(deploy/template.yaml, or simple_async_tasks.aws.create_table for a table), "
            "or check the name and the region",
            code=code,
        )
    elif code in _DENIED_CODES:
        found = BackendError(
            f"access to {where} was denied ({code}): grant the actions listed in "
            "docs/deploy.md to the role or the credentials in use",
            code=code,
        )
    elif code in _RETRYABLE_CODES or _cancelled_by_contention(error):
        found = BackendUnavailableError(
            f"{where} is busy ({code}) after botocore's own retries: retry later, or raise "
            "the table's capacity or the account's limits",
            code=code,
        )
    elif kind == "NoRegionError":
        found = ConfigurationError(
            f"no AWS region for {where}: add ?region=eu-west-1 to its URL, or set "
            "AWS_REGION (or AWS_DEFAULT_REGION)"
        )
    elif kind in ("NoCredentialsError", "PartialCredentialsError"):
        found = ConfigurationError(
            f"no AWS credentials for {where}: set AWS_PROFILE or the AWS_ACCESS_KEY_ID pair, "
            "or run where a role provides them"
        )
    elif kind in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError") or (
        kind.endswith(("ConnectionError", "TimeoutError"))
    ):
        found = BackendUnavailableError(
            f"cannot reach {where} ({kind}: {error}): retry later, or check the endpoint "
            "and the network",
            code=kind,
        )
    else:
        found = BackendError(f"{where} failed: {kind}: {error}", code=code or kind)
    return found


def _cancelled_by_contention(error: BaseException) -> bool:
    """A cancelled DynamoDB transaction whose reasons are throttling or a conflict with
    another transaction (not a failed condition): worth retrying."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return False
    reasons = {str(r.get("Code")) for r in response.get("CancellationReasons", [])}
    return bool(
        reasons & {"ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded"}
    )


@contextmanager
def aws_edge(service: str, resource: str, *, keep: frozenset[str] = frozenset()) -> Iterator[None]:
    """Translate AWS errors raised in the block (``keep``: codes the caller handles)."""
    try:
        yield
    except Exception as error:
        if not is_aws_error(error) or aws_code(error) in keep:
            raise
        raise aws_error(error, service=service, resource=resource) from error


def sqlite_error(error: sqlite3.Error, *, path: str) -> SimpleAsyncTasksError:
    """The library's error for a ``sqlite3`` error on the file ``path``."""
    text = str(error)
    code = getattr(error, "sqlite_errorname", None) or type(error).__name__
    if "unable to open database file" in text:
        return ConfigurationError(
            f"cannot open the SQLite file {path}: check that its directory exists and is "
            "writable (the file itself is created on first use)"
        )
    if "database is locked" in text or "database is busy" in text:
        return BackendUnavailableError(
            f"the SQLite file {path} stayed locked by another process past the timeout: "
            "retry later, or give the writers fewer long transactions",
            code=code,
        )
    if "not a database" in text or "malformed" in text:
        return BackendError(
            f"{path} is not a readable SQLite database ({text}): point the backend URL at "
            "the right file, or restore it from a backup",
            code=code,
        )
    return BackendError(f"SQLite on {path} failed: {type(error).__name__}: {text}", code=code)


SQLITE_DAO_READS = (
    "count_by_status",
    "deleted_at",
    "find_by_status",
    "get",
    "get_many",
    "mutex_holder",
    "mutex_locks",
)
SQLITE_QUEUE_READS = ("__len__", "dead_letters", "depth")
"""The SQLite methods that read outside a write transaction: every write goes through
``SqliteDatabase.write()``, which translates its errors itself (no wrapper on the
claim, finish, receive and delete of every task)."""


def sqlite_edge(methods: tuple[str, ...]) -> Callable[[C], C]:
    """A class decorator: ``methods`` of the class (its own or inherited) translate
    ``sqlite3`` errors, naming the file (the instance's ``db.path``)."""

    def decorate(cls: C) -> C:
        for name in methods:
            setattr(cls, name, _translating(getattr(cls, name)))
        return cls

    return decorate


def _translating(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as error:
            raise sqlite_error(error, path=str(self.db.path)) from error

    return call
