"""Finished messages waiting to be deleted with the next take (batched deletes)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

H = TypeVar("H")


class PendingDeletes(Generic[H]):
    """Handles of finished messages waiting to be deleted, shared by the worker's threads.

    ``taken()`` hands them out and keeps them if the block fails, so a failed take or
    flush deletes them next time (or the queue redelivers them and they are skipped)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handles: list[H] = []

    def add(self, handle: H) -> None:
        with self._lock:
            self._handles.append(handle)

    @contextmanager
    def taken(self) -> Iterator[list[H]]:
        with self._lock:
            handles, self._handles = self._handles, []
        try:
            yield handles
        except BaseException:
            with self._lock:
                self._handles[:0] = handles
            raise
