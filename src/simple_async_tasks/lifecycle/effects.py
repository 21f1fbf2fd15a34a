"""The lifecycles' I/O as data: a lifecycle step is a generator that *yields* the backend
calls it needs (``Call``) and is *sent* their results (or *thrown* their errors), so one
piece of code holds every decision and a thin driver does the I/O: ``run`` calls the sync
DAO and queue, ``run_async`` awaits async ones. This is the sans-I/O style of h11 and
httpcore (see docs/decisions.md, "One lifecycle for sync and async").

    def steps(...) -> Steps[T]:
        try:
            stored = yield Call("dao", "save", (task,), {"condition": condition})
        except ConditionFailedError as lost:
            ...
        yield Call("queue", "push", (parcel,), {"delay": delay})
        return stored

    stored = run(steps(...), {"dao": dao, "queue": queue})
    stored = await run_async(steps(...), {"dao": async_dao, "queue": async_queue})
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, Literal, TypeVar

__all__ = [
    "Call",
    "Inline",
    "OnThread",
    "Steps",
    "awaitable",
    "close_loop_resources",
    "native",
    "on_loop_close",
    "run",
    "run_async",
]

R = TypeVar("R")
Target = Literal["dao", "queue", "logic", "io", "client"]


class Call:
    """One backend call a lifecycle step asks for: ``targets[target].method(*args, **kwargs)``."""

    __slots__ = ("args", "kwargs", "method", "target")

    def __init__(
        self,
        target: Target,
        method: str,
        args: tuple[object, ...] = (),
        kwargs: Mapping[str, object] | None = None,
    ) -> None:
        self.target = target
        self.method = method
        self.args = args
        self.kwargs = kwargs or {}

    def __repr__(self) -> str:
        return f"Call({self.target}.{self.method})"


Steps = Generator[Call, Any, R]
"""A lifecycle step: yields ``Call``s, is sent each result, returns its outcome."""


def run(steps: Steps[R], targets: Mapping[str, Any]) -> R:
    """Drive ``steps`` with plain calls; an error of a call is thrown into the step, where
    the lifecycle's own ``try`` decides, exactly as if it had made the call."""
    try:
        call = next(steps)
        while True:
            try:
                result = getattr(targets[call.target], call.method)(*call.args, **call.kwargs)
            except BaseException as error:  # the step's own finally runs, in its context
                call = steps.throw(error)
            else:
                call = steps.send(result)
    except StopIteration as done:
        value: R = done.value
        return value


async def run_async(steps: Steps[R], targets: Mapping[str, Any]) -> R:
    """Drive ``steps`` with awaited calls (the targets' methods are coroutines)."""
    try:
        call = next(steps)
        while True:
            try:
                method = getattr(targets[call.target], call.method)
                result = await method(*call.args, **call.kwargs)
            except BaseException as error:  # a cancellation too: the step's finally runs here
                call = steps.throw(error)
            else:
                call = steps.send(result)
    except StopIteration as done:
        value: R = done.value
        return value


class _Awaitable:
    """A sync backend's methods as coroutines: called in place (``Inline``) or on a
    worker thread (``OnThread``, which carries the context: the lease and trace spans
    follow)."""

    __slots__ = ("_target",)

    def __init__(self, target: object) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._target, name)
        return self._wrap(method)

    def _wrap(self, method: Any) -> Any:
        raise NotImplementedError


class Inline(_Awaitable):
    """For a backend whose calls never block (the in-memory DAO and queue)."""

    __slots__ = ()

    def _wrap(self, method: Any) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)

        return call


class OnThread(_Awaitable):
    """For a backend whose calls block (``sqlite3``, boto3): each on a worker thread."""

    __slots__ = ()

    def _wrap(self, method: Any) -> Any:
        async def call(*args: Any, **kwargs: Any) -> Any:
            import asyncio

            return await asyncio.to_thread(method, *args, **kwargs)

        return call


def never_blocks(backend: object) -> bool:
    """Whether the backend says its calls never wait on I/O (``never_blocks = True``: the
    in-memory DAO and queue)."""
    return getattr(backend, "never_blocks", False) is True


def native(backend: object) -> object | None:
    """The backend's native async twin (``backend.aio()``: DynamoDB and SQS on aiobotocore),
    or None: it has none, or its extra is not installed (``ConfigurationError``)."""
    from ..errors import ConfigurationError

    aio = getattr(backend, "aio", None)
    if aio is None:
        return None
    try:
        twin: object = aio()
    except ConfigurationError:
        return None
    return twin


def awaitable(backend: object, twin: object | None = None) -> object:
    """``backend`` as a target of ``run_async``: in place when it never blocks, its native
    twin when it has one, else each call on a worker thread."""
    if never_blocks(backend):
        return Inline(backend)
    if twin is None:
        twin = native(backend)
    return twin if twin is not None else OnThread(backend)


_loop_closers: list[Callable[[], Awaitable[None]]] = []


def on_loop_close(closer: Callable[[], Awaitable[None]]) -> None:
    """Register what must run on an event loop before its owner closes it: a backend
    whose clients belong to a loop (aiobotocore's, ``backends.aws_async``) registers
    the closing of the running loop's clients when it is first imported."""
    _loop_closers.append(closer)


async def close_loop_resources() -> None:
    """Run every registered closer on the running loop (what the worker's lane and the
    Lambda handler's invocation loop await before they close)."""
    for closer in list(_loop_closers):
        await closer()
