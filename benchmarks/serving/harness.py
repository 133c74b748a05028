"""What the service benchmarks share (benchmarks/serving, benchmarks/serve_workers): the CLI
in a subprocess and a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "mlplat.cli"]
LOADGEN = Path(__file__).resolve().parent / "loadgen.py"


def sh(args: list[str], env: dict, cwd: Path) -> str:
    return subprocess.run([*CLI, *args], env=env, cwd=cwd, check=True, capture_output=True, text=True).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
