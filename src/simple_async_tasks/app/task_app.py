"""``TaskApp``: task classes and their logic, bound to a backend chosen by URL.

The lifecycle functions (``with_queue_lifecycle``, ``with_execute_lifecycle``)
take a DAO and a queue you build yourself. A ``TaskApp`` builds them for you
from a backend URL, on first use, so the same module runs on the embedded
SQLite file on a laptop, on DynamoDB and SQS in production, and in memory in
tests; and so the command line can find everything from one name
(``simple-async-tasks worker --app examples.quickstart:app``)::

    app = TaskApp()  # SIMPLE_ASYNC_TASKS_BACKEND, else sqlite:///tasks.db

    @app.task(SendWelcomeEmail, retry=RetryPolicy(max_attempts=3))
    def send_welcome_email(task: SendWelcomeEmail) -> None: ...

    send_welcome_email.enqueue(user_id="u1", email="ada@example.com")
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

import attrs
import cattrs

from ..backends.memory import InMemoryTaskDao, InMemoryTaskQueue
from ..clock import Clock, system_clock
from ..contracts import MessageSource, TaskDao, TaskQueue
from ..definition import task_spec
from ..errors import ConfigurationError, TaskDefinitionError
from ..lifecycle.enqueue import with_queue_lifecycle
from ..lifecycle.execute import TaskExecutor, with_execute_lifecycle
from ..lifecycle.hooks import TaskHooks
from ..lifecycle.options import ExecuteOptions
from ..lifecycle.recurring import RecurringSchedule, recurring_schedule
from ..lifecycle.retry import RetryPolicy
from ..lifecycle.scheduler import Scheduler
from ..serialization import default_converter
from ..task import AsyncTask
from .backend import Backend
from .settings import TaskSettings, dotted
from .task_function import TaskFunction
from .urls import DEFAULT_QUEUE, DEFAULT_URL, check_queue_name

if TYPE_CHECKING:
    from ..lifecycle.schedule_book import ScheduleBook
    from ..lifecycle.workers import WorkerRegistry
    from ..worker import Worker, WorkerSummary

T = TypeVar("T", bound=AsyncTask)
R = TypeVar("R")
P = ParamSpec("P")
K = TypeVar("K")
V = TypeVar("V")

BACKEND_ENV = "SIMPLE_ASYNC_TASKS_BACKEND"
"""The environment variable a ``TaskApp`` without an explicit backend reads its store URL from."""
QUEUE_ENV = "SIMPLE_ASYNC_TASKS_QUEUE"
"""The environment variable for the queue URL (needed with a DynamoDB store)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@attrs.frozen
class _Registration:
    task_class: type[AsyncTask]
    logic: Callable[[Any], object]
    options: ExecuteOptions
    retention: timedelta | None
    queue: str = DEFAULT_QUEUE


@attrs.frozen
class _Recurring:
    task_class: type[AsyncTask]
    name: str
    get_new: Callable[[datetime], Any]
    cron: str | None
    every: timedelta | None
    start_at: datetime
    catch_up: int
    max_lateness: timedelta | None


def _same(task: T) -> T:
    return task


