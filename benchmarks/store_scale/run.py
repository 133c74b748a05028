"""The store at team scale: populate N runs through the store's API, time the queries users make.

    python benchmarks/store_scale/run.py                       # 100,000 runs, SQLite + PostgreSQL
    python benchmarks/store_scale/run.py --mlflow-python .bench-venvs/mlflow/bin/python

Each run has 4 metrics, 5 params and 3 tags, across 50 sweeps and 5 datasets. Each query's
figure is the median of 5 timings after one warm-up. With --mlflow-python, MLflow's SQLite
store gets the same runs (``mlflow_side.py`` in that interpreter) and its ``search_runs``
is timed on the same two leaderboard queries; the last line printed is a ratio
(MLflow / mlplat, filtered top-10 at the same run count).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from mlplat.tracking import runs
from mlplat.tracking.store import Store

HERE = Path(__file__).resolve().parent
DATASETS = ["adult", "wage", "churn", "credit", "housing"]
MODELS = ["logreg", "knn", "random_forest", "xgboost", "hist_gb"]
METRICS = ["roc_auc", "accuracy", "f1", "log_loss"]
N_SWEEPS = 50
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def synthetic_runs(n: int, seed: int = 0) -> list[dict]:
    """Plain descriptions of ``n`` runs; both mlplat and MLflow are fed from this one list."""
    rng = random.Random(seed)
    t0 = time.time() - 365 * 86400
    per_sweep = max(1, n // N_SWEEPS)
    out = []
    for i in range(n):
        sweep = min(i // per_sweep, N_SWEEPS - 1)
        auc = round(rng.uniform(0.6, 0.99), 4)  # 4 decimals: plenty of ties, as real scores have
        out.append({
            "id": uuid.UUID(int=rng.getrandbits(128)).hex[:16] + f"{i:016x}"[-16:],
            "sweep": f"sweep{sweep:02d}", "job_num": i % per_sweep,
            "dataset": DATASETS[sweep % len(DATASETS)], "model": MODELS[i % len(MODELS)],
            "started_at": t0 + i * (365 * 86400 / n),
            "metrics": {"roc_auc": auc, "accuracy": round(auc - rng.uniform(0, 0.1), 4),
                        "f1": round(auc - rng.uniform(0, 0.2), 4), "log_loss": round(rng.uniform(0.05, 0.7), 4)},
            "params": {"C": rng.choice([0.01, 0.1, 1.0, 10.0]), "max_depth": rng.randint(2, 12),
                       "n_estimators": rng.choice([100, 200, 400]), "learning_rate": rng.choice([0.03, 0.1, 0.3]),
                       "seed": rng.randint(0, 9)},
            "tags": {"team": rng.choice(["fraud", "pricing"]), "purpose": "bench", "batch": str(i // 1000)},
        })
    return out


def _record(d: dict) -> runs.RunRecord:
    start = runs.RunStart(
        id=d["id"], experiment=f"exp_{d['dataset']}", actor="bench", source="bench", config={}, overrides=[],
        config_hash="0" * 64, code_version="bench", code_dirty=False, package_versions={}, dataset=d["dataset"],
        model=d["model"], features="standard", task="classification", primary_metric="roc_auc",
        sweep_id=d["sweep"], job_num=d["job_num"], tags=d["tags"], params=d["params"])
    result = runs.RunResult(cv={k: (v, 0.01) for k, v in d["metrics"].items()}, folds=[], holdout={},
                            primary_value=d["metrics"]["roc_auc"], fit_time_s=1.0, duration_s=2.0,
                            dataset_fingerprint="f" * 64, artifact_dir="", artifacts=[])
    return runs.RunRecord(start=start, result=result, started_at=d["started_at"], ended_at=d["started_at"] + 2)


def populate(store: Store, data: list[dict]) -> float:
    """Write every run through the store's API, one batch per sweep; returns runs per second."""
    t = time.perf_counter()
    by_sweep: dict[str, list[dict]] = {}
    for d in data:
        by_sweep.setdefault(d["sweep"], []).append(d)
    for sweep_id, items in by_sweep.items():
        runs.create_sweep(store, sweep_id, command="bench", actor="bench", source="bench",
                          experiment=f"exp_{items[0]['dataset']}")
        runs.record_runs_batch(store, [_record(d) for d in items])
        runs.close_sweep(store, sweep_id, actor="bench", source="bench")
    rate = len(data) / (time.perf_counter() - t)
    if store.dialect == "postgresql":
        with store.write() as conn:
            conn.execute(sa.text("ANALYZE"))
    return rate


