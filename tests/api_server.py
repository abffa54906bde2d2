"""The API served in-process by uvicorn on 127.0.0.1 (a real HTTP server over the test's model)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import uvicorn

from bench.net import free_port


@contextmanager
def running(app):
    """Serve the ASGI ``app`` on a free loopback port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise AssertionError("the API server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
