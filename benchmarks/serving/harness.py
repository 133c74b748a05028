"""What the service benchmarks share (benchmarks/serving, benchmarks/serve_workers): the CLI
in a subprocess, a free loopback port, waiting for a server, one load-generator run."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-m", "mlplat.cli"]
LOADGEN = Path(__file__).resolve().parent / "loadgen.py"


def sh(args: list[str], env: dict, cwd: Path) -> str:
    return subprocess.run([*CLI, *args], env=env, cwd=cwd, check=True, capture_output=True, text=True).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, server: subprocess.Popen, *, timeout: float, what: str) -> None:
    """Until ``url`` answers 200; SystemExit naming ``what`` if it has not by ``timeout`` s or the server exited."""
    import httpx

    deadline = time.time() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.time() > deadline or server.poll() is not None:
            raise SystemExit(f"{what} did not become ready")
        time.sleep(0.2)


def load(base: str, records: Path, rows: int, conc: int, rate: float, seconds: float, *endpoint: str) -> dict:
    """One loadgen.py run (its own process) against ``base``: n, errors, rps, p50, p95, p99."""
    out = subprocess.run([sys.executable, str(LOADGEN), base, str(records), str(rows), str(conc), str(rate),
                          str(seconds), *endpoint], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)