def median_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    fn()  # warm-up: caches, prepared plans
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def queries(store: Store) -> dict[str, Callable[[], object]]:
    done = {"status": "done"}  # what `mlplat leaderboard` passes by default
    return {
        "leaderboard top-10": lambda: runs.leaderboard(store, metric="roc_auc", top=10, filters=done),
        "leaderboard top-10, dataset+model": lambda: runs.leaderboard(
            store, metric="roc_auc", top=10, filters={**done, "dataset": "wage", "model": "xgboost"}),
        "a sweep's trials (page 1 of 100)": lambda: runs.sweep_trials(store, "sweep07", page_size=100),
        "a sweep's trials (all 2,000, info)": lambda: runs.sweep_trials(store, "sweep07", page_size=100_000),
        "runs list page 100": lambda: runs.list_runs(store, page=100, page_size=20),
    }


def time_queries(store: Store) -> dict[str, float]:
    return {name: median_ms(fn) for name, fn in queries(store).items()}


def time_cli(url: str, store: Store, repeat: int = 5) -> dict[str, tuple[float, float]]:
    """Whole-process commands (start-up included): median wall and CPU ms.

    Timed as a user runs them (the store from MLPLAT_STORE_URL, i.e. the config's tracking
    default, in an empty working directory), which reads over the bare driver
    (mlplat.tracking.direct); and, for comparison, the leaderboard with that path switched
    off, through the Store and SQLAlchemy. Before timing, each command's JSON output is
    checked against the Store's own answer. CPU time (user + system of the child) is
    reported next to wall time because on a shared 2-core machine the wall time mostly
    measures how long the process waited for a core.
    """
    mlplat = Path(sys.executable).with_name("mlplat")
    models, requests = seed_registry(store)
    board = [r["id"] for r in runs.leaderboard(store, metric="roc_auc", top=10, filters={"status": "done"})]
    page = [r["id"] for r in runs.list_runs(store, page=3, page_size=50, filters={"status": "done"})]
    commands = [
        ("`mlplat leaderboard --top 10` process", ["leaderboard", "--top", "10"], {}, board),
        ("same, through the Store (info)", ["leaderboard", "--top", "10"], {"MLPLAT_NO_DIRECT_READ": "1"}, board),
        ("`runs list --page 3 --page-size 50` (info)",
         ["runs", "list", "--status", "done", "--page", "3", "--page-size", "50"], {}, page),
        # the other read-only commands (issue: <= 0.3 s CPU each as a whole process at 100,000 runs)
        ("`models list`", ["models", "list"], {}, models),
        ("`approvals list`", ["approvals", "list"], {}, requests),
        ("`audit log`", ["audit", "log"], {}, None),
        ("`monitor history bench`", ["monitor", "history", "bench"], {}, None),
    ]
    results = {}
    with tempfile.TemporaryDirectory() as cwd:
        for label, args, extra, expected in commands:
            env = {**os.environ, "MLPLAT_STORE_URL": url, **extra}
            out = json.loads(subprocess.run([str(mlplat), *args, "--format", "json"], cwd=cwd, env=env,
                                            check=True, capture_output=True, text=True).stdout)
            rows = out["rows"] if isinstance(out, dict) else out
            got = [r.get("id", r.get("name")) for r in rows]
            if expected is None:
                expected = [r.get("id", r.get("seq")) for r in rows] if rows else []
                got = expected
                if not rows and "audit" in label:
                    raise SystemExit(f"{label}: no entries (the populated store has one per run)")
            if got != expected:
                raise SystemExit(f"{label}: the command answered {got}, the Store {expected}")
            cpu: list[float] = []

            def once(env: dict = env, cpu: list = cpu, args: list = args) -> None:
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run([str(mlplat), *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)

            wall = median_ms(once, repeat)
            results[label] = (wall, statistics.median(cpu[1:]))
    return results


def seed_registry(store: Store) -> tuple[list[str], list[str]]:
    """A registered model with two versions' worth of registry rows, a promotion request and two
    monitoring checks (idempotent): what the read commands list. Returns (models, request ids)."""
    from mlplat.monitoring.schema import monitor_checks
    from mlplat.registry.schema import approval_requests, registered_models

    with store.write() as conn:
        if not conn.execute(sa.select(registered_models.c.name).where(registered_models.c.name == "bench")).first():
            t = time.time()
            conn.execute(registered_models.insert().values(name="bench", created_at=t, latest_version=2))
            conn.execute(approval_requests.insert().values(
                id="req-bench", name="bench", version=2, target="production", status="pending", requester="ana",
                source="cli", created_at=t, expires_at=t + 10 * 365 * 86400, approvals_needed=1, evidence="{}"))
            conn.execute(monitor_checks.insert(), [
                {"created_at": t + i, "kind": "drift", "model": "bench", "version": 2, "status": "ok",
                 "features": "{}", "summary": "{}", "actor": "bench", "source": "cli"} for i in range(2)])
        names = [r[0] for r in conn.execute(sa.select(registered_models.c.name).order_by(registered_models.c.name))]
        ids = [r[0] for r in conn.execute(sa.select(approval_requests.c.id)
                                          .order_by(approval_requests.c.created_at.desc()).limit(100))]
    return names, ids


def open_populated(url: str, data: list[dict], artifacts: str) -> tuple[Store, float | None]:
    store = Store.open(url, artifacts)
    with store.read() as conn:
        have = conn.execute(sa.select(sa.func.count()).select_from(runs.runs)).scalar_one()
    if have == len(data):
        return store, None  # reuse a store this script populated before
    if have:
        raise SystemExit(f"{store.safe_url} holds {have} runs, not {len(data)}: delete it or pass another path")
    return store, populate(store, data)


def fresh_pg_database(name: str) -> str:
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def report(label: str, n: int, rate: float | None, timings: dict[str, float],
           cli: dict[str, tuple[float, float]]) -> None:
    print(f"\n{label}, {n:,} runs" + (f": wrote {rate:,.0f} runs/s" if rate else " (populated earlier)"))
    for name, ms in timings.items():
        verdict = "" if "info" in name else "ok" if ms <= 50 else "OVER 50 ms"
        print(f"  {name:<40} {ms:8.1f} ms  {verdict}")
    for name, (wall, cpu) in cli.items():
        verdict = "" if "info" in name else (f"{'ok' if wall <= 500 else 'OVER 0.5 s wall'}"
                                             f"{'' if cpu <= 300 else ', OVER 0.3 s CPU'}")
        print(f"  {name:<40} {wall:8.1f} ms wall, {cpu:.0f} ms CPU  {verdict}  "
              f"(load average {os.getloadavg()[0]:.1f})")


def mlflow_side(python: str, n: int, workdir: Path) -> dict:
    data_file = workdir / f"runs_{n}.json"
    data_file.write_text(json.dumps(synthetic_runs(n)))
    out = subprocess.run([python, str(HERE / "mlflow_side.py"), str(data_file), str(workdir / f"mlflow_{n}")],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--workdir", default="/tmp/mlplat_store_scale", help="where the stores are kept (reused)")
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--mlflow-python", help="python of a venv with mlflow installed")
    ap.add_argument("--mlflow-runs", type=int, default=10_000, help="runs for the MLflow comparison")
    args = ap.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start (other work shares the machine)")
    data = synthetic_runs(args.runs)

    sqlite_url = f"sqlite:///{workdir}/mlplat_{args.runs}.db"
    store, rate = open_populated(sqlite_url, data, str(workdir / "artifacts"))
    report("SQLite", args.runs, rate, time_queries(store), time_cli(sqlite_url, store))
    if not args.skip_pg:
        pg_url = fresh_pg_database(f"mlplat_bench_{args.runs}")
        store, rate = open_populated(pg_url, data, str(workdir / "artifacts"))
        report("PostgreSQL", args.runs, rate, time_queries(store), time_cli(pg_url, store))
    if args.mlflow_python:
        n = args.mlflow_runs
        small = synthetic_runs(n)
        store, rate = open_populated(f"sqlite:///{workdir}/mlplat_{n}.db", small, str(workdir / "artifacts"))
        ours = time_queries(store)
        theirs = mlflow_side(args.mlflow_python, n, workdir)
        print(f"\nMLflow {theirs['version']} SQLite store, {n:,} runs: wrote {theirs['rate']:,.0f} runs/s")
        ratio = 0.0
        for name, key in (("leaderboard top-10", "top10"), ("leaderboard top-10, dataset+model", "top10_filtered")):
            ratio = theirs[key] / ours[name]
            print(f"  {name:<40} MLflow {theirs[key]:9.1f} ms   mlplat {ours[name]:6.1f} ms")
        print(f"ratio MLflow/mlplat, leaderboard top-10 at {n:,} runs: "
              f"{theirs['top10'] / ours['leaderboard top-10']:.0f}x")
        print(f"ratio MLflow/mlplat, filtered leaderboard top-10 at {n:,} runs: {ratio:.0f}x")


if __name__ == "__main__":
    main()
