"""ML numbers checked against an independent plain scikit-learn computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests.conftest import REPO


def test_cv_metrics_match_plain_scikit_learn_on_the_same_folds(project):
    project.train("dataset=churn", "features=churn_derived", "model=logreg")
    [run] = project.json("runs", "list")
    run = project.json("runs", "show", run["id"])

    df = pd.read_csv(REPO / "data" / "churn.csv")
    X, y = df.drop(columns=["churned", "customer_id"]), df["churned"]
    X = X.assign(charges_per_tenure=X.monthly_charges / (X.tenure_months + 1),
                 calls_x_charges=X.support_calls * X.monthly_charges)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
    numeric = ["tenure_months", "monthly_charges", "support_calls", "charges_per_tenure", "calls_x_charges"]
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)), ["contract", "region"]),
    ])
    pipe = Pipeline([("pre", pre), ("model", LogisticRegression(C=1.0, max_iter=2000))])
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    ref = cross_validate(pipe, X_train, y_train, cv=folds,
                         scoring={"roc_auc": "roc_auc", "accuracy": "accuracy", "f1": "f1", "log_loss": "neg_log_loss"})
    cv = run["metrics"]["cv"]
    for name in ("roc_auc", "accuracy", "f1"):
        assert abs(cv[name]["value"] - ref[f"test_{name}"].mean()) < 1e-9, name
        assert abs(cv[name]["std"] - ref[f"test_{name}"].std()) < 1e-9, name
        assert np.allclose([f[name] for f in run["folds"]], ref[f"test_{name}"], atol=1e-9, rtol=0)
    assert abs(cv["log_loss"]["value"] + ref["test_log_loss"].mean()) < 1e-9

    from sklearn.metrics import roc_auc_score

    holdout = roc_auc_score(y_test, pipe.fit(X_train, y_train).predict_proba(X_test)[:, 1])
    assert abs(run["metrics"]["holdout"]["roc_auc"] - holdout) < 1e-9


def test_regression_and_multiclass_metrics_match(project):
    from sklearn.datasets import load_wine
    from sklearn.ensemble import RandomForestClassifier

    project.train("dataset=wine", "model=random_forest", "model.params.n_estimators=25", "runtime.threads=1")
    [run] = project.json("runs", "list")
    run = project.json("runs", "show", run["id"])
    X, y = load_wine(return_X_y=True, as_frame=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
    pipe = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                         RandomForestClassifier(n_estimators=25, max_features="sqrt", random_state=42, n_jobs=1))
    ref = cross_validate(pipe, X_train, y_train, cv=StratifiedKFold(5, shuffle=True, random_state=42),
                         scoring={"roc_auc": "roc_auc_ovr", "f1": "f1_macro"})
    assert abs(run["metrics"]["cv"]["roc_auc"]["value"] - ref["test_roc_auc"].mean()) < 1e-9
    assert abs(run["metrics"]["cv"]["f1"]["value"] - ref["test_f1"].mean()) < 1e-9


def test_rerun_reproduces_the_stored_metrics(project):
    project.train("dataset=wage", "model=hist_gb", "model.params.max_iter=50", "evaluation=fast")
    [run] = project.json("runs", "list")
    result = project.json("runs", "rerun", run["id"])
    assert result["rerun"] != run["id"]
    for row in result["metrics"]:
        assert float(row["diff"]) < 1e-9, row


class _RowCounter(TransformerMixin, BaseEstimator):
    """Records how many rows each fit saw (class attribute: survives clone)."""

    seen: list[int] = []

    def fit(self, X, y=None):
        _RowCounter.seen.append(len(X))
        self.mean_ = np.asarray(X, dtype=float).mean(axis=0)
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float)


def test_preprocessing_is_fitted_inside_each_fold():
    from mlplat.evaluation.cv import cross_validate as mlplat_cv
    from mlplat.evaluation.cv import make_folds
    from mlplat.evaluation.metrics import metrics_for

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(100, 3)), columns=list("abc"))
    y = pd.Series((X["a"] > 0).astype(int))
    _RowCounter.seen = []
    pipe = Pipeline([("count", _RowCounter()), ("model", LogisticRegression())])
    splitter = make_folds("classification", 5, True, 0)
    mlplat_cv(pipe, X, y, splitter, metrics_for("classification", None, "roc_auc"), np.array([0, 1]))
    assert _RowCounter.seen == [80] * 5  # each fold's preprocessing saw only its training rows