class TaskApp:
    """Task classes, their logic and recurring schedules, bound to one backend.

    ``backend`` is a store URL (``sqlite:///tasks.db``, ``dynamodb://TABLE``,
    ``memory://``); ``queue`` the queue URL where it differs (``sqs://NAME`` or
    an SQS queue URL, required with DynamoDB). Left out, they are read from
    ``SIMPLE_ASYNC_TASKS_BACKEND`` and ``SIMPLE_ASYNC_TASKS_QUEUE`` when first
    needed, and the store defaults to ``sqlite:///tasks.db``. Nothing is
    opened until a task is enqueued, inspected or executed. ``hooks`` (``TaskHooks``)
    see every enqueue, claim, finish, retry and skip: logging, metrics, tracing.
    """

    def __init__(
        self,
        backend: str | None = None,
        *,
        queue: str | None = None,
        clock: Clock = system_clock,
        converter: cattrs.Converter = default_converter,
        hooks: Sequence[TaskHooks] = (),
        queues: Mapping[str, str] | None = None,
    ) -> None:
        self.queues = dict(queues or {})
        """The URL of each named queue (``@app.task(..., queue="high")``); on SQLite and in
        memory a name without a URL gets a queue of its own in the same store."""
        self.hooks: tuple[TaskHooks, ...] = tuple(hooks)
        """Called at every enqueue, claim, finish, retry and skip of this app's tasks."""
        self._backend_url = backend
        self._queue_url = queue
        self.clock = clock
        self.converter = converter
        self._tasks: dict[str, _Registration] = {}
        self._recurring: list[_Recurring] = []
        self._lock = threading.RLock()
        self._backend: Backend | None = None
        self._executors: dict[str, TaskExecutor[Any, object]] = {}
        self._enqueue: dict[type[AsyncTask], Callable[[Any], Any]] = {}
        self._aenqueue: dict[type[AsyncTask], Any] = {}

    # -- declaring ---------------------------------------------------------------------------

    def task(
        self,
        task_class: Callable[P, T],
        *,
        retry: RetryPolicy | None = None,
        options: ExecuteOptions | None = None,
        retention: timedelta | None = None,
        keep_result: bool | None = None,
        queue: str = DEFAULT_QUEUE,
    ) -> Callable[[Callable[[T], R]], TaskFunction[P, T, R]]:
        """Decorate the business logic of ``task_class``: returns a ``TaskFunction``,
        which runs the logic when called and enqueues tasks from the class's fields
        (``.enqueue(...)``, ``.enqueue_in(delay, ...)``, ``.enqueue_at(due, ...)``).

        ``options`` are the task type's ``ExecuteOptions`` (lease, retry, time limit, ...),
        used by its executor and by the scheduler's sweeps; ``retry`` and ``keep_result``
        are shortcuts that replace ``options.retry`` and ``options.keep_result``.
        ``retention`` is how long a DynamoDB store keeps finished tasks (other stores
        keep them). ``queue`` names the queue its tasks travel on (``default``): a worker
        takes several queues in priority order or by weight (``worker(queues=...)``).

        Raises:
            TaskDefinitionError: ``task_class`` is not a valid task class, its task type
                is registered already, or ``logic`` is an async function.
        """
        spec = task_spec(cast("type[T]", task_class))
        check_queue_name(queue)
        chosen = options or ExecuteOptions()
        if retry is not None:
            chosen = attrs.evolve(chosen, retry=retry)
        if keep_result is not None:
            chosen = attrs.evolve(chosen, keep_result=keep_result)

        def register(logic: Callable[[T], R]) -> TaskFunction[P, T, R]:
            with self._lock:
                if spec.task_type in self._tasks:
                    raise TaskDefinitionError(
                        f"task type {spec.task_type!r} is registered with this app already; "
                        "give each task class one logic function (or set a distinct task_type)"
                    )
                self._tasks[spec.task_type] = _Registration(
                    spec.cls, logic, chosen, retention, queue
                )
            return TaskFunction(self, task_class, logic)

        return register

    def recurring(
        self,
        task_class: type[T],
        *,
        name: str,
        get_new: Callable[[datetime], T],
        cron: str | None = None,
        every: timedelta | None = None,
        start_at: datetime = _EPOCH,
        catch_up: int = 1,
        max_lateness: timedelta | None = None,
    ) -> None:
        """Declare a recurring schedule (see ``recurring_schedule``); the worker and
        ``scheduler()`` enqueue its occurrences."""
        self._registration(task_class)
        if any(r.name == name for r in self._recurring):
            raise TaskDefinitionError(f"a recurring schedule named {name!r} exists already")
        entry = _Recurring(
            task_class, name, get_new, cron, every, start_at, catch_up, max_lateness
        )
        # Check the schedule now, as a direct recurring_schedule call would; the real one is
        # built on the app's backend when a scheduler is made.
        self._build_schedule(entry, InMemoryTaskDao(task_class), InMemoryTaskQueue())
        with self._lock:
            self._recurring.append(entry)

    # -- binding -----------------------------------------------------------------------------

    def use(
        self, backend: str | None = None, *, queue: str | None = None, clock: Clock | None = None
    ) -> None:
        """Bind to another backend, queue or clock; what was built before is dropped.

        A new ``backend`` comes with its own queue unless ``queue`` is given too; what
        is not given is kept. Call it before enqueuing or executing, e.g. in tests
        (``app.use("memory://", clock=FakeClock())``).
        """
        with self._lock:
            if backend is not None:
                self._backend_url = backend
                self._queue_url = queue
            elif queue is not None:
                self._queue_url = queue
            if clock is not None:
                self.clock = clock
            self._backend = None
            self._executors.clear()
            self._enqueue.clear()
            self._aenqueue.clear()

    @property
    def backend(self) -> Backend:
        """The backend, opened from the URLs (or the environment) on first use."""
        with self._lock:
            if self._backend is None:
                store = self._backend_url or os.environ.get(BACKEND_ENV) or DEFAULT_URL
                queue = self._queue_url or os.environ.get(QUEUE_ENV) or None
                self._backend = Backend(
                    store, queue, clock=self.clock, converter=self.converter, queues=self.queues
                )
            return self._backend

    @property
    def task_types(self) -> list[str]:
        """The registered task types, in registration order."""
        return list(self._tasks)

    def task_class(self, task_type: str) -> type[AsyncTask]:
        """The class registered for ``task_type``.

        Raises:
            ConfigurationError: no such task type; the message lists the known ones.
        """
        found = self._tasks.get(task_type)
        if found is None:
            known = ", ".join(self._tasks) or "none"
            raise ConfigurationError(f"this app has no task type {task_type!r}; it has: {known}")
        return found.task_class

    def options(self, task_type: str) -> ExecuteOptions:
        """The ``ExecuteOptions`` registered for ``task_type``.

        Raises:
            ConfigurationError: no such task type; the message lists the known ones.
        """
        self.task_class(task_type)
        return self._tasks[task_type].options

    def settings(self) -> list[TaskSettings]:
        """Every registered task type with its class, logic and settings, in registration
        order (``simple-async-tasks tasks types``)."""
        found = []
        for task_type, registration in list(self._tasks.items()):
            spec = task_spec(registration.task_class)
            found.append(
                TaskSettings(
                    task_type=task_type,
                    task_class=dotted(registration.task_class),
                    logic=dotted(registration.logic),
                    unique=spec.unique,
                    mutex=spec.mutex,
                    options=registration.options,
                    retention=registration.retention,
                    queue=registration.queue,
                )
            )
        return found

    def _registration(self, task_class: type[AsyncTask]) -> _Registration:
        found = self._tasks.get(task_spec(task_class).task_type)
        if found is None or found.task_class is not task_class:
            raise ConfigurationError(
                f"{task_class.__name__} is not registered with this app: decorate its logic "
                f"with @app.task({task_class.__name__})"
            )
        return found

    def dao(self, task_class: type[T]) -> TaskDao[T]:
        """The DAO of a registered task class on this app's backend."""
        registration = self._registration(task_class)
        return self.backend.dao(task_class, retention=registration.retention)

    @property
    def queue(self) -> TaskQueue[AsyncTask]:
        """The default queue of this app's backend."""
        return self.backend.queue

    def queue_for(self, task: type[AsyncTask] | str) -> TaskQueue[AsyncTask]:
        """The queue a registered task class (or task type) travels on."""
        name = task if isinstance(task, str) else task_spec(task).task_type
        if name not in self._tasks:
            self.task_class(name)  # the clear error
        return self.backend.named_queue(self._tasks[name].queue)

    def queue_names(self) -> list[str]:
        """The queues of the registered task types, in the order they were first named
        (``default`` first when a type uses it)."""
        names = [r.queue for r in self._tasks.values()]
        ordered = ([DEFAULT_QUEUE] if DEFAULT_QUEUE in names else []) + names
        return list(dict.fromkeys(ordered))

    # -- running -----------------------------------------------------------------------------

    def _cached(self, cache: dict[K, V], key: K, build: Callable[[], V]) -> V:
        """``cache[key]``, built once under the lock on a miss; a hit takes no lock."""
        found = cache.get(key)
        if found is None:
            with self._lock:
                found = cache.get(key)
                if found is None:
                    found = cache[key] = build()
        return found

    def enqueue(self, task: T) -> T:
        """Enqueue ``task`` once (see ``with_queue_lifecycle``); returns the stored task."""
        cls: type[AsyncTask] = type(task)

        def build() -> Callable[[Any], Any]:
            return with_queue_lifecycle(
                get_new=_same,
                dao=self.dao(cls),
                queue=self.queue_for(cls),
                clock=self.clock,
                converter=self.converter,
                hooks=self.hooks,
            )

        stored: T = self._cached(self._enqueue, cls, build)(task)
        return stored

    async def aenqueue(self, task: T) -> T:
        """``enqueue``, awaited from a coroutine without blocking the event loop: in memory
        the async driver runs the same steps in place; DynamoDB and SQS are awaited on
        aiobotocore with the ``aws-async`` extra; SQLite (and AWS without the extra) run
        the enqueue on a worker thread. See docs/async.md."""
        cls: type[AsyncTask] = type(task)

        def build() -> Any:
            from ..lifecycle.async_enqueue import AsyncEnqueuer
            from ..lifecycle.enqueue import Enqueuer

            return AsyncEnqueuer(
                Enqueuer.of(
                    self.dao(cls),
                    self.queue_for(cls),
                    clock=self.clock,
                    converter=self.converter,
                    on_mismatch="warn",
                    hooks=self.hooks,
                )
            )

        stored: T = await self._cached(self._aenqueue, cls, build).enqueue(task)
        return stored

    def enqueuer(self, get_new: Callable[P, T]) -> Callable[P, T]:
        """Wrap ``get_new`` so that each call enqueues the task it builds; keeps its signature."""

        @functools.wraps(get_new)
        def enqueue(*args: P.args, **kwargs: P.kwargs) -> T:
            return self.enqueue(get_new(*args, **kwargs))

        return enqueue

    def executor(self, task_class: type[T]) -> TaskExecutor[T, object]:
        """The executor of a registered task class (built on first call)."""
        return cast("TaskExecutor[T, object]", self._executor(self._registration(task_class)))

    def _executor(self, registration: _Registration) -> TaskExecutor[Any, object]:
        def build() -> TaskExecutor[Any, object]:
            return with_execute_lifecycle(
                registration.logic,
                dao=self.backend.dao(registration.task_class, retention=registration.retention),
                queue=self.backend.named_queue(registration.queue),
                options=registration.options,
                clock=self.clock,
                converter=self.converter,
                hooks=self.hooks,
            )

        task_type = task_spec(registration.task_class).task_type
        return self._cached(self._executors, task_type, build)

    def executors(self, queue: str | None = None) -> list[TaskExecutor[Any, object]]:
        """Every registered task's executor (those of ``queue`` only, when given): pass them
        to ``create_sqs_handler`` (one Lambda function per queue) or ``drain``.

        Raises:
            ConfigurationError: no task is registered (on ``queue``).
        """
        chosen = [r for r in list(self._tasks.values()) if queue in (None, r.queue)]
        if not chosen:
            where = f" on queue {queue!r} (queues: {self.queue_names()})" if queue else ""
            raise ConfigurationError(
                f"this app has no tasks{where}: decorate a logic function with "
                "@app.task(TaskClass)"
            )
        return [self._executor(r) for r in chosen]

    def _build_schedule(
        self, entry: _Recurring, dao: TaskDao[Any], queue: TaskQueue[AsyncTask]
    ) -> RecurringSchedule[Any]:
        return recurring_schedule(
            name=entry.name,
            get_new=entry.get_new,
            dao=dao,
            queue=queue,
            cron=entry.cron,
            every=entry.every,
            start_at=entry.start_at,
            catch_up=entry.catch_up,
            max_lateness=entry.max_lateness,
            clock=self.clock,
            converter=self.converter,
        )

    def scheduler(self, *, requeue_after: timedelta = timedelta(minutes=15)) -> Scheduler:
        """A scheduler over the recurring schedules and the sweeps of every registered task,
        each swept with its own ``ExecuteOptions`` (retry policy and lease)."""
        return Scheduler(
            schedules=[
                self._build_schedule(r, self.dao(r.task_class), self.queue_for(r.task_class))
                for r in self._recurring
            ],
            sweep=[
                (self.dao(r.task_class), self.queue_for(r.task_class), r.options)
                for r in self._tasks.values()
            ],
            requeue_after=requeue_after,
            clock=self.clock,
            stored=self.schedules(),
        )

    def schedules(self) -> ScheduleBook:
        """The recurring schedules stored in this app's backend: create, read, update, pause,
        resume and delete them at run time (``simple-async-tasks schedules``); the
        scheduler runs them beside the ones declared with ``recurring``."""
        from ..lifecycle.schedule_book import ScheduleBook  # loaded when first asked for

        return ScheduleBook(
            self.backend.documents(),
            task_class=self.task_class,
            dao=self.dao,
            queue=self.queue_for,
            reserved=frozenset(r.name for r in self._recurring),
            clock=self.clock,
            converter=self.converter,
        )

    def worker(
        self,
        *,
        concurrency: int = 4,
        schedule: bool = True,
        schedule_every: timedelta = timedelta(minutes=1),
        poll_wait: timedelta = timedelta(seconds=1),
        on_progress: Callable[[WorkerSummary], None] | None = None,
        requeue_after: timedelta = timedelta(minutes=15),
        register: bool = True,
        queues: Sequence[str] | None = None,
        weights: Mapping[str, float] | None = None,
        async_concurrency: int = 100,
    ) -> Worker:
        """A worker over the backend's queues (SQLite, or SQS with long polling) that runs the
        scheduler every ``schedule_every`` unless ``schedule`` is False; its sweep pushes
        again a task left QUEUED and never attempted for ``requeue_after``. With ``register``
        (the default) it writes a heartbeat every 10 seconds to the worker registry
        (``registry()``, ``simple-async-tasks workers``).

        ``queues`` (default: every queue of the app, ``queue_names()``) are taken in
        priority order: no message of a queue while an earlier one has some. With
        ``weights`` (a positive number per queue) each take starts from a queue drawn in
        proportion to its weight instead, so no queue starves. ``async def`` logic is
        awaited on the worker's one event loop, ``async_concurrency`` attempts at once.
        """
        from ..lifecycle.priority import QueueSources
        from ..worker import Worker  # threads and signals: only for those who run a worker

        names = list(queues) if queues else self.queue_names() or [DEFAULT_QUEUE]
        sources = [(name, self.backend.source(check_queue_name(name))) for name in names]
        source: MessageSource = sources[0][1]
        if len(sources) > 1 or weights is not None:
            source = QueueSources(sources, weights=weights)
        worker = Worker(
            self.executors(),
            source,
            concurrency=concurrency,
            scheduler=self.scheduler(requeue_after=requeue_after) if schedule else None,
            schedule_every=schedule_every,
            poll_wait=poll_wait,
            on_progress=on_progress,
            clock=self.clock,
            registry=self.registry() if register else None,
            async_concurrency=async_concurrency,
        )
        worker.queue_names = names
        return worker

    def registry(self, *, dead_after: timedelta | None = None) -> WorkerRegistry:
        """The worker registry in this app's store: ``registry().workers()`` lists the
        workers that beat there, alive or dead (silent for ``dead_after``: 60 seconds)."""
        from ..lifecycle.workers import DEAD_AFTER, WorkerRegistry

        return WorkerRegistry(
            self.backend.documents(), clock=self.clock, dead_after=dead_after or DEAD_AFTER
        )
