"""The public surface, pinned (httpx's ``tests/test_exported_members.py`` is the model):
each public module's ``__all__`` is the intended set, every name in it loads, and every
type a public signature names is exported from some public module."""

from __future__ import annotations

import builtins
import importlib
import inspect
import re
import warnings

import pytest

PUBLIC: dict[str, set[str]] = {
    "simple_async_tasks": {
        "AsyncTask",
        "AsyncTaskStatus",
        "Backend",
        "Clock",
        "ExecuteOptions",
        "ExecuteOutcome",
        "ExecuteResult",
        "InMemoryTaskDao",
        "InMemoryTaskQueue",
        "Lease",
        "OnFailure",
        "RetryLaterError",
        "RetryPolicy",
        "SimpleAsyncTasksError",
        "SqliteTaskDao",
        "SqliteTaskQueue",
        "TaskApp",
        "TaskDao",
        "TaskExecutor",
        "TaskFunction",
        "TaskQueue",
        "Worker",
        "WorkerSummary",
        "current_lease",
        "enqueue_many",
        "with_execute_lifecycle",
        "with_queue_lifecycle",
    },
    "simple_async_tasks.errors": {
        "BackendError",
        "BackendUnavailableError",
        "ConditionFailedError",
        "ConfigurationError",
        "InvalidEventError",
        "InvalidScheduleError",
        "InvalidTaskError",
        "LeaseLostError",
        "MutexHeldError",
        "NotStartedError",
        "ParcelDecodeError",
        "PayloadMismatchError",
        "QueueLimitError",
        "QueueSendError",
        "RequeueDepthExceededError",
        "RetryLaterError",
        "ScheduleNotFoundError",
        "SerializationError",
        "SimpleAsyncTasksError",
        "TaskDefinitionError",
        "TaskNotFoundError",
        "TimeLimitExceededError",
        "UnknownTaskTypeError",
    },
    "simple_async_tasks.dashboard": {"TOKEN_ENV", "create_dashboard"},
    "simple_async_tasks.aio": {
        "AsyncDynamoTaskDao",
        "AsyncSqsTaskQueue",
        "close_clients",
        "with_async_queue_lifecycle",
    },
    "simple_async_tasks.operations": {
        "DeadLetter",
        "DeadLetterBox",
        "QueueDepth",
        "RecurringDetails",
        "RecurringInterval",
        "RecurringSchedule",
        "ScheduleBook",
        "Scheduler",
        "SchedulerReport",
        "StoredSchedule",
        "SweepReport",
        "WorkerInfo",
        "WorkerRegistry",
        "break_lock",
        "cancel_task",
        "count_tasks",
        "delete_failed",
        "delete_task",
        "find_task_by_uuid",
        "halt_task",
        "list_tasks",
        "mutex_locks",
        "promote_due",
        "purge_queue",
        "queue_depth",
        "recurring_schedule",
        "requeue_stale",
        "resume_task",
        "retry_task",
        "show_task",
    },
    "simple_async_tasks.contracts": {
        "ANY_VERSION",
        "KEEP",
        "Absent",
        "AllOf",
        "AnyOf",
        "AttemptsEqual",
        "Condition",
        "DeadLetter",
        "DeadLetterBox",
        "Delivery",
        "DocumentStore",
        "DueBy",
        "FailuresBelow",
        "Keep",
        "LeaseExpiredBy",
        "LeaseIs",
        "DeletingDao",
        "LockedDao",
        "MeasuredQueue",
        "MessageSource",
        "MutexLock",
        "Page",
        "ParcelMeta",
        "QueueAddress",
        "QueueDepth",
        "QueuedMessage",
        "RawParcel",
        "ReceivedMessage",
        "StoredDocument",
        "StatusIn",
        "TaskDao",
        "TaskParcel",
        "TaskQueue",
        "Transition",
        "UpdatedBefore",
        "VersionEquals",
        "absent",
        "status_in",
    },
    "simple_async_tasks.app": {
        "BACKEND_ENV",
        "QUEUE_ENV",
        "Backend",
        "TaskApp",
        "TaskFunction",
        "TaskSettings",
    },
    "simple_async_tasks.worker": {
        "Delivery",
        "MessageSource",
        "SqliteSource",
        "SqsSource",
        "Worker",
        "WorkerSummary",
    },
    "simple_async_tasks.aws": {
        "BatchItemFailure",
        "DynamoTaskDao",
        "LambdaContext",
        "ScheduleHandler",
        "SqsBatchResponse",
        "SqsDeadLetters",
        "SqsEvent",
        "SqsHandler",
        "SqsRecord",
        "SqsTaskQueue",
        "create_schedule_handler",
        "create_sqs_handler",
        "create_table",
        "dynamodb_client",
        "reset_clients",
        "sqs_client",
    },
    "simple_async_tasks.testing": {"DrainFailure", "DrainReport", "FakeClock", "adrain", "drain"},
    "simple_async_tasks.serialization": {"default_converter", "make_converter"},
    "simple_async_tasks.clock": {"Clock", "SystemClock", "system_clock"},
    "simple_async_tasks.observability": {
        "ClaimEvent",
        "EmfMetrics",
        "JsonLogFormatter",
        "LogHooks",
        "EnqueueEvent",
        "FinishEvent",
        "OpenTelemetryHooks",
        "RetryEvent",
        "SkipEvent",
        "TaskHooks",
    },
    "simple_async_tasks.typedefs": {
        "Attempt",
        "ExecuteResultLike",
        "Executors",
        "Hooks",
        "KeepAlive",
        "OnMismatch",
        "RawExecutor",
        "SweepTarget",
        "TaskSpec",
    },
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_is_the_intended_set_and_every_name_loads(module_name):
    module = importlib.import_module(module_name)
    assert set(module.__all__) == PUBLIC[module_name]
    assert len(module.__all__) == len(set(module.__all__)), "a name is listed twice"
    for name in module.__all__:
        assert getattr(module, name) is not None, name


def test_the_root_stays_small():
    assert len(PUBLIC["simple_async_tasks"]) <= 27


def test_a_name_that_moved_still_loads_from_the_root_with_a_warning_naming_its_new_home():
    import simple_async_tasks
    from simple_async_tasks.errors import ConfigurationError
    from simple_async_tasks.operations import retry_task

    with pytest.warns(DeprecationWarning, match="from simple_async_tasks.errors import"):
        assert simple_async_tasks.ConfigurationError is ConfigurationError
    with pytest.warns(DeprecationWarning, match="from simple_async_tasks.operations import"):
        assert simple_async_tasks.retry_task is retry_task
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        simple_async_tasks.nothing_here  # noqa: B018
    import simple_async_tasks.aws
    from simple_async_tasks.errors import QueueSendError

    with pytest.warns(DeprecationWarning, match="from simple_async_tasks.errors import"):
        assert simple_async_tasks.aws.QueueSendError is QueueSendError


# Names a public signature may use without our exporting them: the standard library,
# typing, type variables and the third-party types (attrs, cattrs, boto3 stubs).
_ALLOWED = set(dir(builtins)) | {
    "Any",
    "Callable",
    "ClassVar",
    "Concatenate",
    "Generic",
    "Iterable",
    "Iterator",
    "Literal",
    "Mapping",
    "NoReturn",
    "Protocol",
    "Self",
    "Sequence",
    "TracebackType",
    "TypeVar",
    "ParamSpec",
    "AbstractContextManager",
    "Path",
    "None",
    "datetime",
    "timedelta",
    "date",
    "Converter",
    "DynamoDBClient",
    "SQSClient",
    "Logger",
    "TracerProvider",
    "TextIO",
    "LogRecord",
    "Awaitable",
    "Starlette",  # the dashboard is a Starlette app, and takes its requests
    "Request",
}
_TYPE_VARS = re.compile(r"^(T|R|P|K|V|H|S|T_co|R_co|T_contra|E|TaskT)$")


_FORWARD_REF = re.compile(r"ForwardRef\('([^']*)'(?:, module='[^']*')?\)")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _names_in(annotation: str) -> list[str]:
    """The names an annotation's text refers to (not the values inside ``Literal``)."""
    text = _QUOTED.sub("", _FORWARD_REF.sub(r"\1", annotation))
    return re.findall(r"(?<![.\w])([A-Za-z_]\w*)(?!\w*\.)", text)


def _annotations_of(obj: object) -> list[str]:
    texts: list[str] = []
    try:
        signature = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return texts
    for parameter in signature.parameters.values():
        if parameter.annotation is not inspect.Parameter.empty:
            texts.append(str(parameter.annotation))
    if signature.return_annotation is not inspect.Signature.empty:
        texts.append(str(signature.return_annotation))
    return texts


def _public_annotations(obj: object) -> list[str]:
    if not isinstance(obj, type):
        return _annotations_of(obj) if callable(obj) else []
    texts = [str(a) for a in getattr(obj, "__annotations__", {}).values()]
    for name, member in vars(obj).items():
        if name.startswith("_") and name not in ("__init__", "__call__"):
            continue
        if isinstance(member, property) and member.fget is not None:
            texts.extend(_annotations_of(member.fget))
        elif isinstance(member, (staticmethod, classmethod)):
            texts.extend(_annotations_of(member.__func__))
        elif inspect.isfunction(member):
            texts.extend(_annotations_of(member))
    return texts


def test_every_type_a_public_signature_names_is_exported():
    exported: set[str] = set()
    objects: list[tuple[str, str, object]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a public module must not lean on a moved name
        for module_name, names in PUBLIC.items():
            module = importlib.import_module(module_name)
            exported |= names
            objects.extend((module_name, n, getattr(module, n)) for n in names)
    missing: dict[str, set[str]] = {}
    for module_name, name, obj in objects:
        for text in _public_annotations(obj):
            for word in _names_in(text):
                if word in exported or word in _ALLOWED or _TYPE_VARS.match(word):
                    continue
                missing.setdefault(word, set()).add(f"{module_name}.{name}")
    assert missing == {}, "types used in public signatures but not exported"


def test_every_name_the_root_forwards_is_in_the_all_of_its_new_home():
    import simple_async_tasks

    for name, (module_name, attribute) in simple_async_tasks._MOVED.items():
        module = importlib.import_module(module_name)
        assert attribute in module.__all__, (name, module_name)
        assert name not in simple_async_tasks.__all__
