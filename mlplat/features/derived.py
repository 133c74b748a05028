"""Derived columns declared as pandas expressions.

A stateless transformer, so computing it inside the pipeline leaks nothing across folds,
and the serving path receives raw columns exactly like training did.
"""

from __future__ import annotations

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin


class DerivedFeatures(TransformerMixin, BaseEstimator):
    """Add ``name = expression`` columns, evaluated with ``DataFrame.eval``."""

    def __init__(self, expressions: dict[str, str] | None = None):
        self.expressions = expressions

    def fit(self, X: pd.DataFrame, y=None):
        self.feature_names_in_ = list(X.columns)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        for name, expr in (self.expressions or {}).items():
            out[name] = out.eval(expr, engine="python")
        return out

    def get_feature_names_out(self, input_features=None):
        return [*self.feature_names_in_, *(self.expressions or {})]
