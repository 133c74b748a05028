"""Run Evidently's DataDriftPreset on frames saved by run.py (executed in Evidently's own venv).

Usage: python evidently_runner.py DIR   (DIR holds ref.parquet, cur.parquet, spec.json)
Prints one JSON line: wall seconds, tracemalloc peak bytes, per-column scores.
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def main(folder: str) -> None:
    """Time report.run() only (data loading excluded), as run.py does for mlplat."""
    base = Path(folder)
    spec = json.loads((base / "spec.json").read_text())
    ref = pd.read_parquet(base / "ref.parquet")
    cur = pd.read_parquet(base / "cur.parquet")
    definition = DataDefinition(numerical_columns=spec["numeric"], categorical_columns=spec["categorical"])
    report = Report([DataDriftPreset(per_column_method=spec["methods"])])
    ref_ds = Dataset.from_pandas(ref, data_definition=definition)
    cur_ds = Dataset.from_pandas(cur, data_definition=definition)
    if spec.get("measure") == "memory":
        tracemalloc.start()
    start = time.perf_counter()
    snapshot = report.run(cur_ds, ref_ds)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else None
    scores = {}
    for metric in snapshot.dict()["metrics"]:
        cfg = metric["config"]
        if cfg.get("type", "").endswith("ValueDrift"):
            scores[cfg["column"]] = float(metric["value"])
    print(json.dumps({"seconds": seconds, "peak_bytes": peak, "scores": scores}))


if __name__ == "__main__":
    main(sys.argv[1])
