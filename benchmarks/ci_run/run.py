"""`mlplat ci run` overhead over `mlplat train` for the same experiment.

Both are real subprocesses in the same temporary git repository (a copy of conf/ and data/),
on the same store, alternating: `mlplat train experiment=X` vs `mlplat ci run experiment=X`
(training + comparison with the production version + gates + the markdown report and its
chart + the audit entry). A production version of X is registered first so the comparison
runs in full. Target: ci run <= 1.10 x train.

Run: python benchmarks/ci_run/run.py [--experiment churn_baseline] [--repeats 5]
The last line is the ratio of the medians, ci run / train.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CPU: dict[str, list[float]] = {}
GIT = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cwd: Path, env: dict, *args: str, actor: str | None = None) -> tuple[float, str]:
    """(wall seconds, stdout); the CPU seconds of the process are appended to CPU[args[0]]."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "mlplat.cli", *args], cwd=cwd, capture_output=True, text=True,
                       timeout=900, env={**env, **({"MLPLAT_ACTOR": actor} if actor else {})})
    elapsed = time.perf_counter() - t0
    CPU.setdefault(args[0], []).append(_children_cpu() - c0)
    if p.returncode != 0:
        raise SystemExit(f"mlplat {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}")
    return elapsed, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--experiment", default="churn_baseline")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        shutil.copytree(REPO / "conf", root / "conf")
        shutil.copytree(REPO / "data", root / "data")
        for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
            subprocess.run(["git", *cmd], cwd=root, check=True, env={**os.environ, **GIT})
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLPLAT_")}
        env.update({"PYTHONPATH": str(REPO), "OMP_WAIT_POLICY": "PASSIVE", "MLPLAT_STORE_URL":
                    f"sqlite:///{Path(tmp) / 'm.db'}", "MLPLAT_ARTIFACTS": str(Path(tmp) / "art")})
        model = args.experiment if args.experiment != "churn_baseline" else "churn"
        # a fresh store: production gets the experiment's first run
        run(root, env, "train", f"experiment={args.experiment}")
        run_id = json.loads(run(root, env, "runs", "list", "--format", "json")[1])[0]["id"]
        run(root, env, "models", "register", run_id, "--name", model)
        req = json.loads(run(root, env, "models", "promote", model, "1", "--to", "production", "--format",
                             "json", actor="bob")[1])
        run(root, env, "approve", req["id"], actor="alice")
        CPU.clear()
        train, ci, loads = [], [], []
        for _ in range(args.repeats):
            loads.append(os.getloadavg()[0])
            train.append(run(root, env, "train", f"experiment={args.experiment}")[0])
            loads.append(os.getloadavg()[0])
            ci.append(run(root, env, "ci", "run", f"experiment={args.experiment}", "--report", "r.md")[0])
    mt, mc = statistics.median(train), statistics.median(ci)
    print(f"mlplat train experiment={args.experiment}: median {mt:.2f} s; runs {', '.join(f'{v:.2f}' for v in train)}")
    print(f"mlplat ci run experiment={args.experiment}: median {mc:.2f} s; runs {', '.join(f'{v:.2f}' for v in ci)}")
    ct, cc = statistics.median(CPU["train"][-len(train):]), statistics.median(CPU["ci"])
    print(f"CPU seconds (median): train {ct:.2f}, ci run {cc:.2f}; ratio {cc / ct:.3f}")
    print(f"load average (1 min) during the runs: {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} cores")
    print(f"ci run / train: {mc / mt:.3f}")


if __name__ == "__main__":
    main()
