"""Batch prediction benchmark: `mlplat predict` against `mlflow models predict --env-manager local`.

    python benchmarks/batch_predict/run.py --mlflow-python .bench-venvs/mlflow/bin/python [--rows 1000000] [--repeat 3]

Builds a 1M-row x 30-column file from the breast-cancer data (rows resampled with noise, so
every value is new), as CSV and Parquet. Trains the breast-cancer logistic regression and an
XGBoost model with `mlplat train`, registers and promotes both, and saves the same fitted
pipelines as MLflow models (mlflow_side.py, in MLflow's own venv). Then, alternating the
tools in each round, times the whole command and samples its peak resident memory
(the child's VmHWM, every 20 ms). Before timing, mlplat's output is checked against
the plain pipeline (`pd.read_csv` + `predict_proba`) on the same rows: labels equal and
probabilities within 1e-12. `mlflow models predict` reads CSV or JSON only, so its CSV
run is the anchor of both mlplat inputs. Writes RESULTS.md next to this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CLI = [sys.executable, "-m", "mlplat.cli"]


def sh(args: list[str], env: dict, cwd: Path) -> str:
    return subprocess.run([*CLI, *args], env=env, cwd=cwd, check=True, capture_output=True, text=True).stdout


def _hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0


def timed(cmd: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command.

    The peak is the child's VmHWM read every 20 ms: ``ru_maxrss`` from wait4 counts the
    forked copy of this (large) process before exec, so it reports this script's size."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while p.poll() is None:
        peak = max(peak, _hwm_kb(p.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode()[-2000:]
    if p.returncode:
        raise SystemExit(f"{cmd[:4]} failed ({p.returncode}): {err}")
    return wall, peak / 1024


def make_data(tmp: Path, rows: int) -> tuple[Path, Path, list[str]]:
    from sklearn.datasets import load_breast_cancer

    X = load_breast_cancer(as_frame=True).frame.drop(columns=["target"])
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(X), rows)
    base = X.to_numpy()[idx]
    noisy = base * rng.normal(1.0, 0.02, base.shape)  # still >= 0 where the schema says min 0
    noisy[:, X.columns.get_loc("worst concave points")] = np.clip(noisy[:, X.columns.get_loc("worst concave points")], 0, 1)
    df = pd.DataFrame(noisy, columns=X.columns)
    csv, parquet = tmp / "in.csv", tmp / "in.parquet"
    df.to_csv(csv, index=False)
    df.to_parquet(parquet, index=False)
    return csv, parquet, list(X.columns)


def train(tmp: Path, env: dict, url: str, model: str, name: str) -> Path:
    sh(["train", "dataset=breast_cancer", "evaluation=fast", f"model={model}", f"tracking.url={url}",
        f"tracking.artifacts={tmp / 'artifacts'}"], env, tmp)
    run = json.loads(sh(["runs", "list", "--format", "json", "--model", model], env, tmp))[0]
    sh(["models", "register", run["id"], "--name", name], env, tmp)
    req = json.loads(sh(["models", "promote", name, "1", "--to", "staging", "--format", "json"], env, tmp))
    assert req["status"] == "approved", req
    return tmp / "artifacts" / run["id"] / "model.joblib"


def check_identical(model_path: Path, csv: Path, scored: Path) -> str:
    import joblib

    pipeline = joblib.load(model_path)
    X = pd.read_csv(csv)
    proba = pipeline.predict_proba(X)
    labels = np.asarray(pipeline.classes_)[proba.argmax(axis=1)]
    out = pd.read_parquet(scored) if scored.suffix == ".parquet" else pd.read_csv(scored)
    assert (out["prediction"].to_numpy() == labels).all(), "labels differ from the plain pipeline"
    got = out[[f"proba.{c}" for c in pipeline.classes_]].to_numpy()
    diff = float(np.abs(got - proba).max())
    assert diff <= 1e-12, f"probabilities differ from the plain pipeline by {diff}"
    exact = bool((got == proba).all())
    return "identical (bit for bit)" if exact else f"labels identical, probabilities within {diff:.1e}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlflow-python", help="python of MLflow's venv (.bench-venvs/mlflow/bin/python)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--models", default="logreg,xgboost")
    ap.add_argument("--no-write", action="store_true", help="do not rewrite RESULTS.md")
    args = ap.parse_args()

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="mlplat-batch-"))
    url = f"sqlite:///{tmp}/mlplat.db"
    env = {**os.environ, "MLPLAT_STORE_URL": url, "MLPLAT_ARTIFACTS": str(tmp / "artifacts"), "MLPLAT_ACTOR": "bench"}
    csv, parquet, _cols = make_data(tmp, args.rows)
    print(f"data: {args.rows} rows, CSV {csv.stat().st_size / 1e6:.0f} MB, Parquet {parquet.stat().st_size / 1e6:.0f} MB",
          flush=True)
    results: dict[str, dict[str, list[tuple[float, float]]]] = {}
    checks: dict[str, str] = {}
    for model in args.models.split(","):
        name = f"bc_{model}"
        path = train(tmp, env, url, model, name)
        sides = {
            "mlplat CSV -> Parquet": [*CLI, "predict", f"{name}@staging", "--input", str(csv), "--output",
                                      str(tmp / f"{name}.parquet")],
            "mlplat Parquet -> Parquet": [*CLI, "predict", f"{name}@staging", "--input", str(parquet), "--output",
                                          str(tmp / f"{name}.pq.parquet")],
            "mlplat CSV -> CSV": [*CLI, "predict", f"{name}@staging", "--input", str(csv), "--output",
                                  str(tmp / f"{name}.csv")],
        }
        if args.mlflow_python:
            mdir = tmp / f"mlflow_{model}"
            subprocess.run([os.path.abspath(args.mlflow_python), str(HERE / "mlflow_side.py"), str(path), str(mdir)], check=True,
                           capture_output=True)
            mlflow = os.path.join(os.path.dirname(os.path.abspath(args.mlflow_python)), "mlflow")
            sides["mlflow CSV -> CSV"] = [mlflow, "models", "predict", "-m", str(mdir), "-i", str(csv), "-o",
                                          str(tmp / f"{name}.mlflow.csv"), "-t", "csv", "--env-manager", "local"]
        mlflow_env = {**env, "PYTHONPATH": str(REPO)}  # the pickle's LabelEncoded wrapper
        results[model] = {k: [] for k in sides}
        for r in range(args.repeat):
            for label, cmd in sides.items():
                wall, rss = timed(cmd, mlflow_env if label.startswith("mlflow") else env, tmp)
                results[model][label].append((wall, rss))
                print(f"{model} round {r + 1} {label}: {wall:.2f} s, {rss:.0f} MB", flush=True)
            if r == 0:
                checks[model] = check_identical(path, csv, tmp / f"{name}.parquet")
                check_identical(path, csv, tmp / f"{name}.pq.parquet")
                print(f"{model}: output vs plain pipeline: {checks[model]}", flush=True)
    load_after = os.getloadavg()
    report = render(results, checks, args, load_before, load_after)
    print(report)
    if not args.no_write:
        (HERE / "RESULTS.md").write_text(report)
    for model, sides in results.items():
        if "mlflow CSV -> CSV" in sides:
            m = statistics.median(w for w, _ in sides["mlflow CSV -> CSV"])
            p = statistics.median(w for w, _ in sides["mlplat CSV -> Parquet"])
            print(f"{model}: mlflow/mlplat time ratio {m / p:.2f}")


def render(results, checks, args, before, after) -> str:
    lines = ["# Batch prediction benchmark", "",
             f"`python benchmarks/batch_predict/run.py --mlflow-python .bench-venvs/mlflow/bin/python` on "
             f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}), "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
             f"{args.rows:,} rows x 30 columns (breast-cancer features resampled with noise); "
             f"{args.repeat} rounds, the tools alternating in each round; median and range of wall time and of the "
             "command's peak RSS.",
             f"Machine load average (1/5/15 min) before: {before[0]:.2f}/{before[1]:.2f}/{before[2]:.2f}, after: "
             f"{after[0]:.2f}/{after[1]:.2f}/{after[2]:.2f}.", ""]
    for model, sides in results.items():
        lines += [f"## {model}", "", f"Output vs the plain pipeline on the same rows: {checks.get(model, 'not checked')}.",
                  "", "| command | wall s (median) | range | peak RSS MB (median) | range |", "|---|---:|---:|---:|---:|"]
        for label, vals in sides.items():
            w = [v[0] for v in vals]
            m = [v[1] for v in vals]
            lines.append(f"| {label} | {statistics.median(w):.2f} | {min(w):.2f}-{max(w):.2f} | "
                         f"{statistics.median(m):.0f} | {min(m):.0f}-{max(m):.0f} |")
        if "mlflow CSV -> CSV" in sides:
            mw = statistics.median(v[0] for v in sides["mlflow CSV -> CSV"])
            mm = statistics.median(v[1] for v in sides["mlflow CSV -> CSV"])
            lines += [""]
            for label in [k for k in sides if k.startswith("mlplat")]:
                pw = statistics.median(v[0] for v in sides[label])
                pm = statistics.median(v[1] for v in sides[label])
                lines.append(f"- {label}: {mw / pw:.2f}x faster than MLflow, peak memory {pm / mm:.2f} of MLflow's")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
