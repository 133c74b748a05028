"""Several service processes behind one port (`mlplat serve --workers N`): what they share.

uvicorn's own supervisor runs them (``uvicorn.run("module:factory", factory=True,
workers=N)``): the parent binds the port once, starts N processes that accept on it,
restarts one that dies, and on SIGTERM/SIGINT stops each gracefully (each worker's
shutdown flushes its prediction log). Each worker builds its own app from the spec the
parent put in the environment (``SPEC_ENV``), so each loads the served version itself
(sha256 verified) and follows the alias on its own poller.

Prometheus metrics: prometheus_client's multiprocess mode. ``PROMETHEUS_MULTIPROC_DIR``
must be set before the workers import prometheus_client; each writes its values to files
there and whichever worker answers ``/metrics`` sums them (``Metrics.exposition``). The
folder is per service (``serving.metrics_dir/<port>``) and emptied at start, since files
left by an earlier run would be summed in.
"""

from __future__ import annotations

import os
from pathlib import Path

SPEC_ENV = "MLPLAT_SERVE_WORKER_SPEC"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WORKER_HEADER = b"x-mlplat-worker"


def prepare_metrics_dir(path: str | Path) -> Path:
    """``path`` created and emptied of an earlier run's metric files (only prometheus_client's ``*.db``)."""
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    for f in d.glob("*.db"):
        f.unlink(missing_ok=True)
    return d


class WorkerHeader:
    """ASGI middleware: every response says which worker process answered (``X-Mlplat-Worker: <pid>``)."""

    def __init__(self, app):
        self.app = app
        self.header = (WORKER_HEADER, str(os.getpid()).encode())

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_header(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        return await self.app(scope, receive, send_with_header)
