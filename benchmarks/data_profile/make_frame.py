"""The benchmark's frame: n rows x (15 numeric, 4 categorical, 1 datetime) with missing values, fixed seed.

Also importable by the tests (a smaller n) so the figures they check come from the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_frame(n: int, *, seed: int = 0, extra_numeric: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=n)
    cols: dict[str, object] = {}
    for i in range(15 + extra_numeric):
        kind = i % 5
        if kind == 0:
            x = base * (i + 1) + rng.normal(size=n)  # correlated with the others through base
        elif kind == 1:
            x = np.exp(rng.normal(size=n))  # skewed
        elif kind == 2:
            x = rng.integers(0, 100, n).astype(np.float64)  # many ties
        elif kind == 3:
            x = rng.uniform(-5, 5, n)
        else:
            x = np.round(rng.normal(50, 10, n), 1)
        if i % 3 != 2:  # two columns in three have gaps; the rest are complete
            x[rng.random(n) < 0.02 + 0.01 * (i % 4)] = np.nan
        cols[f"num_{i:02d}"] = x
    cats = {"cat_region": ["north", "south", "east", "west"],
            "cat_plan": ["basic", "plus", "pro", "team", "enterprise"],
            "cat_channel": [f"ch{i}" for i in range(12)],
            "cat_segment": [f"s{i:03d}" for i in range(60)]}
    for j, (name, values) in enumerate(cats.items()):
        codes = rng.integers(0, len(values), n)
        arr = np.asarray(values, dtype=object)[codes]
        arr[rng.random(n) < 0.01 * (j + 1)] = None
        cols[name] = pd.array(arr, dtype="str")
    start = np.datetime64("2024-01-01T00:00:00", "s").astype(np.int64)
    ts = start + np.sort(rng.integers(0, 365 * 86400, n))
    when = pd.Series(pd.to_datetime(ts, unit="s"))
    when[rng.random(n) < 0.01] = pd.NaT
    cols["event_time"] = when.to_numpy()
    return pd.DataFrame(cols)
