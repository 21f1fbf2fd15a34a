"""Backend URLs: where the task records and the queue live, as one string.

* ``memory://``: in this process only (tests, demos).
* ``sqlite:///tasks.db`` (relative path) or ``sqlite:////var/lib/app/tasks.db``
  (absolute): records and queue in one SQLite file. Query options:
  ``queue`` (the queue's name in the file, default ``default``),
  ``visibility_timeout`` (seconds, default 300), ``max_receives`` (default 5).
* ``dynamodb://TABLE?region=eu-west-1``: records in a DynamoDB table.
* ``sqs://QUEUE_NAME?region=eu-west-1``, or the queue URL itself
  (``https://sqs.eu-west-1.amazonaws.com/123456789012/tasks``): the SQS queue.

Every AWS URL takes ``endpoint=http://127.0.0.1:4566`` for a local endpoint;
without it boto3 reads ``AWS_ENDPOINT_URL`` and the region from its usual
configuration. Parsing touches nothing: no file is created, no call is made.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import attrs

from ..errors import ConfigurationError

DEFAULT_URL = "sqlite:///tasks.db"
"""The embedded default: a SQLite file in the working directory."""

_FORMS = (
    "memory://, sqlite:///tasks.db, dynamodb://TABLE?region=..., "
    "sqs://QUEUE?region=... or an SQS queue URL"
)


DEFAULT_QUEUE = "default"
"""The queue a task type goes to unless ``@app.task(..., queue=...)`` names another."""


def check_queue_name(name: str) -> str:
    """``name`` if it can name a queue: 1 to 80 letters, digits, ``-`` and ``_`` (what an
    SQS queue name allows).

    Raises:
        ConfigurationError: it cannot.
    """
    if not (0 < len(name) <= 80 and all(c.isascii() and (c.isalnum() or c in "-_") for c in name)):
        raise ConfigurationError(
            f"a queue name is 1 to 80 letters, digits, '-' or '_', got {name!r}"
        )
    return name


@attrs.frozen
class MemoryUrl:
    """Records and queue in this process's memory."""


@attrs.frozen
class SqliteUrl:
    """Records and queue in one SQLite file."""

    path: Path
    queue_name: str = "default"
    visibility_timeout: float = 300.0
    max_receives: int = 5


@attrs.frozen
class DynamoUrl:
    """Records in one DynamoDB table."""

    table: str
    region: str | None = None
    endpoint: str | None = None


@attrs.frozen
class SqsUrl:
    """One SQS queue, by URL or by name (resolved with ``GetQueueUrl`` when first needed)."""

    queue_url: str | None = None
    name: str | None = None
    region: str | None = None
    endpoint: str | None = None


BackendUrl = MemoryUrl | SqliteUrl | DynamoUrl | SqsUrl

_OPTIONS: dict[str, frozenset[str]] = {
    "memory": frozenset(),
    "sqlite": frozenset({"queue", "visibility_timeout", "max_receives"}),
    "dynamodb": frozenset({"region", "endpoint"}),
    "sqs": frozenset({"region", "endpoint"}),
    "http": frozenset(),
    "https": frozenset(),
}
_SQS_HOST = re.compile(r"^sqs[.-]([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


def _options(url: str, scheme: str, query: str) -> dict[str, str]:
    pairs = parse_qs(query, keep_blank_values=False, strict_parsing=False)
    unknown = sorted(set(pairs) - _OPTIONS[scheme])
    if unknown:
        allowed = ", ".join(sorted(_OPTIONS[scheme])) or "none"
        raise ConfigurationError(
            f"backend URL {url!r} has unknown option(s) {unknown}; {scheme} URLs take: {allowed}"
        )
    return {key: values[-1] for key, values in pairs.items()}


def _number(url: str, name: str, text: str, *, minimum: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ConfigurationError(
            f"backend URL {url!r}: {name} must be a number of at least {minimum:g}, got {text!r}"
        )
    return value


def _sqlite(url: str, rest: str, options: dict[str, str]) -> SqliteUrl:
    if not rest.startswith("/") or rest == "/":
        raise ConfigurationError(
            f"backend URL {url!r} names no file: write sqlite:///tasks.db for a file in the "
            "working directory or sqlite:////absolute/path.db"
        )
    path = Path(rest[1:])
    queue_name = options.get("queue", "default")
    visibility_text = options.get("visibility_timeout", "300")
    visibility = _number(url, "visibility_timeout", visibility_text, minimum=0)
    receives = _number(url, "max_receives", options.get("max_receives", "5"), minimum=1)
    if receives != int(receives):
        raise ConfigurationError(f"backend URL {url!r}: max_receives must be a whole number")
    return SqliteUrl(path, queue_name, visibility, int(receives))


def parse_backend_url(url: str) -> BackendUrl:
    """Read a backend URL (see the module docs for the forms).

    Raises:
        ConfigurationError: the URL has an unknown scheme, no table, queue or file,
            or an unknown or invalid option; the message shows the accepted forms.
    """
    split = urlsplit(url.strip())
    scheme = split.scheme.lower()
    if scheme not in _OPTIONS:
        raise ConfigurationError(f"cannot read backend URL {url!r}: use {_FORMS}")
    options = _options(url, scheme, split.query)
    if scheme == "memory":
        return MemoryUrl()
    if scheme == "sqlite":
        # sqlite:///relative.db -> netloc "", path "/relative.db"; the query is not part of it.
        if split.netloc:
            raise ConfigurationError(
                f"backend URL {url!r} has a host; SQLite URLs have three slashes: "
                f"sqlite:///{split.netloc}{split.path}"
            )
        return _sqlite(url, split.path, options)
    if scheme == "dynamodb":
        table = split.netloc or split.path.strip("/")
        if not table:
            raise ConfigurationError(
                f"backend URL {url!r} names no table: write dynamodb://TABLE?region=..."
            )
        return DynamoUrl(table, options.get("region"), options.get("endpoint"))
    if scheme == "sqs":
        name = split.netloc or split.path.strip("/")
        if not name:
            raise ConfigurationError(
                f"queue URL {url!r} names no queue: write sqs://QUEUE_NAME?region=... "
                "or give the queue's https URL"
            )
        return SqsUrl(name=name, region=options.get("region"), endpoint=options.get("endpoint"))
    # An SQS queue URL: https://sqs.REGION.amazonaws.com/ACCOUNT/NAME, or a local endpoint's.
    parts = [p for p in split.path.split("/") if p]
    if len(parts) != 2:
        raise ConfigurationError(
            f"{url!r} is not an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"
        )
    host = split.hostname or ""
    aws = _SQS_HOST.match(host)
    if aws is not None:
        return SqsUrl(queue_url=url, region=aws.group(1))
    return SqsUrl(queue_url=url, endpoint=f"{split.scheme}://{split.netloc}")
