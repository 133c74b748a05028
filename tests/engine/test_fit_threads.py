"""Threads per fit: OpenMP models run single-threaded on small data unless runtime.threads says otherwise."""

from __future__ import annotations

import pytest

from mlplat.config.compose import compose, to_plain
from mlplat.engine import fit_threads


@pytest.mark.parametrize("model, rows, explicit, expected", [
    ("hist_gb", 455, None, 1),          # the demo: one thread is 4-8x faster here
    ("hist_gb", 455, 2, 2),             # an explicit runtime.threads wins
    ("hist_gb", 500_000, None, 2),      # large enough for two
    ("xgboost", 10_000, None, 1),
    ("xgboost", 60_000, None, 2),
    ("random_forest", 455, None, 2),    # joblib threads, not OpenMP regions: no limit declared
])
def test_fit_threads_follow_the_model_config(model, rows, explicit, expected):
    overrides = [f"model={model}"] + ([f"runtime.threads={explicit}"] if explicit else [])
    cfg = to_plain(compose(overrides))
    assert fit_threads(cfg, explicit or 2, rows) == expected
