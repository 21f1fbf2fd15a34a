"""``TaskFunction``: what ``@app.task`` returns, the one definition a task needs besides
its class.

It is the logic itself (calling it runs the logic on a task, as a plain function
would, e.g. in a unit test), and it enqueues tasks of its class from the class's own
fields, typed by them (a ``ParamSpec`` taken from the attrs ``__init__``)::

    @app.task(SendWelcomeEmail)
    def send_welcome_email(task: SendWelcomeEmail) -> str: ...

    send_welcome_email.enqueue(user_id="u1", email="ada@example.com")
    send_welcome_email.enqueue_in(timedelta(minutes=5), user_id="u2", email="g@example.com")
    send_welcome_email.result("u1")  # what the logic returned, once FULFILLED
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from ..definition import task_spec
from ..errors import InvalidTaskError, TaskNotFoundError
from ..lifecycle.results import stored_result
from ..task import AsyncTask, with_lifecycle

if TYPE_CHECKING:
    from .task_app import TaskApp

P = ParamSpec("P")
T = TypeVar("T", bound=AsyncTask)
R_co = TypeVar("R_co", covariant=True)
"""What calling the logic returns (covariant: an ``async def`` logic's coroutine type is
some subtype of ``Coroutine``)."""
X = TypeVar("X")


class TaskFunction(Generic[P, T, R_co]):
    """A task's logic bound to its class and app: call it to run the logic on a task;
    ``enqueue``, ``enqueue_in`` and ``enqueue_at`` to enqueue one from field values (and
    ``aenqueue``, ``aenqueue_in``, ``aenqueue_at`` to await the same from a coroutine)."""

    def __init__(
        self, app: TaskApp, task_class: Callable[P, T], logic: Callable[[T], R_co]
    ) -> None:
        self._app = app
        self._new = task_class
        self.task_class: type[T] = task_spec(task_class).cls  # type: ignore[arg-type]
        self.logic = logic
        functools.update_wrapper(self, logic)

    @property
    def task_type(self) -> str:
        """The task type of the class (its name unless it sets ``task_type``)."""
        return task_spec(self.task_class).task_type

    def __call__(self, task: T) -> R_co:
        """Run the logic on ``task`` directly (no lifecycle): what a unit test calls."""
        return self.logic(task)

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Build a task from the class's fields and enqueue it once (deduplicated by its
        unique key); returns the stored task."""
        return self._app.enqueue(self._new(*args, **kwargs))

    def enqueue_in(self, delay: timedelta, /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``enqueue``, to run no sooner than ``delay`` from now (the app's clock)."""
        _check_delay(delay)
        return self._at(self._app.clock.now() + delay, self._new(*args, **kwargs))

    def enqueue_at(self, due: datetime, /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``enqueue``, to run no sooner than ``due`` (a timezone-aware datetime)."""
        _check_due(due)
        return self._at(due, self._new(*args, **kwargs))

    def _at(self, due: datetime, task: T) -> T:
        return self._app.enqueue(_due(task, due))

    async def aenqueue(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """``enqueue``, awaited from a coroutine without blocking the event loop."""
        return await self._app.aenqueue(self._new(*args, **kwargs))

    async def aenqueue_in(self, delay: timedelta, /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``enqueue_in``, awaited."""
        _check_delay(delay)
        due = self._app.clock.now() + delay
        return await self._app.aenqueue(
            with_lifecycle(self._new(*args, **kwargs), {"execute_after": due})
        )

    async def aenqueue_at(self, due: datetime, /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``enqueue_at``, awaited."""
        _check_due(due)
        return await self._app.aenqueue(
            with_lifecycle(self._new(*args, **kwargs), {"execute_after": due})
        )

    @overload
    def result(self: TaskFunction[P, T, Coroutine[Any, Any, X]], task: T | str) -> X | None: ...

    @overload
    def result(self, task: T | str) -> R_co | None: ...

    def result(self, task: T | str) -> Any:
        """What the logic returned for ``task`` (or the task with this unique key), read
        from the stored record and structured into the logic's return type; None while
        the task is not FULFILLED, or when its result was not kept.

        Raises:
            TaskNotFoundError: no task has this unique key.
        """
        dao = self._app.dao(self.task_class)
        key = task if isinstance(task, str) else dao.unique_key(task)
        stored = dao.get(key)
        if stored is None:
            raise TaskNotFoundError(
                self.task_type, key, hint="enqueue it first, or check the app's backend"
            )
        return stored_result(stored, self.logic, self._app.converter)

    def __repr__(self) -> str:
        return f"<TaskFunction {self.task_type}: {getattr(self.logic, '__qualname__', '?')}>"


def _check_delay(delay: object) -> None:
    if not isinstance(delay, timedelta) or delay < timedelta(0):
        raise InvalidTaskError(
            f"enqueue_in takes a delay as a non-negative timedelta first, got {delay!r}"
        )


def _check_due(due: object) -> None:
    if not isinstance(due, datetime) or due.tzinfo is None:
        raise InvalidTaskError(
            f"enqueue_at takes a timezone-aware datetime first, got {due!r}; "
            "use datetime.now(timezone.utc) + ..., or enqueue_in(timedelta(...), ...)"
        )


def _due(task: T, due: datetime) -> T:
    return with_lifecycle(task, {"execute_after": due})
