"""An ASGI app served by uvicorn on 127.0.0.1 and a free port, in a thread, for the tests
that talk to it over real HTTP (the dashboard in Chromium, the FastAPI example)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from simple_async_tasks.testing._ports import free_port


@contextmanager
def serving(asgi: Any) -> Iterator[str]:
    """Serve ``asgi`` until the block ends; yield its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
