"""`mlplat check` on the shipped tree: wall time with data sampling and with --no-data.

Each run is a real subprocess (start-up, every composition, every sample), in a copy of the
shipped conf/ and data/. Targets: <= 5 s with data, <= 2 s with --no-data.

Run: python benchmarks/ci_check/run.py [--repeats 5]
Prints every time, the medians and the load average; the last line is median / target (<= 1.0 meets it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGETS = {"check": 5.0, "check --no-data": 2.0}


CPU: dict[str, list[float]] = {}


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cwd: Path, *args: str) -> float:
    """Wall seconds of one `mlplat check`; its CPU seconds go to CPU (what wall would be on an idle core)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_WAIT_POLICY": "PASSIVE"}
    c0 = _children_cpu()
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "mlplat.cli", "check", *args], cwd=cwd, env=env, capture_output=True,
                       text=True, timeout=300)
    elapsed = time.perf_counter() - t0
    CPU.setdefault(" ".join(["check", *args]), []).append(_children_cpu() - c0)
    if p.returncode != 0:
        raise SystemExit(f"mlplat check {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(REPO / "conf", root / "conf")
        shutil.copytree(REPO / "data", root / "data")
        timed(root, "--no-data")  # warm the OS file cache once
        times: dict[str, list[float]] = {name: [] for name in TARGETS}
        loads = []
        for _ in range(args.repeats):
            for name in TARGETS:
                loads.append(os.getloadavg()[0])
                times[name].append(timed(root, *name.split()[1:]))
    ratios = []
    for name, values in times.items():
        med = statistics.median(values)
        ratios.append(med / TARGETS[name])
        cpu = statistics.median(CPU[name])
        print(f"mlplat {name}: median {med:.2f} s wall (target {TARGETS[name]} s), {cpu:.2f} s CPU; "
              f"runs {', '.join(f'{v:.2f}' for v in values)}")
    print(f"load average (1 min) during the runs: {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} cores")
    print(f"worst median/target: {max(ratios):.2f}")


if __name__ == "__main__":
    main()
