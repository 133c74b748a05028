"""The metric table: every metric mlplat knows, declared once.

The direction, the task it belongs to and what it needs (labels or probabilities) are read
from this one table by the engine, the leaderboard, the sweeper and the config checks, so
"which way is better" can never disagree between two places.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlplat.errors import ConfigError

if TYPE_CHECKING:  # numpy is only an annotation here; importing it costs read-only commands 0.1 s
    import numpy as np


@dataclass(frozen=True)
class Metric:
    name: str
    task: str  # classification | regression | any (a scikit-learn scorer: it checks the task itself)
    greater_is_better: bool
    needs: str  # "label" | "proba" | "value": fn(y, pred, proba, labels); "scorer": fn(estimator, X, y)
    fn: Callable[..., float]

    @property
    def direction(self) -> str:
        return "maximize" if self.greater_is_better else "minimize"


# Each metric imports sklearn.metrics when it scores (~0.5 s, several seconds under load):
# the leaderboard and the sweeper read this table for names and directions only.
def _accuracy(y, pred, proba, labels):
    from sklearn.metrics import accuracy_score

    return accuracy_score(y, pred)


def _f1(y, pred, proba, labels):
    # binary: F1 of the positive (larger) label; multiclass: unweighted mean over classes
    from sklearn.metrics import f1_score

    if len(labels) == 2:
        return f1_score(y, pred, average="binary", pos_label=labels[1])
    return f1_score(y, pred, average="macro", labels=labels)


def _roc_auc(y, pred, proba, labels):
    from sklearn.metrics import roc_auc_score

    if len(labels) == 2:
        return roc_auc_score(y, proba[:, 1])
    return roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels)


def _log_loss(y, pred, proba, labels):
    from sklearn.metrics import log_loss

    return log_loss(y, proba, labels=labels)


def _rmse(y, pred, proba, labels):
    from sklearn.metrics import root_mean_squared_error

    return root_mean_squared_error(y, pred)


def _mae(y, pred, proba, labels):
    from sklearn.metrics import mean_absolute_error

    return mean_absolute_error(y, pred)


def _r2(y, pred, proba, labels):
    from sklearn.metrics import r2_score

    return r2_score(y, pred)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "classification", True, "label", _accuracy),
        Metric("f1", "classification", True, "label", _f1),
        Metric("roc_auc", "classification", True, "proba", _roc_auc),
        Metric("log_loss", "classification", False, "proba", _log_loss),
        Metric("rmse", "regression", False, "value", _rmse),
        Metric("mae", "regression", False, "value", _mae),
        Metric("r2", "regression", True, "value", _r2),
    )
}

DEFAULT_PRIMARY = {"classification": "roc_auc", "regression": "rmse"}


def _scorer(name: str) -> Metric | None:
    """Any scikit-learn scorer name (``sklearn.metrics.get_scorer_names()``) as a metric.

    A scorer returns "greater is better" values (losses come negated: ``neg_log_loss``,
    ``neg_mean_absolute_error``), so its direction is always maximize; it scores the fitted
    estimator itself, so it predicts once more per fold than the table's metrics do.
    """
    # deferred: sklearn.metrics costs ~0.5 s, only for a name that is not in the table above
    from sklearn.metrics import get_scorer, get_scorer_names

    if name not in get_scorer_names():
        return None
    return Metric(name, "any", True, "scorer", get_scorer(name))


def get_metric(name: str) -> Metric:
    """mlplat's own metric ``name`` (the table above), else the scikit-learn scorer of that name."""
    metric = METRICS.get(name) or _scorer(str(name))
    if metric is None:
        raise ConfigError(
            f"unknown metric {name!r}: expected one of {', '.join(METRICS)} or a scikit-learn scorer name "
            "(sklearn.metrics.get_scorer_names(), e.g. balanced_accuracy, neg_mean_absolute_error); "
            "fix evaluation.metrics / evaluation.primary or the --metric option"
        )
    return metric


def direction_of(name: str) -> str:
    """'maximize' or 'minimize' for a metric name (used by sweepers and leaderboards)."""
    return get_metric(name).direction


def metrics_for(task: str, names: list[str] | None, primary: str) -> list[Metric]:
    """The metrics a run computes: the declared list (or the task's), primary included."""
    chosen = list(names) if names else [m.name for m in METRICS.values() if m.task == task]
    if primary not in chosen:
        chosen.insert(0, primary)
    out = []
    for name in chosen:
        metric = get_metric(name)
        if metric.task not in (task, "any"):
            raise ConfigError(
                f"metric {name!r} is for {metric.task}, but the dataset's task is {task}: "
                f"choose from {', '.join(m.name for m in METRICS.values() if m.task == task)}"
            )
        out.append(metric)
    return out


def _needs_proba(estimator) -> bool:
    return hasattr(estimator, "predict_proba")


def score(metrics: list[Metric], estimator, X, y, labels: np.ndarray | None) -> dict[str, float]:
    """Every metric of one fitted estimator on (X, y), predicting once."""
    pred = estimator.predict(X) if any(m.needs != "scorer" for m in metrics) else None
    proba = None
    if any(m.needs == "proba" for m in metrics):
        if not _needs_proba(estimator):
            names = [m.name for m in metrics if m.needs == "proba"]
            raise ConfigError(
                f"metrics {names} need predicted probabilities, but {type(estimator[-1]).__name__} "
                "has no predict_proba: drop them from evaluation.metrics or choose another model"
            )
        proba = estimator.predict_proba(X)
    return {m.name: float(m.fn(estimator, X, y) if m.needs == "scorer" else m.fn(y, pred, proba, labels))
            for m in metrics}
