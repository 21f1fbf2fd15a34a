"""Errors of the backends leave them as the library's own (issue 14): ``sqlite3`` and
boto3 errors are translated at the edge, the original kept on ``__cause__``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from simple_async_tasks import SqliteTaskDao, SqliteTaskQueue
from simple_async_tasks.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigurationError,
)

from .tasks import SendEmail

ROOT = Path(__file__).resolve().parents[1]


def test_a_file_that_is_not_a_database_is_a_backend_error_naming_it(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(BackendError, match=f"{junk} is not a readable SQLite database") as err:
        SqliteTaskDao(SendEmail, junk)
    assert isinstance(err.value.__cause__, sqlite3.DatabaseError)


def test_a_missing_directory_is_a_configuration_error_naming_the_path(tmp_path):
    missing = tmp_path / "nope" / "tasks.db"
    with pytest.raises(ConfigurationError, match=f"cannot open the SQLite file {missing}"):
        SqliteTaskQueue(missing)


def test_a_file_locked_past_the_timeout_is_worth_retrying(tmp_path):
    path = tmp_path / "busy.db"
    dao = SqliteTaskDao(SendEmail, path, timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer keeps the file
    try:
        with pytest.raises(BackendUnavailableError, match="stayed locked") as err:
            dao.save(SendEmail(user_id="u1"), condition=None)
        assert err.value.code is not None
        assert isinstance(err.value.__cause__, sqlite3.OperationalError)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert dao.save(SendEmail(user_id="u1"), condition=None).version == 1


def test_the_aws_backends_without_boto3_say_how_to_install_it_at_construction():
    code = (
        "import sys; sys.modules['boto3'] = None\n"  # boto3 not installed
        "from simple_async_tasks.aws import DynamoTaskDao, SqsTaskQueue\n"
        "from simple_async_tasks.errors import ConfigurationError\n"
        "from tests.tasks import SendEmail\n"
        "for build in (lambda: DynamoTaskDao(SendEmail, table_name='t'),\n"
        "              lambda: SqsTaskQueue('https://sqs.eu-west-1.amazonaws.com/1/q')):\n"
        "    try:\n"
        "        build()\n"
        "    except ConfigurationError as error:\n"
        "        print(error)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 2, out
    assert all('pip install "simple-async-tasks[aws]"' in line for line in lines)


def test_the_command_line_without_boto3_exits_2_with_the_hint(tmp_path):
    code = (
        "import sys; sys.modules['boto3'] = None\n"
        "from simple_async_tasks.cli import main\n"
        "sys.argv = ['simple-async-tasks', 'tasks', 'stats', '--app', 'tests.cli_app:app',\n"
        "    '--backend', 'dynamodb://t?region=eu-west-1', '--queue', 'sqs://q?region=eu-west-1']\n"
        "main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={"PATH": "/usr/bin:/bin", "SAT_CLI_DIR": str(tmp_path)},
    )
    assert out.returncode == 2, out.stderr
    assert 'pip install "simple-async-tasks[aws]"' in out.stderr
    assert "Traceback" not in out.stderr


def test_no_region_says_how_to_give_one(tmp_path):
    code = (
        "from simple_async_tasks.aws import DynamoTaskDao\n"
        "from simple_async_tasks.errors import ConfigurationError\n"
        "from tests.tasks import SendEmail\n"
        "try:\n"
        "    DynamoTaskDao(SendEmail, table_name='t').get('u1')\n"
        "except ConfigurationError as error:\n"
        "    print(error)\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),  # no ~/.aws/config
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    assert "add ?region=eu-west-1 to its URL, or set AWS_REGION" in out.stdout, out
