"""Any scikit-learn scorer name can be a metric, the primary one included."""

from __future__ import annotations

import joblib
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split

from mlplat.errors import ConfigError
from mlplat.evaluation.metrics import get_metric, metrics_for


def test_a_scorer_name_is_a_metric_that_is_always_maximised():
    m = get_metric("neg_mean_absolute_error")
    assert (m.direction, m.needs, m.task) == ("maximize", "scorer", "any")
    assert [x.name for x in metrics_for("regression", ["neg_mean_absolute_error"], "r2")] == \
        ["r2", "neg_mean_absolute_error"]
    assert get_metric("roc_auc").needs == "proba"  # mlplat's own table wins for the names it has
    with pytest.raises(ConfigError, match="unknown metric 'auc'.*scikit-learn scorer name"):
        get_metric("auc")


def test_a_run_ranks_by_a_scorer_and_records_what_scikit_learn_computes(project):
    project.train("evaluation=fast", "evaluation.primary=balanced_accuracy",
                  "evaluation.metrics=[balanced_accuracy,roc_auc]")
    [run] = project.json("runs", "list")
    run = project.json("runs", "show", run["id"])
    assert run["primary_metric"] == "balanced_accuracy" and set(run["metrics"]["cv"]) == {"balanced_accuracy", "roc_auc"}
    board = project.json("leaderboard", "--metric", "balanced_accuracy")
    assert board["direction"] == "maximize" and [r["id"] for r in board["rows"]] == [run["id"]]

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    _, X_test, _, y_test = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
    model = joblib.load(next(a["path"] for a in run["artifacts"] if a["name"] == "model.joblib"))
    expected = get_scorer("balanced_accuracy")(model, X_test, y_test)
    assert run["metrics"]["holdout"]["balanced_accuracy"] == pytest.approx(expected, abs=1e-12)
