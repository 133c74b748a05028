"""Holdout split, CV folds and the cross-validation loop.

The loop is explicit (clone, fit, score per fold) rather than ``cross_validate`` so one
predict per fold serves every metric and fit/score times are measured per fold; a test
recomputes the same numbers with plain ``cross_validate`` on the same folds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from mlplat.evaluation.metrics import Metric, score


@dataclass
class CVResult:
    folds: list[dict[str, float]] = field(default_factory=list)
    fit_times: list[float] = field(default_factory=list)
    score_times: list[float] = field(default_factory=list)
    # out-of-fold outputs, one per row of X in its order (set when ``predict`` was given)
    oof: np.ndarray | None = None

    def aggregate(self) -> dict[str, tuple[float, float]]:
        """metric -> (mean, std over folds, population std like scikit-learn's reports)."""
        names = self.folds[0].keys() if self.folds else []
        return {n: (float(np.mean([f[n] for f in self.folds])), float(np.std([f[n] for f in self.folds])))
                for n in names}


def holdout_split(X: pd.DataFrame, y: pd.Series, task: str, test_size: float, seed: int):
    """(X_train, X_test, y_train, y_test), stratified for classification."""
    if not test_size:
        return X, X.iloc[:0], y, y.iloc[:0]
    stratify = y if task == "classification" else None
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=stratify)


def make_folds(task: str, n_folds: int, shuffle: bool, seed: int):
    if task == "classification":
        return StratifiedKFold(n_splits=n_folds, shuffle=shuffle, random_state=seed if shuffle else None)
    return KFold(n_splits=n_folds, shuffle=shuffle, random_state=seed if shuffle else None)


def cross_validate(pipeline: Any, X: pd.DataFrame, y: pd.Series, splitter: Any, metrics: list[Metric],
                   labels: np.ndarray | None, predict: Callable[[Any, pd.DataFrame], np.ndarray] | None = None,
                   ) -> CVResult:
    """Fit a clone of ``pipeline`` per fold (preprocessing included) and score it.

    ``predict(fitted, X_val)``, when given, is called on every validation fold and its
    outputs are gathered in ``result.oof`` (what ``cross_val_predict`` returns, from the
    same fits: the drift reference costs one extra predict per fold, not a second CV).
    """
    result = CVResult()
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    for train_idx, val_idx in splitter.split(X, y):
        est = clone(pipeline)
        t0 = time.perf_counter()
        est.fit(X.iloc[train_idx], y.iloc[train_idx])
        t1 = time.perf_counter()
        result.folds.append(score(metrics, est, X.iloc[val_idx], y.iloc[val_idx], labels))
        result.score_times.append(time.perf_counter() - t1)
        result.fit_times.append(t1 - t0)
        if predict is not None:
            parts.append((val_idx, np.asarray(predict(est, X.iloc[val_idx]))))
    order = np.concatenate([idx for idx, _ in parts]) if parts else np.array([], dtype=int)
    if order.size == len(X) and np.unique(order).size == len(X):  # a partition: every row predicted once
        values = np.concatenate([v for _, v in parts])
        result.oof = np.empty_like(values)
        result.oof[order] = values
    return result
