"""The same-semantics floor of the in-memory lifecycle: what any task system with our
guarantees must do per task, written as plainly as Python allows.

Per task: a fresh uuid; an enqueue that checks the key under a lock and stores the
record (a conditional write) and queues the whole record as JSON with its meta (an
enqueue id, the requeue depth); a receive that parses the JSON; a claim (status QUEUED:
a conditional write, one attempt more, a lease id and its end, timestamps); the logic; a
finish fenced by the lease id (a conditional write). No typed objects, no options, no
retries, no lease renewal, no hooks: what is left is the floor a library with our
guarantees can be measured against (``benchmarks/inmemory.py``).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

LEASE = timedelta(minutes=5)
OPEN = frozenset({"QUEUED", "ATTEMPTED", "FULFILLED", "CANCELED"})
"""Statuses a new enqueue of the same key leaves alone (a duplicate)."""


def floor(count: int, work: Callable[[int], object]) -> None:
    lock = threading.Lock()
    records: dict[str, dict[str, Any]] = {}
    queue: deque[str] = deque()
    for n in range(count):
        key = f"Trivial#{n}"
        now = datetime.now(timezone.utc).isoformat()
        record = {
            "uuid": str(uuid.uuid4()),
            "status": "QUEUED",
            "n": n,
            "version": 1,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        with lock:
            stored = records.get(key)
            if stored is not None and stored["status"] in OPEN:
                continue
            records[key] = record
        meta = {"taskType": "Trivial", "enqueueUuid": str(uuid.uuid4()), "requeueDepth": 0}
        queue.append(json.dumps({"task": record, "meta": meta}))
    while queue:
        task = json.loads(queue.popleft())["task"]
        key = f"Trivial#{task['n']}"
        moment = datetime.now(timezone.utc)
        now = moment.isoformat()
        lease_id = os.urandom(8).hex()
        with lock:
            stored = records[key]
            if stored["status"] != "QUEUED":
                continue
            claimed = {
                **stored,
                "status": "ATTEMPTED",
                "version": stored["version"] + 1,
                "attempts": stored["attempts"] + 1,
                "updated_at": now,
                "attempted_at": now,
                "lease_id": lease_id,
                "lease_until": (moment + LEASE).isoformat(),
            }
            records[key] = claimed
        work(task["n"])
        now = datetime.now(timezone.utc).isoformat()
        with lock:
            stored = records[key]
            if stored["status"] != "ATTEMPTED" or stored["lease_id"] != lease_id:
                continue
            records[key] = {
                **stored,
                "status": "FULFILLED",
                "version": stored["version"] + 1,
                "updated_at": now,
                "lease_until": None,
            }
