"""Class labels of any type (text, boolean, integers) work with every model: the saved
pipeline, the signature, the metrics and predictions speak the original labels."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlplat import ops
from mlplat.engine import RunContext
from mlplat.tracking.artifacts import load_pickle_verified
from tests.projects.kit import customers_project

FEW_TREES = {"random_forest": ["model.params.n_estimators=20"], "extra_trees": ["model.params.n_estimators=20"],
             "hist_gb": ["model.params.max_iter=20"], "xgboost": ["model.params.n_estimators=20"],
             "lightgbm": ["model.params.n_estimators=20"], "catboost": ["model.params.iterations=30"]}


@pytest.fixture
def proj(tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith(("MLPLAT_", "HYDRA_"))]:
        monkeypatch.delenv(key)
    monkeypatch.delenv("MLPLAT_PRECHECKED", raising=False)  # restored after the test (the checks set it)
    root = customers_project(tmp_path / "p")
    monkeypatch.chdir(root)
    return root


def _train(*overrides: str) -> dict:
    plain = ops.check_train_overrides(["evaluation=fast", *overrides])
    outcome = ops.run_experiment(plain, RunContext(actor="tester", source="test"))
    return ops.show_run(outcome.run_id)


def _artifact(run: dict, name: str) -> Path:
    return Path(run["artifact_dir"]) / name


def _model(run: dict):
    [a] = [a for a in run["artifacts"] if a["name"] == "model.joblib"]
    return load_pickle_verified(a["path"], a["sha256"])


@pytest.mark.parametrize("model", ["logreg", "random_forest", "extra_trees", "hist_gb", "xgboost", "knn", "lightgbm",
                                   "catboost"])
def test_text_labels_with_every_model(proj, model):
    run = _train(f"model={model}", *FEW_TREES.get(model, []))
    assert run["status"] == "done"
    signature = json.loads(_artifact(run, "signature.json").read_text())
    assert signature["output"]["classes"] == ["No", "Yes"] and signature["output"]["positive_class"] == "Yes"
    assert json.loads(_artifact(run, "metrics.json").read_text())["positive_class"] == "Yes"
    data = pd.read_csv(proj / "data" / "customers.csv")
    pipeline = _model(run)
    assert list(pipeline.classes_) == ["No", "Yes"]
    predicted = pipeline.predict(data.drop(columns=["churned", "customer_id"]))
    assert set(predicted) <= {"Yes", "No"} and (predicted == data["churned"]).mean() > 0.6
    # f1 scores "Yes" (the larger label) as the positive class, as scikit-learn would with pos_label="Yes"
    assert 0 < run["metrics"]["holdout"]["f1"] <= 1


def test_boolean_labels_from_read_options_and_integer_labels(proj):
    ds = proj / "conf" / "dataset" / "customers.yaml"
    # the workaround users reach for first: parse the text target as a boolean while reading
    ds.write_text(ds.read_text() + "read_options: {true_values: ['Yes'], false_values: ['No']}\n")
    run = _train("model=xgboost", "model.params.n_estimators=20")
    signature = json.loads(_artifact(run, "signature.json").read_text())
    assert signature["output"]["classes"] == [False, True] and signature["output"]["positive_class"] is True
    X = pd.read_csv(proj / "data" / "customers.csv").drop(columns=["churned", "customer_id"])
    assert _model(run).predict(X).dtype == np.bool_

    data = pd.read_csv(proj / "data" / "customers.csv")
    data["churned"] = np.where(data["churned"] == "Yes", 7, 3)  # integer classes that are not 0..k-1
    data.to_csv(proj / "data" / "customers.csv", index=False)
    ds.write_text(ds.read_text().replace("read_options: {true_values: ['Yes'], false_values: ['No']}\n", ""))
    run = _train("model=lightgbm", "model.params.n_estimators=20")
    assert json.loads(_artifact(run, "signature.json").read_text())["output"]["classes"] == [3, 7]
    assert set(_model(run).predict(X)) <= {3, 7}
    version = ops.register(run["id"], "customers", actor="tester", source="test")
    predictions = ops.predict_frame(f"customers:{version['version']}", X.head(20))
    assert set(predictions["prediction"]) <= {3, 7} and list(predictions.columns) == ["prediction", "proba.3", "proba.7"]
