"""The serving fast path: compiled only for shapes it supports, and then equal to the pipeline.

Each case fits mlplat's own pipeline on a bundled dataset, compiles it, and compares the
compiled predictions with the fitted scikit-learn pipeline's on held-out rows, plus rows
with missing values and unseen categories.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlplat.config.compose import compose, to_plain
from mlplat.data import sources
from mlplat.engine import build_pipeline, prepare_xy
from mlplat.serving.fastpath import compile_pipeline


def _fitted(overrides: list[str]):
    cfg = to_plain(compose(overrides))
    X, y, _labels = prepare_xy(sources.load(cfg["dataset"]), cfg["dataset"])
    task = cfg["dataset"]["task"]
    pipe = build_pipeline(cfg, X.iloc[:300], task, 1).fit(X.iloc[:300], y.iloc[:300])
    return pipe, X.iloc[300:].reset_index(drop=True)


def _awkward(X: pd.DataFrame) -> pd.DataFrame:
    """Held-out rows with a missing value in every column somewhere and a category never seen."""
    rows = X.head(40).copy()
    for j, col in enumerate(rows.columns):
        rows.loc[j % len(rows), col] = np.nan
        if rows[col].dtype == object or str(rows[col].dtype) in ("str", "string"):
            rows[col] = rows[col].astype(object)
            rows.loc[(j + 7) % len(rows), col] = "never-seen-in-training"
    return rows


@pytest.mark.parametrize("overrides, compiled", [
    (["dataset=churn", "model=logreg"], True),                                      # impute, scale, one-hot
    (["dataset=churn", "model=random_forest", "features=raw"], True),               # ordinal encoding
    (["dataset=churn", "model=xgboost", "features.numeric.scale=minmax"], True),
    (["dataset=churn", "model=knn", "features.numeric.scale=robust"], True),
    (["dataset=breast_cancer", "model=logreg"], True),                              # numbers only
    (["dataset=wage", "model=hist_gb"], True),                                      # regression
    (["dataset=churn", "model=logreg", "features=churn_derived"], False),           # derived features
    (["dataset=churn", "model=logreg", "features=select_kbest"], False),            # a selection step
])
def test_compiled_pipelines_predict_what_the_pipeline_predicts(overrides, compiled):
    pipe, held_out = _fitted(overrides)
    fast = compile_pipeline(pipe)
    assert (fast is not None) is compiled
    if fast is None:
        return
    for X in (held_out, _awkward(held_out)):
        if hasattr(pipe, "predict_proba"):
            np.testing.assert_allclose(fast.predict_proba(X), pipe.predict_proba(X), rtol=0, atol=1e-12)
        np.testing.assert_array_equal(fast.predict(X), pipe.predict(X))


def test_a_compiled_form_that_disagrees_is_refused(monkeypatch):
    pipe, _ = _fitted(["dataset=churn", "model=logreg"])
    from mlplat.serving import fastpath

    real = fastpath._scaler

    def off_by_a_little(step, categorical):
        fn = real(step, categorical)
        return None if fn is None else (lambda a: fn(a) + 1e-6)
    monkeypatch.setitem(fastpath._STEPS, "StandardScaler", off_by_a_little)
    assert compile_pipeline(pipe) is None


def test_a_request_the_compiled_form_cannot_take_is_answered_by_the_pipeline():
    from mlplat.serving.holder import Loaded

    class Refusing:
        def predict_proba(self, X):
            raise TypeError("float() argument must be a string or a real number, not 'NoneType'")

    pipe, held_out = _fitted(["dataset=churn", "model=logreg"])
    loaded = Loaded("churn", 1, pipe, None, {}, [0, 1], "r", "s", 0.0, fast=Refusing())
    labels, proba = loaded.predict(held_out.head(5))
    np.testing.assert_allclose(proba, pipe.predict_proba(held_out.head(5)), rtol=0, atol=1e-12)
    assert labels == pipe.predict(held_out.head(5)).tolist()
