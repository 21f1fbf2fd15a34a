"""Hooks: where users plug their own logging, metrics and tracing into the lifecycle,
without wrapping the library.

Subclass ``TaskHooks`` and override what you need; each method is called at one point
of the lifecycle with one event value. A hook that raises is logged and ignored: a bug
in a metrics exporter never fails a task. The two ``*_span`` methods are context
managers around an enqueue and around an attempt, for tracing: the first yields a
carrier (a dict of strings) that travels in the parcel's meta, the second receives it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from datetime import timedelta

import attrs

from ..task import AsyncTask
from .results import ExecuteOutcome

logger = logging.getLogger("simple_async_tasks.hooks")


@attrs.frozen(kw_only=True)
class EnqueueEvent:
    """An enqueue call finished: a new task saved (and pushed), or a duplicate."""

    task_type: str
    task: AsyncTask
    """The stored task: the new record, or the one already there."""
    duplicate: bool
    """True when nothing was written: the unique key was stored already."""
    delay: timedelta
    """How long the message waits before it is delivered (0 for most)."""


@attrs.frozen(kw_only=True)
class ClaimEvent:
    """A delivery claimed its task: the attempt starts."""

    task_type: str
    task: AsyncTask
    """The task as claimed (ATTEMPTED, ``attempts`` counting this one)."""
    requeue_depth: int
    """How often this parcel was put back before (retry later, mutex held, not due)."""


@attrs.frozen(kw_only=True)
class FinishEvent:
    """An attempt ended: the logic returned (FULFILLED) or raised (FAILED)."""

    task_type: str
    task: AsyncTask
    """The task as stored after the attempt."""
    outcome: ExecuteOutcome
    """EXECUTED or FAILED."""
    duration: timedelta
    """How long the logic ran."""
    error: BaseException | None = None
    """What the logic raised (FAILED)."""
    final: bool = False
    """FAILED with no attempt left (it stays FAILED until retried by hand)."""


@attrs.frozen(kw_only=True)
class RetryEvent:
    """A task will run again later: its attempt failed with attempts left, the logic asked
    for it (``RetryLaterError``), or the delivery found it busy, locked or not yet due."""

    task_type: str
    task: AsyncTask
    delay: timedelta
    reason: str
    after_failure: bool = False
    """The attempt failed (a ``FinishEvent`` with FAILED came just before); False for a
    retry-later, a busy or locked task, or one not yet due."""


@attrs.frozen(kw_only=True)
class SkipEvent:
    """A delivery ran nothing: the task is finished, canceled, halted or scheduled."""

    task_type: str
    task: AsyncTask | None
    """The stored task (None when there is no record)."""
    reason: str


class TaskHooks:
    """Callbacks at enqueue, claim, finish, retry and skip; every method does nothing
    unless overridden. Pass instances to ``TaskApp(hooks=[...])`` or to the lifecycle
    wrappers (``hooks=``)."""

    def on_enqueue(self, event: EnqueueEvent) -> None:
        """After an enqueue call: a task saved and pushed, or a duplicate."""

    def on_claim(self, event: ClaimEvent) -> None:
        """After a delivery claimed its task, before the logic runs."""

    def on_finish(self, event: FinishEvent) -> None:
        """After the outcome of an attempt is recorded."""

    def on_retry(self, event: RetryEvent) -> None:
        """When a task is put back to run later."""

    def on_skip(self, event: SkipEvent) -> None:
        """When a delivery finds nothing to run."""

    def enqueue_span(
        self, task_type: str, task: AsyncTask
    ) -> AbstractContextManager[Mapping[str, str]]:
        """Around one enqueue (the save and the push). Yields entries to carry in the
        parcel's meta (a trace context: ``traceparent``, ``tracestate``)."""
        return nullcontext({})

    def attempt_span(
        self, task_type: str, task: AsyncTask, carried: Mapping[str, str]
    ) -> AbstractContextManager[None]:
        """Around one run of the logic; ``carried`` is what ``enqueue_span`` yielded."""
        return nullcontext()


class Hooks:
    """Several ``TaskHooks`` called in order, each guarded: what the lifecycle calls."""

    def __init__(self, hooks: Sequence[TaskHooks] = ()) -> None:
        self.hooks = tuple(hooks)

    def __bool__(self) -> bool:
        return bool(self.hooks)

    def _each(self, method: str, event: object) -> None:
        for hook in self.hooks:
            try:
                getattr(hook, method)(event)
            except Exception as error:  # a hook never fails a task
                _warn(hook, method, error)

    def enqueued(self, event: EnqueueEvent) -> None:
        self._each("on_enqueue", event)

    def claimed(self, event: ClaimEvent) -> None:
        self._each("on_claim", event)

    def finished(self, event: FinishEvent) -> None:
        self._each("on_finish", event)

    def retrying(self, event: RetryEvent) -> None:
        self._each("on_retry", event)

    def skipped(self, event: SkipEvent) -> None:
        self._each("on_skip", event)

    @contextmanager
    def enqueue_span(self, task_type: str, task: AsyncTask) -> Iterator[dict[str, str]]:
        carried: dict[str, str] = {}
        with ExitStack() as stack:
            for hook in self.hooks:
                entered = stack.enter_context(_guarded(hook, "enqueue_span", task_type, task))
                if isinstance(entered, Mapping):
                    carried.update({str(k): str(v) for k, v in entered.items()})
            yield carried

    @contextmanager
    def attempt_span(
        self, task_type: str, task: AsyncTask, carried: Mapping[str, str]
    ) -> Iterator[None]:
        with ExitStack() as stack:
            for hook in self.hooks:
                stack.enter_context(_guarded(hook, "attempt_span", task_type, task, carried))
            yield


def _warn(hook: TaskHooks, method: str, error: Exception) -> None:
    logger.warning(
        "hook %s.%s raised %s: %s", type(hook).__name__, method, type(error).__name__, error
    )


@contextmanager
def _guarded(hook: TaskHooks, method: str, *args: object) -> Iterator[object]:
    """``hook.method(*args)`` as a context manager whose own failures, entering or
    leaving, are logged and ignored; an error of the block always goes on as it is (a
    hook never swallows it)."""
    try:
        manager = getattr(hook, method)(*args)
        value = manager.__enter__()
    except Exception as error:
        _warn(hook, method, error)
        yield None
        return
    try:
        yield value
    except BaseException as failure:
        try:
            manager.__exit__(type(failure), failure, failure.__traceback__)
        except Exception as error:
            if error is not failure:
                _warn(hook, method, error)
        raise
    try:
        manager.__exit__(None, None, None)
    except Exception as error:
        _warn(hook, method, error)


NO_HOOKS = Hooks()
