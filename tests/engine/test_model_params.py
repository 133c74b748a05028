"""What is recorded is what ran: the keys that reach the estimator, every shipped family's
parameter types checked by its own library before any job, the fitted estimator's parameters
recorded on the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlplat import ops
from mlplat.errors import ConfigError
from mlplat.models import params as model_params
from mlplat.models.build import build_estimator

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"
FAMILIES = sorted(p.stem for p in CONF.glob("*.yaml"))


def _model(name: str, **params) -> dict:
    cfg = yaml.safe_load((CONF / f"{name}.yaml").read_text())
    cfg["params"] = {**(cfg.get("params") or {}), **params}
    return cfg


@pytest.mark.parametrize("name", FAMILIES)
def test_every_shipped_family_builds_and_passes_its_own_library_check(name):
    for task in ("classification", "regression"):
        cfg = _model(name)
        if not cfg.get("classifier" if task == "classification" else "regressor"):
            continue
        build_estimator(cfg, task, 0, 1, native_check=True)


@pytest.mark.parametrize(("name", "bad", "needles"), [
    ("xgboost", {"max_depth": "abc"}, ["max_depth", "int"]),
    ("xgboost", {"n_estimators": "many"}, ["n_estimators", "int"]),
    ("xgboost", {"tree_method": "bogus"}, ["bogus", "approx"]),        # XGBoost's own parser
    ("lightgbm", {"num_leaves": "abc"}, ["num_leaves", "int"]),
    ("lightgbm", {"subsample": 2.0}, ["bagging_fraction"]),            # LightGBM's own parser
    ("catboost", {"depth": "abc"}, ["depth", "abc"]),
    ("catboost", {"depth": 100}, ["Maximum tree depth is 16"]),        # CatBoost's own check
    ("random_forest", {"max_depth": "abc"}, ["max_depth"]),            # scikit-learn's constraints
])
def test_bad_values_are_refused_before_any_fit(name, bad, needles, capfd):
    with pytest.raises(ConfigError) as info:
        build_estimator(_model(name, **bad), "classification", 0, 1, native_check=True)
    message = str(info.value)
    assert "\n" not in message and all(n in message for n in needles), message
    out, err = capfd.readouterr()
    assert "Fatal" not in out + err  # the library's own printout stays off the terminal


def test_unreached_keys_are_named():
    logreg = _model("logreg")
    keys = [("params", "C"), ("classifier_params", "max_iter"), ("regressor_params", "fit_intercept"),
            ("params", "tol")]
    lost = model_params.unreached(logreg, "classification", keys)
    assert lost == ["model.params.C (model.classifier_params.C sets it for classification)",
                    "model.regressor_params.fit_intercept (used for regression only; this run is classification)"]
    assert model_params.requested(logreg, "classification") == {"C": 1.0, "max_iter": 2000}


def test_a_run_records_the_fitted_estimators_parameters(project, monkeypatch):
    monkeypatch.chdir(project.root)
    monkeypatch.setenv("MLPLAT_STORE_URL", project.store_url)
    monkeypatch.setenv("MLPLAT_ARTIFACTS", str(project.root / "runs" / "artifacts"))
    from mlplat.engine import RunContext

    overrides = ["model=logreg", "evaluation=fast", "model.classifier_params.C=0.5"]
    plain = ops.check_train_overrides(overrides)
    outcome = ops.run_experiment(plain, RunContext(actor="t", overrides=overrides))
    run = ops.show_run(outcome.run_id, store=ops.open_store(plain["tracking"]))
    import joblib

    fitted = joblib.load(Path(run["artifact_dir"]) / "model.joblib")[-1].estimator_
    assert run["params"]["C"] == 0.5 == fitted.C
    # every parameter the estimator ran with, not only the configured ones
    assert run["params"] == json.loads(json.dumps(fitted.get_params(deep=False), default=str))
    assert {"penalty", "solver", "max_iter", "tol"} <= set(run["params"])
    with pytest.raises(ConfigError, match=r"model\.params\.C .*model\.classifier_params\.C, model\.classifier_params"
                                          r"\.max_iter"):
        ops.check_train_overrides(["model=logreg", "+model.params.C=-1"])
