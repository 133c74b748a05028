"""Run inside ydata-profiling's own venv (never imported by mlplat): time one profile, dump its figures.

    <ydata venv>/bin/python ydata_side.py FRAME.parquet MODE OUT.json
MODE: default | minimal (timed as configured), figures (minimal plus Pearson and Spearman, for the
side-by-side figures). Timed: ProfileReport(...).get_description(), the computation (no HTML).
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")


def _plain(v):
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, (np.integer, int)):
        return int(v)
    return None


def main() -> None:
    path, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
    from ydata_profiling import ProfileReport, __version__

    df = pd.read_parquet(path)
    kwargs = {"progress_bar": False}
    if mode in ("minimal", "figures"):
        kwargs["minimal"] = True
    if mode == "figures":
        kwargs["correlations"] = {"pearson": {"calculate": True}, "spearman": {"calculate": True}}
    t0, c0 = time.perf_counter(), time.process_time()
    desc = ProfileReport(df, **kwargs).get_description()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    result = {"version": __version__, "pandas": pd.__version__, "mode": mode, "seconds": seconds, "cpu_seconds": cpu,
              "n": int(desc.table["n"]), "n_duplicates": _plain((desc.table or {}).get("n_duplicates"))}
    if mode == "figures":
        keys = ("n", "count", "n_missing", "p_missing", "n_distinct", "mean", "std", "min", "max",
                "5%", "25%", "50%", "75%", "95%", "n_infinite", "n_zeros")
        result["variables"] = {str(c): {k: _plain(v.get(k)) for k in keys if k in v}
                               for c, v in desc.variables.items()}
        result["correlations"] = {name: {"columns": [str(c) for c in m.columns],
                                         "matrix": [[_plain(x) for x in row] for row in m.to_numpy()]}
                                  for name, m in (desc.correlations or {}).items()}
    with open(out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
