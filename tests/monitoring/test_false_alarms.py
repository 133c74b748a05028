"""Monitoring without false alarms: in-distribution batches of every bundled dataset, checked
against the reference the engine stores, raise overall drift in at most 5% of checks.

Each dataset is trained once in-process by the engine (default settings, a private SQLite
store), its stored profile.json and model.joblib are read back, and 50 random batches of the
dataset's own rows are checked with the default monitor settings. Before the reference
predictions were the cross-validation's out-of-fold outputs (they were the holdout's few
rows) and before the check's p-values were adjusted for multiple tests, churn's batches
raised drift in 9 of 50 checks, synthetic_regression's in 17.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.model_selection import cross_val_predict

from mlplat import engine
from mlplat.data import sources
from mlplat.evaluation import cv as cvmod
from mlplat.evaluation.metrics import metrics_for
from mlplat.monitoring import settings as mset
from mlplat.monitoring.drift import check_drift
from mlplat.ops.common import compose_plain

REPO = Path(__file__).resolve().parents[2]
DATASETS = sorted(p.stem for p in (REPO / "conf" / "dataset").glob("*.yaml"))
SEEDS = 50
BATCH = 200


@pytest.fixture
def in_repo(monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith(("MLPLAT_", "HYDRA_"))]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(REPO)


@pytest.mark.parametrize("dataset", DATASETS)
def test_in_distribution_batches_raise_no_drift(dataset, tmp_path, in_repo):
    cfg = compose_plain([f"dataset={dataset}", f"tracking.url=sqlite:///{tmp_path / 'store.db'}",
                         f"tracking.artifacts={tmp_path / 'artifacts'}"])
    run = engine.run_experiment(cfg, engine.RunContext(actor="test"))
    folder = tmp_path / "artifacts" / run.run_id
    profile = json.loads((folder / "profile.json").read_text())
    model = joblib.load(folder / "model.joblib")
    X, _, _ = engine.prepare_xy(sources.load(cfg["dataset"]), cfg["dataset"])
    # the reference outputs are out-of-fold predictions of every training row, not the holdout's
    n_train = len(X) - math.ceil(len(X) * float(cfg["evaluation"]["test_size"]))  # as train_test_split
    assert profile["predictions"]["prediction"]["n"] == profile["n_rows"] == n_train

    n = min(BATCH, len(X) // 2)
    rng = np.random.default_rng(0)
    rows = np.concatenate([rng.choice(len(X), n, replace=False) for _ in range(SEEDS)])
    outputs = engine.monitored_output(model, X.iloc[rows], cfg["dataset"]["task"])  # one predict for all batches
    config = {**mset.drift_config(mset.load(cfg["monitor"])), "n_jobs": 1}
    alarms = []
    for seed in range(SEEDS):
        part = slice(seed * n, (seed + 1) * n)
        result = check_drift(profile, X.iloc[rows[part]], config=config, predictions=outputs[part])
        assert result.status != "error"
        if result.status == "drift":
            alarms.append(result.verdict)
    assert len(alarms) <= 0.05 * SEEDS, f"{dataset}: {len(alarms)}/{SEEDS} false alarms: {alarms[:3]}"


def test_out_of_fold_outputs_are_cross_val_predict_on_the_same_folds(in_repo):
    cfg = compose_plain(["dataset=breast_cancer"])
    X, y, labels = engine.prepare_xy(sources.load(cfg["dataset"]).iloc[:300], cfg["dataset"])
    pipeline = engine.build_pipeline(cfg, X, "classification", 1, labels)
    folds = cvmod.make_folds("classification", 5, True, 42)
    result = cvmod.cross_validate(pipeline, X, y, folds, metrics_for("classification", None, "roc_auc"), labels,
                                  predict=lambda est, part: engine.monitored_output(est, part, "classification"))
    expected = cross_val_predict(pipeline, X, y, cv=folds, method="predict_proba")[:, 1]
    np.testing.assert_allclose(result.oof, expected, rtol=0, atol=1e-12)
