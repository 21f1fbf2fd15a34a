from __future__ import annotations

from typing import ClassVar

import attrs
import pytest

from simple_async_tasks import (
    AsyncTask,
    InMemoryTaskDao,
    InMemoryTaskQueue,
    with_execute_lifecycle,
    with_queue_lifecycle,
)
from simple_async_tasks.definition import task_spec
from simple_async_tasks.errors import TaskDefinitionError

from .tasks import RichTask, SendEmail, SyncAccount


def test_task_type_is_the_class_name_unless_set():
    assert task_spec(SendEmail).task_type == "SendEmail"
    assert task_spec(RichTask).task_type == "rich-task"


def test_unique_and_mutex_keys():
    spec = task_spec(SyncAccount)
    from simple_async_tasks.serialization import default_converter as conv

    task = SyncAccount(account_id="a1", job=7)
    assert spec.unique_key(task, conv) == '["a1",7]'
    assert spec.mutex_key(task, conv) == "SyncAccount#a1"
    assert task_spec(SendEmail).unique_key(SendEmail(user_id="u1"), conv) == "u1"
    assert task_spec(SendEmail).mutex_key(SendEmail(user_id="u1"), conv) is None


def test_task_is_frozen_and_has_lifecycle_defaults():
    task = SendEmail(user_id="u1")
    assert task.status.value == "QUEUED"
    assert task.attempts == 0
    assert task.version == 0
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        task.user_id = "x"  # type: ignore[misc]


def _define_missing_unique() -> type[AsyncTask]:
    @attrs.frozen(kw_only=True)
    class NoUnique(AsyncTask):
        x: str

    return NoUnique


def _define_bad_field() -> type[AsyncTask]:
    @attrs.frozen(kw_only=True)
    class BadField(AsyncTask):
        unique: ClassVar[tuple[str, ...]] = ("nope",)
        x: str

    return BadField


def _define_bad_mutex() -> type[AsyncTask]:
    @attrs.frozen(kw_only=True)
    class BadMutex(AsyncTask):
        unique: ClassVar[tuple[str, ...]] = ("x",)
        mutex: ClassVar[tuple[str, ...] | None] = ("y",)
        x: str

    return BadMutex


def _define_not_attrs() -> type[AsyncTask]:
    class NotAttrs(AsyncTask):
        unique: ClassVar[tuple[str, ...]] = ("status",)

    return NotAttrs


def _define_string_unique() -> type[AsyncTask]:
    @attrs.frozen(kw_only=True)
    class StringUnique(AsyncTask):
        unique: ClassVar = "x"  # a str, not a tuple
        x: str

    return StringUnique


def _define_lifecycle_unique() -> type[AsyncTask]:
    @attrs.frozen(kw_only=True)
    class LifecycleUnique(AsyncTask):
        unique: ClassVar[tuple[str, ...]] = ("uuid",)
        x: str

    return LifecycleUnique


@pytest.mark.parametrize(
    ("define", "message"),
    [
        (_define_missing_unique, "has no 'unique'"),
        (_define_bad_field, "names 'nope', which is not a field"),
        (_define_bad_mutex, "mutex names 'y'"),
        (_define_not_attrs, r"decorate it with @attrs\.frozen"),
        (_define_string_unique, "non-empty tuple of field names"),
        (_define_lifecycle_unique, "a field the library maintains"),
    ],
)
def test_wrong_definition_fails_where_the_lifecycle_is_built(define, message):
    cls = define()  # defining the class itself is fine ...
    with pytest.raises(TaskDefinitionError, match=message):  # ... building on it is not
        InMemoryTaskDao(cls)


def test_not_a_task_class():
    @attrs.frozen
    class Plain:
        x: str

    with pytest.raises(TaskDefinitionError, match=r"subclass simple_async_tasks\.AsyncTask"):
        task_spec(Plain)  # type: ignore[type-var]
    with pytest.raises(TaskDefinitionError, match="base class"):
        task_spec(AsyncTask)


def test_get_new_returning_another_class_is_refused(dao, queue):
    enqueue = with_queue_lifecycle(
        get_new=lambda: SyncAccount(account_id="a", job=1),  # type: ignore[arg-type,return-value]
        dao=dao,
        queue=queue,
    )
    with pytest.raises(TaskDefinitionError, match="returned a SyncAccount"):
        enqueue()


def test_executor_exposes_its_type(dao, queue):
    executor = with_execute_lifecycle(lambda t: None, dao=dao, queue=queue)
    assert executor.task_type == "SendEmail"
    assert executor.task_class is SendEmail
    assert isinstance(queue, InMemoryTaskQueue)
