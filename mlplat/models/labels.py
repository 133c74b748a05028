"""Class labels of any type (text, boolean, integers) for every classifier.

XGBoost, LightGBM and some user estimators accept only the codes 0..k-1 as class labels
(XGBoost: "Invalid classes inferred from unique values of y" on "Yes"/"No"). The engine
works out the sorted labels once per run and every classifier is wrapped in
``LabelEncoded(estimator, classes=labels)``: it fits the estimator on the codes and maps its
predictions back, so the saved pipeline, its ``classes_``, the service and batch predictions
all speak the original labels, and every fold of a run uses the same coding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.metaestimators import available_if

from mlplat.errors import TargetError


def _inner_has(name: str):
    return lambda self: hasattr(self.estimator, name)


class LabelEncoded(ClassifierMixin, BaseEstimator):
    """``estimator`` trained on label codes; predicts (and reports ``classes_``) in the original labels."""

    def __init__(self, estimator: Any, classes: Any = None):
        self.estimator = estimator
        self.classes = classes

    def fit(self, X, y, **fit_params):
        y = np.asarray(y)
        classes = np.asarray(self.classes) if self.classes is not None else np.unique(y)
        codes = np.searchsorted(classes, y)
        inside = codes < len(classes)
        if not inside.all() or not (classes[np.minimum(codes, len(classes) - 1)] == y).all():
            unknown = y[~inside | (classes[np.minimum(codes, len(classes) - 1)] != y)][0]
            raise TargetError(f"class label {unknown!r} is not one of the run's classes {list(classes)}")
        self.classes_ = classes
        self.estimator_ = clone(self.estimator).fit(X, codes, **fit_params)
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def predict(self, X):
        return self.classes_[np.asarray(self.estimator_.predict(X)).astype(np.intp).ravel()]

    @available_if(_inner_has("predict_proba"))
    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)

    @available_if(_inner_has("decision_function"))
    def decision_function(self, X):
        return self.estimator_.decision_function(X)

    @property
    def feature_importances_(self):
        return self.estimator_.feature_importances_

    @property
    def coef_(self):
        return self.estimator_.coef_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # whatever the wrapped estimator accepts is checked by it
        return tags


def class_labels(values: Any) -> list[Any]:
    """Plain Python values (JSON-ready) of an array of class labels."""
    return [v.item() if hasattr(v, "item") else v for v in values]
