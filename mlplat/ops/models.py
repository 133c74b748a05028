"""Models in this process: load a registered one, predict a frame, record one fitted elsewhere.

The Python API (mlplat/api.py) is a thin layer over these. ``log_run`` turns a pipeline a
user trained in their own code into a run like the engine's: the same artifacts (model,
config, metrics, features, signature, reference profile, with their sha256), the same
metric functions when data is given, the dataset fingerprint, and the same store rows, so
the run can be registered, promoted, served and monitored like any other.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier, is_regressor

from mlplat import engine, provenance
from mlplat.config.compose import find_config
from mlplat.data import fingerprint as fp
from mlplat.data import validation
from mlplat.errors import ConfigError, MlplatError, one_line
from mlplat.evaluation.metrics import DEFAULT_PRIMARY, get_metric, metrics_for, score
from mlplat.ops.common import compose_plain, open_store
from mlplat.registry import versions
from mlplat.serving import signature as sig
from mlplat.serving.holder import load_version
from mlplat.tracking import artifacts as art
from mlplat.tracking import runs as runs_store
from mlplat.tracking.artifacts import load_pickle_verified


def load_model(ref: str, *, store=None) -> Any:
    """The fitted pipeline of ``name``, ``name:version`` or ``name@alias``, its sha256 checked
    against the registry before it is unpickled."""
    store = store or open_store()
    with store.read() as conn:
        row = versions.resolve(conn, versions.parse_ref(ref))
    return load_pickle_verified(row["model_path"], row["model_sha256"])


def predict_frame(ref: str, frame: Any, *, store=None) -> Any:
    """Predictions for a DataFrame from a registered version, checked against its signature as
    the service checks a request: a ``prediction`` column (original labels) and, for a
    classifier, one ``proba.<class>`` column per class."""
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"predict needs a pandas DataFrame of feature columns, got {type(frame).__name__}")
    store = store or open_store()
    with store.read() as conn:
        row = versions.resolve(conn, versions.parse_ref(ref))
    loaded = load_version(store, row["name"], row["version"])
    try:
        checked = sig.check_frame(frame, loaded.spec)
        sig.refuse_violations(checked.violations)  # as the service does by default (serving.schema_violations)
        X = checked.frame
    except sig.SignatureMismatch as exc:
        raise MlplatError(f"{ref}: {exc}") from exc
    labels, proba = loaded.predict(X)
    out = pd.DataFrame({"prediction": labels}, index=frame.index)
    if proba is not None and loaded.classes is not None:
        for j, c in enumerate(loaded.classes):
            out[f"proba.{c}"] = [p[j] for p in proba]
    return out


def _task_of(model: Any, task: str | None) -> str:
    if task is not None:
        if task not in ("classification", "regression"):
            raise ConfigError(f"task={task!r}: expected classification or regression")
        return task
    if is_classifier(model):
        return "classification"
    if is_regressor(model):
        return "regression"
    raise ConfigError(f"cannot tell whether {type(model).__name__} is a classifier or a regressor: pass "
                      "task='classification' or task='regression'")


def _frame(X: Any, what: str):
    if X is None:
        return None
    if not isinstance(X, pd.DataFrame):
        raise ConfigError(f"{what} must be a pandas DataFrame (named feature columns, as served), got "
                          f"{type(X).__name__}")
    return X


def _declared_dataset(name: str) -> dict | None:
    """The dataset config ``name`` (conf/dataset/<name>.yaml), resolved, if the project declares one."""
    if find_config(f"dataset/{name}.yaml") is None:
        return None
    return compose_plain([f"dataset={name}"])["dataset"]


def log_run(model: Any, *, X=None, y=None, X_test=None, y_test=None, params: dict | None = None,
            metrics: dict[str, float] | None = None, dataset: str, name: str, task: str | None = None,
            experiment: str | None = None, primary: str | None = None, tags: dict[str, str] | None = None,
            actor: str, source: str = "api", store=None) -> dict[str, Any]:
    """Record ``model`` (fitted, scikit-learn compatible) as a finished run; returns the run.

    ``metrics`` are recorded as given, as the run's cv-stage metrics (e.g. your own
    cross-validation means); with ``X_test``/``y_test`` mlplat computes the holdout metrics
    itself with the engine's metric functions. ``X`` (training features) gives the
    signature and the reference profile that monitoring compares live data with. When
    ``dataset`` names a declared dataset (conf/dataset/<name>.yaml), the data given is
    validated against its schema (a promotion gate needs that); otherwise the run records
    that it was not validated.
    """
    t_start = time.perf_counter()
    if not hasattr(model, "predict"):
        raise ConfigError(f"log_run needs a fitted model with predict(), got {type(model).__name__}")
    X, X_test = _frame(X, "X"), _frame(X_test, "X_test")
    if X is None:
        raise ConfigError("log_run needs X (the training features): they give the signature the service checks "
                          "requests against and the reference profile monitoring compares with")
    if (X_test is None) != (y_test is None):
        raise ConfigError("pass X_test and y_test together (or neither)")
    task = _task_of(model, task)
    primary = primary or DEFAULT_PRIMARY[task]
    get_metric(primary)
    target = str(getattr(y, "name", None) or getattr(y_test, "name", None) or "target")
    ys = [pd.Series(np.asarray(v), name=target) for v in (y, y_test) if v is not None]
    if task == "classification":
        labels = np.asarray(getattr(model, "classes_", None) if hasattr(model, "classes_")
                            else np.sort(pd.concat(ys).unique()))
    else:
        labels = None
    holdout: dict[str, float] = {}
    if X_test is not None:
        holdout = score(metrics_for(task, None, primary), model, X_test, pd.Series(np.asarray(y_test), name=target),
                        labels)
    given = {str(k): float(v) for k, v in (metrics or {}).items()}
    for key in given:  # unknown names are refused: the leaderboard ranks by known metrics only
        if get_metric(key).task != task:
            raise ConfigError(f"metric {key!r} is for {get_metric(key).task}, but the model is a {task} model")
    primary_value = given.get(primary, holdout.get(primary))
    if primary_value is None:
        raise ConfigError(f"no value for the primary metric {primary!r}: pass metrics={{{primary!r}: ...}} or "
                          "X_test/y_test to compute it")

    frames = [X.assign(**{target: ys[0].to_numpy()}) if y is not None else X]
    if X_test is not None:
        frames.append(X_test.assign(**{target: np.asarray(y_test)}))
    data = pd.concat(frames, ignore_index=True)
    declared = _declared_dataset(dataset)
    validated = None
    if declared is not None:
        data = data.rename(columns={target: declared["target"]})
        target = declared["target"]
        # the id column identifies rows in the source; a model's features rarely carry it
        validation.validate(data, {**declared, "id_column": declared["id_column"]
                                   if declared.get("id_column") in data.columns else None})
        validated = True
    fingerprint = fp.fingerprint(data)

    base = compose_plain([])
    tracking = base["tracking"]
    store = store or open_store(tracking)
    run_id = engine.new_id()
    experiment = experiment or base["name"]
    test_size = len(X_test) / len(data) if X_test is not None else 0.0
    cls = f"{type(model).__module__}.{type(model).__qualname__}"
    config = {
        "logged": True,  # recorded by log_run: trained outside mlplat, so `runs rerun` cannot repeat it
        "name": experiment, "seed": None, "tags": dict(tags or {}),
        "dataset": {"name": dataset, "task": task, "target": target,
                    "categorical": [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]},
        "model": {"name": name, "class": cls, "params": dict(params or {})},
        "features": {"name": "external"},
        "evaluation": {"primary": primary, "test_size": test_size, "metrics": sorted({*given, *holdout})},
        "tracking": tracking,
    }
    art.check_writable(tracking["artifacts"])
    runs_store.start_run(store, runs_store.RunStart(
        id=run_id, experiment=experiment, actor=actor, source=source, config=config, overrides=[],
        config_hash=provenance.config_hash(config), code_version=provenance.code_version()[0],
        code_dirty=provenance.code_version()[1], package_versions=provenance.package_versions(),
        dataset=dataset, model=name, features="external", task=task, primary_metric=primary,
        tags=dict(tags or {}), params=dict(params or {}),
    ))
    try:
        run_dir = art.run_location(tracking["artifacts"], run_id)
        y_train = ys[0] if y is not None else pd.Series(np.asarray(y_test), name=target)
        features = engine._feature_report(model) if hasattr(model, "steps") else {"names": [str(c) for c in X.columns]}
        written = [
            art.write_pickle(run_dir, "model.joblib", model),
            art.write_json(run_dir, "config.json", config),
            art.write_json(run_dir, "metrics.json", {"cv": {k: {"mean": v, "std": None} for k, v in given.items()},
                                                     "folds": [], "holdout": holdout, "logged": True,
                                                     "positive_class": engine._positive_class(labels)}),
            art.write_json(run_dir, "features.json", features),
            art.write_json(run_dir, "signature.json", engine._signature(X, y_train, labels, task,
                                                                       (declared or {}).get("columns"))),
        ]
        # a model fitted elsewhere cannot be cross-validated here: its reference outputs are
        # its predictions on the test rows (or on X when none were given)
        reference = engine.monitored_output(model, X_test if X_test is not None else X, task)
        written += engine._extra_artifacts(run_dir, X, reference, config["dataset"])
        runs_store.finish_run(store, run_id, runs_store.RunResult(
            cv={k: (v, float("nan")) for k, v in given.items()}, folds=[], holdout=holdout,
            primary_value=float(primary_value), fit_time_s=0.0, duration_s=time.perf_counter() - t_start,
            dataset_fingerprint=fingerprint, artifact_dir=str(run_dir), artifacts=written,
            validation_passed=validated,
        ), actor=actor, source=source)
    except BaseException as exc:
        runs_store.fail_run(store, run_id, one_line(exc), actor=actor, source=source,
                            dataset_fingerprint=fingerprint, validation_passed=validated)
        raise
    return runs_store.get_run(store, run_id)


__all__ = ["load_model", "predict_frame", "log_run"]
