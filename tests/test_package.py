"""Import cost and public surface of the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import simple_async_tasks


def test_import_does_not_import_boto3_or_the_dashboards_web_stack():
    code = (
        "import sys, simple_async_tasks, simple_async_tasks.testing; "
        "bad = sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('boto3', 'botocore', 'moto', 'starlette', 'uvicorn')); "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_app_and_the_command_line_stay_out_of_a_plain_import():
    code = (
        "import sys, simple_async_tasks; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'click' "
        "or m in ('simple_async_tasks.app', 'simple_async_tasks.worker')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert simple_async_tasks.TaskApp.__module__ == "simple_async_tasks.app.task_app"


def test_public_names_of_the_design_are_exported():
    """DESIGN.md's "Public names": the root for defining, enqueuing, executing and testing;
    operations in their own module; the AWS parts and the test helpers apart."""
    for name in [
        "AsyncTask",
        "AsyncTaskStatus",
        "TaskDao",
        "TaskQueue",
        "InMemoryTaskDao",
        "InMemoryTaskQueue",
        "with_queue_lifecycle",
        "with_execute_lifecycle",
        "ExecuteResult",
        "ExecuteOutcome",
        "RetryPolicy",
        "RetryLaterError",
        "SimpleAsyncTasksError",
        "TaskApp",
        "SqliteTaskDao",
        "SqliteTaskQueue",
    ]:
        assert name in simple_async_tasks.__all__
        assert hasattr(simple_async_tasks, name)
    from simple_async_tasks.aws import create_sqs_handler  # noqa: F401
    from simple_async_tasks.operations import (  # noqa: F401
        Scheduler,
        cancel_task,
        count_tasks,
        list_tasks,
        retry_task,
        show_task,
    )
    from simple_async_tasks.testing import FakeClock, drain  # noqa: F401


def test_every_error_derives_from_the_one_base():
    import simple_async_tasks.errors as errors

    classes = [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type)
        and issubclass(obj, Exception)
        and obj.__module__ == errors.__name__
    ]
    assert len(classes) > 10
    for cls in classes:
        assert issubclass(cls, simple_async_tasks.SimpleAsyncTasksError), cls
        assert cls.__name__ in errors.__doc__, f"{cls.__name__} missing from the tree docstring"


def test_a_program_on_the_memory_backend_imports_no_other_backend_or_tool():
    """The package loads on first use: a memory-backend program pays for nothing else."""
    code = (
        "import sys\n"
        "from simple_async_tasks import (AsyncTask, InMemoryTaskDao, InMemoryTaskQueue,\n"
        "    with_execute_lifecycle, with_queue_lifecycle)\n"
        "from tests.tasks import SendEmail\n"
        "dao, queue = InMemoryTaskDao(SendEmail), InMemoryTaskQueue()\n"
        "with_queue_lifecycle(get_new=lambda: SendEmail(user_id='u'), dao=dao, queue=queue)()\n"
        "execute = with_execute_lifecycle(lambda t: None, dao=dao, queue=queue)\n"
        "from simple_async_tasks.parcel import parse_parcel\n"
        "(message,) = queue.receive(1)\n"
        "assert execute.execute_raw(parse_parcel(message.body)).outcome.value == 'EXECUTED'\n"
        "print(' '.join(sorted(m for m in sys.modules if m in ('sqlite3', 'random', 'uuid')\n"
        "    or m.startswith('concurrent') or any(part in m for part in ('sqlite', 'scheduler',\n"
        "    'sweeps', 'control', 'worker', 'recurring', '.app', '.cli', '.aws')))))\n"
    )
    root = __file__.rsplit("/tests/", 1)[0]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.split() == []


def test_every_public_name_loads():
    for name in simple_async_tasks.__all__:
        assert getattr(simple_async_tasks, name) is not None, name
    assert set(simple_async_tasks.__all__) <= set(dir(simple_async_tasks))


def test_the_license_the_metadata_names_is_in_the_repository():
    root = Path(__file__).resolve().parents[1]
    assert '\nlicense = "MIT"\n' in (root / "pyproject.toml").read_text(encoding="utf-8")
    assert (root / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
