"""examples/fastapi_app.py (issue 16): a FastAPI endpoint that enqueues without blocking
the server's event loop (a slow store does not hold up other requests), and the async
task it enqueues run by the worker. Served by uvicorn on 127.0.0.1, over real HTTP."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .cli_app import run_cli
from .serving import serving


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    from examples import fastapi_app

    fastapi_app.tasks.use(f"sqlite:///{tmp_path / 'tasks.db'}")
    try:
        with serving(fastapi_app.api) as base:
            yield base, fastapi_app
    finally:
        fastapi_app.tasks.use("memory://")


def call(url: str, method: str = "GET") -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    return body, time.monotonic() - started


def health_while_enqueueing(base: str) -> tuple[float, float]:
    """Send one receipt request, and ask /health while it is in flight: (how long the
    enqueue took, how long the slowest health check took)."""
    took: dict[str, float] = {}

    def post() -> None:
        body, took["post"] = call(base + "/orders/o-1/receipt?email=ada@example.com", "POST")
        assert body["status"] == "QUEUED"

    poster = threading.Thread(target=post)
    poster.start()
    time.sleep(0.1)  # the enqueue is waiting on the store now
    slowest = max(call(base + "/health")[1] for _ in range(3))
    poster.join(30)
    return took["post"], slowest


def slow_saves(monkeypatch: pytest.MonkeyPatch, app: Any) -> None:
    """Make the store take 0.8 s per save, as a slow network or disk would."""
    dao = app.tasks.dao(app.SendReceipt)
    original = dao.save

    def save(task: Any, *, condition: Any) -> Any:
        time.sleep(0.8)
        return original(task, condition=condition)

    monkeypatch.setattr(dao, "save", save)


def test_other_requests_are_served_while_an_enqueue_waits_on_a_slow_store(served, monkeypatch):
    base, app = served
    slow_saves(monkeypatch, app)
    post, slowest_health = health_while_enqueueing(base)
    assert post >= 0.7
    assert slowest_health < 0.4  # served while the enqueue waited

    # the same endpoint with the sync enqueue blocks the loop: the check can fail
    monkeypatch.setattr(
        app.send_receipt, "aenqueue", _blocking(app.send_receipt.enqueue), raising=False
    )
    app.tasks.dao(app.SendReceipt).delete("o-1", condition=_any())
    post, slowest_health = health_while_enqueueing(base)
    assert slowest_health >= 0.5


def _blocking(enqueue: Any) -> Any:
    async def aenqueue(**fields: Any) -> Any:
        return enqueue(**fields)  # the mistake aenqueue avoids: I/O in the loop

    return aenqueue


def _any() -> Any:
    from simple_async_tasks.conditions import status_in
    from simple_async_tasks.task import AsyncTaskStatus

    return status_in(*AsyncTaskStatus)


def test_the_worker_runs_the_async_task_the_endpoint_enqueued(served, tmp_path):
    base, app = served
    first, _ = call(base + "/orders/o-2/receipt?email=grace@example.com", "POST")
    again, _ = call(base + "/orders/o-2/receipt?email=grace@example.com", "POST")
    assert first["task"] == again["task"]  # a retried request is a duplicate
    env = {"SIMPLE_ASYNC_TASKS_BACKEND": f"sqlite:///{tmp_path / 'tasks.db'}"}
    out = run_cli(
        "worker", "examples.fastapi_app:tasks", "--until-idle", "1", "--poll-wait", "0.1",
        env={**env, "TASKS_URL": env["SIMPLE_ASYNC_TASKS_BACKEND"]},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert app.send_receipt.result("o-2") == "receipt of o-2 sent to grace@example.com"
