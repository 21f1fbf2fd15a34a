"""``TaskApp`` and its wiring: task classes and their logic bound to a backend chosen by
URL (``urls``), opened on first use (``backend``)."""

from .backend import Backend
from .settings import TaskSettings
from .task_app import BACKEND_ENV, QUEUE_ENV, TaskApp
from .task_function import TaskFunction

__all__ = ["BACKEND_ENV", "QUEUE_ENV", "Backend", "TaskApp", "TaskFunction", "TaskSettings"]
