"""A backend opened from URLs: the DAOs, the queue, the worker's message source and the dead
letters, built on first use and kept.

The store URL says where records live (``memory://``, ``sqlite:///tasks.db``,
``dynamodb://TABLE``), the queue URL where messages travel (``memory://``,
``sqlite:///tasks.db``, ``sqs://NAME`` or a queue URL); for the embedded
backends the queue defaults to the store's file. boto3 is imported only when
an AWS part is first used.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import cattrs

from ..backends._edges import aws_edge
from ..backends.documents import InMemoryDocumentStore, SqliteDocumentStore
from ..backends.memory import InMemoryTaskDao, InMemoryTaskQueue
from ..backends.sqlite import SqliteTaskDao
from ..backends.sqlite_queue import SqliteDeadLetters, SqliteSource, SqliteTaskQueue
from ..clock import Clock, system_clock
from ..contracts import DocumentStore, TaskDao, TaskQueue
from ..errors import ConfigurationError
from ..serialization import default_converter
from ..task import AsyncTask
from .urls import (
    DEFAULT_QUEUE,
    DynamoUrl,
    MemoryUrl,
    SqliteUrl,
    SqsUrl,
    check_queue_name,
    parse_backend_url,
)

if TYPE_CHECKING:
    from ..contracts import DeadLetterBox, MessageSource

T = TypeVar("T", bound=AsyncTask)


class Backend:
    """Where one app's tasks live, opened lazily from a store URL and a queue URL.

    Raises (on first use of the part concerned):
        ConfigurationError: a URL that cannot serve that part, or no queue URL for a
            DynamoDB store.
    """

    def __init__(
        self,
        store: str,
        queue: str | None = None,
        *,
        clock: Clock = system_clock,
        converter: cattrs.Converter = default_converter,
        queues: Mapping[str, str] | None = None,
    ) -> None:
        self.store_url = store
        self.store = parse_backend_url(store)
        if isinstance(self.store, SqsUrl):
            raise ConfigurationError(
                f"{store!r} is a queue, not a store for task records: use sqlite:///tasks.db "
                "or dynamodb://TABLE, and give the queue separately"
            )
        self.queue_url = queue
        self.queue_location = parse_backend_url(queue) if queue is not None else None
        if isinstance(self.queue_location, DynamoUrl):
            raise ConfigurationError(
                f"{queue!r} is a DynamoDB table, not a queue: use sqs://NAME, an SQS queue URL "
                "or sqlite:///tasks.db"
            )
        self.queue_urls = dict(queues or {})
        """The URL of each named queue given (``TaskApp(queues=...)``); the others are
        derived from the default queue (see ``named_queue``)."""
        for name, url in self.queue_urls.items():
            check_queue_name(name)
            if isinstance(parse_backend_url(url), DynamoUrl):
                raise ConfigurationError(
                    f"queue {name!r}: {url!r} is a DynamoDB table, not a queue"
                )
        self._named: dict[str, TaskQueue[AsyncTask]] = {}
        self.clock = clock
        self.converter = converter
        self._daos: dict[type[AsyncTask], TaskDao[Any]] = {}
        self._documents: DocumentStore | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Backend(store={self.store_url!r}, queue={self.queue_url!r})"

    def require_existing(self) -> None:
        """Refuse a SQLite store whose file does not exist yet, instead of creating an empty
        one: what commands that inspect or change stored tasks call first, so a typo in a
        path is an error rather than a listing of nothing.

        Raises:
            ConfigurationError: the file (or its directory) does not exist; names the path.
        """
        for location in (self.store, self.queue_location):
            if isinstance(location, SqliteUrl) and not location.path.exists():
                where = location.path.resolve()
                folder = (
                    "" if where.parent.is_dir() else f" (nor does its directory {where.parent})"
                )
                raise ConfigurationError(
                    f"there is no SQLite store at {where}{folder}: check the path in "
                    "--backend or the app's URL; a worker creates the file on first start"
                )

    @property
    def is_memory(self) -> bool:
        """Records in this process's memory: nothing another process can see."""
        return isinstance(self.store, MemoryUrl)

    def dao(self, task_class: type[T], *, retention: timedelta | None = None) -> TaskDao[T]:
        """The DAO for ``task_class`` (one per class, created on first call)."""
        with self._lock:
            found = self._daos.get(task_class)
            if found is None:
                found = self._new_dao(task_class, retention)
                self._daos[task_class] = found
            dao: TaskDao[T] = found
            return dao

    def _new_dao(self, task_class: type[T], retention: timedelta | None) -> TaskDao[T]:
        store = self.store
        if isinstance(store, MemoryUrl):
            return InMemoryTaskDao(task_class, clock=self.clock, converter=self.converter)
        if isinstance(store, SqliteUrl):
            return SqliteTaskDao(
                task_class, store.path, clock=self.clock, converter=self.converter
            )
        assert isinstance(store, DynamoUrl)
        from ..backends.dynamodb import DynamoTaskDao

        return DynamoTaskDao(
            task_class,
            table_name=store.table,
            region=store.region,
            endpoint_url=store.endpoint,
            clock=self.clock,
            converter=self.converter,
            retention=retention,
        )

    def documents(self) -> DocumentStore:
        """The named documents kept beside the tasks (worker heartbeats, stored schedules):
        a dict, the SQLite file's ``documents`` table, or the DynamoDB table."""
        with self._lock:
            if self._documents is None:
                self._documents = self._new_documents()
            return self._documents

    def _new_documents(self) -> DocumentStore:
        store = self.store
        if isinstance(store, MemoryUrl):
            return InMemoryDocumentStore(clock=self.clock)
        if isinstance(store, SqliteUrl):
            return SqliteDocumentStore(store.path, clock=self.clock)
        assert isinstance(store, DynamoUrl)
        from ..backends.dynamodb_documents import DynamoDocumentStore

        return DynamoDocumentStore(
            table_name=store.table,
            region=store.region,
            endpoint_url=store.endpoint,
            clock=self.clock,
        )

    def _queue_location(self) -> MemoryUrl | SqliteUrl | SqsUrl:
        location = self.queue_location
        if location is None:
            if isinstance(self.store, DynamoUrl):
                raise ConfigurationError(
                    f"store {self.store_url!r} needs a queue: give an SQS queue as "
                    "sqs://NAME?region=... or its URL (--queue, or SIMPLE_ASYNC_TASKS_QUEUE)"
                )
            location = self.store
        assert not isinstance(location, DynamoUrl)
        return location

    @property
    def queue(self) -> TaskQueue[AsyncTask]:
        """The default queue (created on first use; an ``sqs://NAME`` is looked up then)."""
        return self.named_queue(DEFAULT_QUEUE)

    def named_queue(self, name: str) -> TaskQueue[AsyncTask]:
        """The queue ``name``: its URL from ``queues`` when given; else, on SQLite, a queue
        of that name in the default queue's file, and in memory a queue of its own. An SQS
        queue must be named in ``queues`` (``default`` is the backend's queue URL)."""
        with self._lock:
            found = self._named.get(name)
            if found is None:
                found = self._named[name] = self._new_queue(self._location_of(name))
            return found

    def _location_of(self, name: str) -> MemoryUrl | SqliteUrl | SqsUrl:
        url = self.queue_urls.get(name)
        if url is not None:
            location = parse_backend_url(url)
            assert not isinstance(location, DynamoUrl)
            return location
        default = self._queue_location()
        if name == DEFAULT_QUEUE or isinstance(default, MemoryUrl):
            return default
        if isinstance(default, SqliteUrl):
            return attrs.evolve(default, queue_name=name)
        raise ConfigurationError(
            f"no URL for queue {name!r}: name its SQS queue in TaskApp(queues={{{name!r}: "
            "'sqs://NAME?region=...'}) (one SQS queue per name)"
        )

    def _new_queue(self, location: MemoryUrl | SqliteUrl | SqsUrl) -> TaskQueue[AsyncTask]:
        if isinstance(location, MemoryUrl):
            return InMemoryTaskQueue(clock=self.clock, converter=self.converter)
        if isinstance(location, SqliteUrl):
            return SqliteTaskQueue(
                location.path,
                name=location.queue_name,
                clock=self.clock,
                converter=self.converter,
                visibility_timeout=timedelta(seconds=location.visibility_timeout),
                max_receives=location.max_receives,
            )
        from ..backends.sqs import SqsTaskQueue

        return SqsTaskQueue(  # its client is made on first use (boto3 loads then)
            self._sqs_queue_url(location),
            region=location.region,
            endpoint_url=location.endpoint,
            converter=self.converter,
        )

    def _sqs_client(self, location: SqsUrl) -> Any:
        from ..backends._aws_clients import sqs_client

        return sqs_client(location.region, location.endpoint)

    def _sqs_queue_url(self, location: SqsUrl) -> str:
        if location.queue_url is not None:
            return location.queue_url
        assert location.name is not None
        client = self._sqs_client(location)
        with aws_edge("SQS queue", location.name):
            try:
                url: str = client.get_queue_url(QueueName=location.name)["QueueUrl"]
            except client.exceptions.QueueDoesNotExist:
                raise ConfigurationError(
                    f"there is no SQS queue named {location.name!r} in this account and "
                    "region: check the name and the region (?region=... or AWS_REGION)"
                ) from None
        return url

    def _durable_queue(
        self, refusal: str, name: str = DEFAULT_QUEUE
    ) -> SqliteTaskQueue | tuple[str, Any]:
        """The SQLite queue, or the SQS queue's URL and client; ``refusal`` for memory://."""
        location = self._location_of(name)
        if isinstance(location, MemoryUrl):
            raise ConfigurationError(refusal)
        queue = self.named_queue(name)
        if isinstance(location, SqliteUrl):
            assert isinstance(queue, SqliteTaskQueue)
            return queue
        return queue.queue_url, self._sqs_client(location)

    def source(self, name: str = DEFAULT_QUEUE) -> MessageSource:
        """Where a worker takes the messages of queue ``name`` from: the SQLite queue, or
        SQS with long polling."""
        from ..backends.sqs import SqsSource

        found = self._durable_queue(
            "a memory:// queue lives in one process, so a worker cannot poll it: use "
            "simple_async_tasks.testing.drain in that process, or sqlite:///tasks.db",
            name,
        )
        return SqliteSource(found) if isinstance(found, SqliteTaskQueue) else SqsSource(*found)

    def dead_letters(self, name: str = DEFAULT_QUEUE) -> DeadLetterBox:
        """Queue ``name``'s dead letters: the SQLite dead-letter table, or the SQS DLQ."""
        from ..backends.sqs import SqsDeadLetters

        found = self._durable_queue(
            "a memory:// queue has no dead letters: testing.drain reports failed deliveries",
            name,
        )
        if isinstance(found, SqliteTaskQueue):
            return SqliteDeadLetters(found)
        return SqsDeadLetters(*found)
