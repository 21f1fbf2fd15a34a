"""The worker registry: each worker (and, when asked, each Lambda invocation) keeps a
heartbeat document saying who it is and what it runs; operators list them, and the rows
of workers silent too long show as dead and are cleaned.

A dead worker's tasks need nothing from here: they are ATTEMPTED under a lease that stops
being renewed, and the next delivery of their message takes them over once it lapses
(the lease rules of ``decisions.lost_claim``). The registry tells an operator what was
running there.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from ..clock import Clock, system_clock
from ..contracts import ANY_VERSION, DocumentStore, StoredDocument

__all__ = [
    "DEAD_AFTER",
    "FORGET_AFTER",
    "WORKER_KIND",
    "Heartbeat",
    "WorkerInfo",
    "WorkerRegistry",
    "new_worker_id",
]

logger = logging.getLogger("simple_async_tasks.workers")

WORKER_KIND = "worker"
DEAD_AFTER = timedelta(seconds=60)
"""A worker silent this long is listed as dead (six missed heartbeats at the default)."""
FORGET_AFTER = timedelta(hours=1)
"""A worker's row is dropped this long after its last heartbeat (DynamoDB: by its
time-to-live), unless ``reap`` removes it sooner."""


def new_worker_id() -> str:
    """``host-pid-random``: unique across restarts of a pid and across hosts."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


@attrs.frozen(kw_only=True)
class WorkerInfo:
    """One worker as its last heartbeat described it."""

    worker_id: str
    host: str
    pid: int
    kind: str = "worker"
    """``worker`` (``simple-async-tasks worker``, ``Worker.run``) or ``lambda`` (one
    invocation of the SQS handler)."""
    queues: tuple[str, ...] = ()
    concurrency: int = 1
    started_at: datetime
    last_seen: datetime
    running: tuple[str, ...] = ()
    """What it was running at its last heartbeat: ``TaskType uuid`` each."""
    alive: bool = True
    """False once silent for longer than the listing's ``dead_after``."""

    def as_dict(self) -> dict[str, object]:
        return {
            "worker_id": self.worker_id,
            "host": self.host,
            "pid": self.pid,
            "kind": self.kind,
            "queues": list(self.queues),
            "concurrency": self.concurrency,
            "started_at": self.started_at.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "running": list(self.running),
            "alive": self.alive,
        }


def _info(document: StoredDocument, now: datetime, dead_after: timedelta) -> WorkerInfo:
    data = document.data
    last_seen = document.updated_at
    return WorkerInfo(
        worker_id=document.name,
        host=str(data.get("host", "?")),
        pid=int(str(data.get("pid", 0))),
        kind=str(data.get("kind", "worker")),
        queues=tuple(str(q) for q in _list(data.get("queues"))),
        concurrency=int(str(data.get("concurrency", 1))),
        started_at=datetime.fromisoformat(str(data.get("started_at", last_seen.isoformat()))),
        last_seen=last_seen,
        running=tuple(str(r) for r in _list(data.get("running"))),
        alive=now - last_seen <= dead_after,
    )


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


class WorkerRegistry:
    """Heartbeats of workers in a ``DocumentStore`` (kind ``worker``, named by worker id)."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        clock: Clock = system_clock,
        dead_after: timedelta = DEAD_AFTER,
        forget_after: timedelta = FORGET_AFTER,
    ) -> None:
        if forget_after < dead_after:
            raise ValueError(
                f"forget_after ({forget_after}) must be at least dead_after ({dead_after}): "
                "a worker's row would vanish before it shows as dead"
            )
        self.store = store
        self.clock = clock
        self.dead_after = dead_after
        self.forget_after = forget_after

    def beat(
        self,
        worker_id: str,
        *,
        started_at: datetime,
        running: Sequence[str] = (),
        queues: Sequence[str] = (),
        concurrency: int = 1,
        kind: str = "worker",
    ) -> None:
        """Record that ``worker_id`` is alive now and runs ``running`` (one write)."""
        now = self.clock.now()
        self.store.put_document(
            WORKER_KIND,
            worker_id,
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "kind": kind,
                "queues": list(queues),
                "concurrency": concurrency,
                "started_at": started_at.isoformat(),
                "running": list(running),
            },
            expected_version=ANY_VERSION,
            expires_at=now + self.forget_after,
        )

    def leave(self, worker_id: str) -> None:
        """Remove ``worker_id``'s row: it stopped cleanly."""
        self.store.delete_document(WORKER_KIND, worker_id, expected_version=ANY_VERSION)

    def workers(self) -> list[WorkerInfo]:
        """Every worker with a row, alive or dead, by id."""
        now = self.clock.now()
        return [_info(d, now, self.dead_after) for d in self.store.list_documents(WORKER_KIND)]

    def reap(self) -> list[WorkerInfo]:
        """Remove the rows of the dead workers now; return them (what they ran is taken
        over by the lease rules when their messages come back)."""
        dead = [w for w in self.workers() if not w.alive]
        for worker in dead:
            self.store.delete_document(WORKER_KIND, worker.worker_id, expected_version=ANY_VERSION)
        return dead


class Heartbeat:
    """Beats for ``worker_id`` now and every ``every`` on a daemon thread while the
    ``with`` block runs, then removes the row: what the worker and (when asked) each Lambda
    invocation use. A failed write is logged and the work goes on."""

    def __init__(
        self,
        registry: WorkerRegistry,
        worker_id: str,
        *,
        running: Callable[[], Sequence[str]],
        every: timedelta = timedelta(seconds=10),
        queues: Sequence[str] = (),
        concurrency: int = 1,
        kind: str = "worker",
    ) -> None:
        self.registry = registry
        self.worker_id = worker_id
        self.running = running
        self.every = every
        self.queues = list(queues)
        self.concurrency = concurrency
        self.kind = kind
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = registry.clock.now()

    def beat(self) -> None:
        try:
            self.registry.beat(
                self.worker_id,
                started_at=self._started_at,
                running=self.running(),
                queues=self.queues,
                concurrency=self.concurrency,
                kind=self.kind,
            )
        except Exception as error:  # the row shows the worker late, then dead
            logger.warning("could not write the heartbeat of %s: %s", self.worker_id, error)

    def __enter__(self) -> Heartbeat:
        self.beat()

        def loop() -> None:
            while not self._stop.wait(self.every.total_seconds()):
                self.beat()

        self._thread = threading.Thread(target=loop, name="heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.registry.leave(self.worker_id)
        except Exception as error:  # its row shows it dead after dead_after, then goes
            logger.warning("could not remove the heartbeat of %s: %s", self.worker_id, error)
