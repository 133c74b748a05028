"""One run as a whole process: `mlplat train dataset=breast_cancer model=logreg` vs the same
work in a plain scikit-learn script (benchmarks/single_run/plain.py), both started fresh.

The two are alternated --rounds times in one run; each measure is the wall time of the
process and its CPU time (user + sys from getrusage of the child). The plain script runs
with the Python of its own venv (`--plain-python`, default .bench-venvs/sklearn/bin/python,
made with `python -m venv .bench-venvs/sklearn && .bench-venvs/sklearn/bin/pip install
scikit-learn pandas`); mlplat runs from this repository's interpreter in a fresh project
directory with its own SQLite store. The last line is the median wall ratio (target <= 1.3).

Run: python benchmarks/single_run/run.py [--rounds 3] [--plain-python PATH]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--plain-python", default=str(REPO / ".bench-venvs" / "sklearn" / "bin" / "python"))
    args = ap.parse_args()
    print(f"load before: {os.getloadavg()}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
    rows: list[tuple[float, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for i in range(args.rounds):
            proj = work / f"p{i}"
            proj.mkdir()
            m_env = {**env, "MLPLAT_STORE_URL": f"sqlite:///{proj / 'mlplat.db'}",
                     "MLPLAT_ARTIFACTS": str(proj / "artifacts")}
            mw, mc = timed([sys.executable, "-m", "mlplat.cli", "train", "dataset=breast_cancer", "model=logreg"],
                           proj, m_env)
            pw, pc = timed([args.plain_python, str(REPO / "benchmarks" / "single_run" / "plain.py"),
                            str(proj / "plain")], proj, env)
            rows.append((mw, mc, pw, pc))
            print(f"round {i + 1}: mlplat {mw:.2f} s wall {mc:.2f} s cpu | plain {pw:.2f} s wall {pc:.2f} s cpu "
                  f"| ratio {mw / pw:.3f}", flush=True)
    med = [statistics.median(r[k] for r in rows) for k in range(4)]
    ratios = [r[0] / r[2] for r in rows]
    print(f"load after: {os.getloadavg()}")
    print(f"median: mlplat {med[0]:.2f} s wall {med[1]:.2f} s cpu | plain {med[2]:.2f} s wall {med[3]:.2f} s cpu")
    print(f"cpu ratio mlplat/plain : {med[1] / med[3]:.3f}")
    print(f"ratio mlplat/plain : {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    main()
