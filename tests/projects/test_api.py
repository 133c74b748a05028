"""The Python API: a cheap import, thin calls over ops, and its refusals in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import mlplat
from mlplat.errors import ArtifactIntegrityError, ConfigError, StoreError
from tests.projects.kit import customers_project


def test_import_mlplat_stays_cheap_and_names_resolve_from_the_table():
    code = ("import sys, mlplat; heavy = [m for m in ('pandas', 'sklearn', 'sqlalchemy', 'hydra') if m in sys.modules]; "
            "assert not heavy, heavy; print(sorted(mlplat.__all__)); mlplat.leaderboard; "
            "assert 'mlplat.api' in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == str(sorted(["__version__", "train", "leaderboard", "runs", "load_model", "log_run",
                                      "register", "predict"]))
    with pytest.raises(AttributeError):
        mlplat.no_such_function  # noqa: B018


@pytest.fixture
def proj(tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith(("MLPLAT_", "HYDRA_"))]:
        monkeypatch.delenv(key)
    monkeypatch.delenv("MLPLAT_PRECHECKED", raising=False)
    root = customers_project(tmp_path / "p")
    monkeypatch.chdir(root)
    return root


def test_train_leaderboard_runs_register_load_predict(proj):
    with pytest.raises(StoreError, match="no store at"):
        mlplat.leaderboard()
    run = mlplat.train(["evaluation=fast", "model=knn"])
    assert run["status"] == "done" and run["source"] == "api" and run["model"] == "knn"
    board = mlplat.leaderboard(metric="f1", dataset="customers")
    assert isinstance(board, pd.DataFrame) and board.loc[0, "id"] == run["id"] and board.attrs["metric"] == "f1"
    assert mlplat.runs(limit=5)["id"].tolist() == [run["id"]]
    version = mlplat.register(run["id"], "customers")
    model = mlplat.load_model("customers:1")
    X = pd.read_csv(proj / "data" / "customers.csv").drop(columns=["customer_id", "churned"])
    assert list(model.predict(X.head(3))) == list(mlplat.predict("customers", X.head(3))["prediction"])
    with pytest.raises(ConfigError, match="a single run takes one value per key"):
        mlplat.train(["model=knn,logreg"])
    with pytest.raises(ConfigError, match="unknown option 'knnn'"):
        mlplat.train(["model=knnn"])
    Path(version["model_path"]).write_bytes(b"tampered")
    with pytest.raises(ArtifactIntegrityError, match="modified after it was written"):
        mlplat.load_model("customers:1")


def test_log_run_needs_what_serving_and_monitoring_use(proj):
    from sklearn.dummy import DummyClassifier

    X = pd.read_csv(proj / "data" / "customers.csv").drop(columns=["customer_id", "churned"])
    y = pd.read_csv(proj / "data" / "customers.csv")["churned"]
    fitted = DummyClassifier().fit(X, y)
    with pytest.raises(ConfigError, match="needs X"):
        mlplat.log_run(model=fitted, X=None, dataset="customers", name="d")
    with pytest.raises(ConfigError, match="primary metric 'roc_auc'"):
        mlplat.log_run(model=fitted, X=X, y=y, dataset="customers", name="d")
    with pytest.raises(ConfigError, match="metric 'rmse' is for regression"):
        mlplat.log_run(model=fitted, X=X, y=y, metrics={"rmse": 1.0}, dataset="customers", name="d")
    run = mlplat.log_run(model=fitted, X=X, y=y, metrics={"roc_auc": 0.5}, dataset="unknown_data", name="d")
    assert run["status"] == "done" and run["validation_passed"] is None  # no declared schema to validate against
    assert mlplat.leaderboard(metric="roc_auc").loc[0, "model"] == "d"
