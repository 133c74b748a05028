"""Turn a feature-set config into the preprocessing steps of a scikit-learn Pipeline.

The whole preprocessing (imputation, scaling, encoding, selection) is a Pipeline that the
engine clones and fits inside every CV fold, so no statistic of a validation fold ever
reaches its training fold.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectFromModel, SelectKBest, f_classif, f_regression
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Lasso, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler

from mlplat.errors import ConfigError
from mlplat.features.derived import DerivedFeatures

SCALERS = {"standard": StandardScaler, "minmax": MinMaxScaler, "robust": RobustScaler}


def _v(value: Any) -> str:
    return str(getattr(value, "value", value))


def _imputer(strategy: str) -> SimpleImputer | None:
    if strategy == "none":
        return None
    if strategy == "constant":
        return SimpleImputer(strategy="constant", fill_value=0)
    return SimpleImputer(strategy=strategy)


def _numeric_steps(cfg: Any) -> Pipeline | str:
    steps = []
    imputer = _imputer(_v(cfg["impute"]))
    if imputer is not None:
        steps.append(("impute", imputer))
    scale = _v(cfg["scale"])
    if scale != "none":
        steps.append(("scale", SCALERS[scale]()))
    return Pipeline(steps) if steps else "passthrough"


def _categorical_steps(cfg: Any) -> Pipeline:
    impute = _v(cfg["impute"])
    steps = []
    if impute != "none":
        steps.append(("impute", SimpleImputer(strategy="most_frequent" if impute != "constant" else "constant",
                                              fill_value="missing" if impute == "constant" else None)))
    if _v(cfg["encode"]) == "onehot":
        enc = OneHotEncoder(handle_unknown="infrequent_if_exist" if cfg.get("min_frequency") or cfg.get("max_categories")
                            else "ignore",
                            min_frequency=cfg.get("min_frequency"), max_categories=cfg.get("max_categories"),
                            sparse_output=False)
    else:
        enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1)
    steps.append(("encode", enc))
    return Pipeline(steps)


def _selector(cfg: Any, task: str, seed: int):
    method = _v(cfg["method"])
    if method == "none":
        return None
    if method == "kbest":
        return SelectKBest(f_classif if task == "classification" else f_regression, k=int(cfg["k"]))
    if cfg["estimator"] == "l1":
        est = (LogisticRegression(penalty="l1", solver="liblinear", C=1.0, random_state=seed)
               if task == "classification" else Lasso(alpha=0.01, random_state=seed))
    elif cfg["estimator"] == "random_forest":
        # sklearn.ensemble costs every run ~0.2 s of import (python -X importtime) and only this
        # selector and a random-forest model use it: imported when one is built
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        cls = RandomForestClassifier if task == "classification" else RandomForestRegressor
        est = cls(n_estimators=50, random_state=seed, n_jobs=1)
    else:
        raise ConfigError(f"features.selection.estimator={cfg['estimator']!r}: expected random_forest or l1")
    return SelectFromModel(est, threshold=cfg["threshold"])


def feature_columns(X: pd.DataFrame, dataset: Any, derived: dict[str, str]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) input columns after derived features are added."""
    categorical = [c for c in (dataset.get("categorical") or []) if c in X.columns]
    numeric = dataset.get("numeric")
    if numeric is None:
        numeric = [c for c in X.columns if c not in categorical]
    numeric = [*numeric, *[d for d in derived if d not in numeric]]
    non_numeric = [c for c in numeric if c in X.columns and not pd.api.types.is_numeric_dtype(X[c])]
    if non_numeric:
        raise ConfigError(
            f"columns {non_numeric} of dataset {dataset['name']!r} are not numeric: "
            "declare them in dataset.categorical or drop them with dataset.drop"
        )
    return list(numeric), categorical


def build_preprocessor(features: Any, dataset: Any, X: pd.DataFrame, task: str, seed: int) -> list[tuple[str, Any]]:
    """The preprocessing steps (name, transformer) to put before the estimator."""
    derived = dict(features.get("derived") or {})
    for name, expr in derived.items():
        try:
            X.head(5).eval(expr, engine="python")
        except Exception as exc:  # pandas raises many types for a bad expression
            raise ConfigError(
                f"features.derived.{name} = {expr!r} cannot be evaluated on dataset {dataset['name']!r}: {exc}"
            ) from exc
    numeric, categorical = feature_columns(X, dataset, derived)
    transformers = []
    if numeric:
        transformers.append(("num", _numeric_steps(features["numeric"]), numeric))
    if categorical:
        transformers.append(("cat", _categorical_steps(features["categorical"]), categorical))
    columns = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=True)
    steps: list[tuple[str, Any]] = []
    if derived:
        steps.append(("derive", DerivedFeatures(derived)))
    steps.append(("columns", columns))
    selector = _selector(features["selection"], task, seed)
    if selector is not None:
        steps.append(("select", selector))
    return steps
