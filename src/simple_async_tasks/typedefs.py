"""Types that public signatures name and users rarely write themselves: the steps of an
executor (``Attempt``), the shapes the entry points accept (``Executors``), and a few
aliases. Exported so every type in a public signature can be imported and annotated."""

from __future__ import annotations

from .definition import TaskSpec
from .lifecycle.decisions import Attempt
from .lifecycle.enqueue import OnMismatch
from .lifecycle.hooks import Hooks
from .lifecycle.lease import KeepAlive
from .lifecycle.scheduler import SweepTarget
from .routing import ExecuteResultLike, Executors, RawExecutor

__all__ = [
    "Attempt",
    "ExecuteResultLike",
    "Executors",
    "Hooks",
    "KeepAlive",
    "OnMismatch",
    "RawExecutor",
    "SweepTarget",
    "TaskSpec",
]
