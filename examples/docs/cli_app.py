"""The command line's app: a module with a ``TaskApp`` the commands find by name.

simple-async-tasks worker --app examples.docs.cli_app:app
simple-async-tasks tasks list --app examples.docs.cli_app:app
"""

from typing import ClassVar

import attrs

from simple_async_tasks import AsyncTask, RetryPolicy, TaskApp

app = TaskApp()  # the command line's --backend, else SIMPLE_ASYNC_TASKS_BACKEND, else tasks.db


@attrs.frozen(kw_only=True)
class SendWelcomeEmail(AsyncTask):
    unique: ClassVar[tuple[str, ...]] = ("user_id",)
    user_id: str
    email: str


@app.task(SendWelcomeEmail, retry=RetryPolicy(max_attempts=5))
def send_welcome_email(task: SendWelcomeEmail) -> None: ...
