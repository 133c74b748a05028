"""The store_scale population (benchmarks/store_scale/run.py) in stores the UI benchmark reuses.

Each store is populated once through the store's own API and kept in the work directory;
later runs only time queries.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "store_scale"))

from run import fresh_pg_database, open_populated, synthetic_runs  # noqa: E402  (benchmarks/store_scale/run.py)


def sqlite_store(workdir: Path, n: int):
    """(store, url, write rate or None when populated earlier) holding ``n`` store_scale runs."""
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir}/ui_{n}.db"
    store, rate = open_populated(url, synthetic_runs(n), str(workdir / "artifacts"))
    return store, url, rate


def pg_store(workdir: Path, n: int):
    """The same on PostgreSQL at 127.0.0.1:5432 (database mlplat_ui_bench_<n>)."""
    url = fresh_pg_database(f"mlplat_ui_bench_{n}")
    store, rate = open_populated(url, synthetic_runs(n), str(workdir / "artifacts"))
    return store, url, rate


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="populate the UI benchmark's SQLite stores")
    ap.add_argument("--runs", type=int, nargs="+", default=[100_000, 10_000])
    ap.add_argument("--workdir", default="/tmp/mlplat_ui_bench")
    args = ap.parse_args()
    for n in args.runs:
        _store, url, rate = sqlite_store(Path(args.workdir), n)
        print(url, f"{rate:,.0f} runs/s" if rate else "populated earlier", flush=True)
