"""Run one experiment: load -> validate -> split -> build -> cross-validate -> holdout -> fit -> persist.

The engine is a straight line over the lower layers (data, features, models, evaluation)
and writes through the store. It takes a resolved config (a plain dict) and a context
(who, from where, which sweep), so the Hydra app, the bot and tests all call it the same
way. A failure at any step after the run row exists is recorded on that run (status
failed, one-line error) and re-raised for the front door to report.
"""

from __future__ import annotations

import errno
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from mlplat import provenance, redact
from mlplat.data import fingerprint as fp
from mlplat.data import sources, validation
from mlplat.data.profile import profile_frame, summary_of
from mlplat.errors import ConfigError, MlplatError, StoreError, TargetError, one_line
from mlplat.evaluation import cv as cvmod
from mlplat.evaluation.metrics import metrics_for, score
from mlplat.features.build import build_preprocessor
from mlplat.models import params as model_params
from mlplat.models.build import build_estimator
from mlplat.models.labels import LabelEncoded
from mlplat.monitoring.profile import build_profile
from mlplat.tracking import artifacts as art
from mlplat.tracking import runs as runs_store
from mlplat.tracking.store import open_store, retry_locked

log = logging.getLogger("mlplat.engine")


@dataclass
class RunContext:
    actor: str
    source: str = "cli"
    overrides: list[str] = field(default_factory=list)
    sweep_id: str | None = None
    job_num: int | None = None
    invocation_id: str | None = None
    threads: int | None = None
    # recorded with the run's tags beside the config's own (CI: the commit and the pull request);
    # kept out of the config so its hash is the one `mlplat train` gives the same experiment
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RunOutcome:
    run_id: str
    status: str
    primary_metric: str
    primary_value: float | None
    cv: dict[str, tuple[float, float]] = field(default_factory=dict)
    holdout: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def prepare_xy(df: pd.DataFrame, dataset: dict) -> tuple[pd.DataFrame, pd.Series, np.ndarray | None]:
    """Features, target and (classification) sorted class labels, with the task's checks."""
    target, task = dataset["target"], dataset["task"]
    y = df[target]
    if y.isna().any():
        raise TargetError(f"target column {target!r} has {int(y.isna().sum())} missing values; "
                          "set dataset.target_missing=drop to train without those rows, or fill them")
    drop = {target, *(dataset.get("drop") or [])}
    if dataset.get("id_column"):
        drop.add(dataset["id_column"])
    X = df.drop(columns=[c for c in drop if c in df.columns])
    if X.shape[1] == 0:
        raise TargetError(f"dataset {dataset['name']!r} has no feature columns besides the target")
    labels = None
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            raise TargetError(f"target {target!r} is {y.dtype}, not numeric, but the task is regression: "
                              "set dataset.task=classification or choose a numeric target")
        y = y.astype(float)
    else:
        labels = np.sort(y.unique())
        if len(labels) < 2:
            raise TargetError(f"target {target!r} has a single class ({labels[0]!r}); classification needs at "
                              "least two: check the data or the query")
        counts = y.value_counts()
        rare = counts[counts < 2]
        if len(rare):
            raise TargetError(f"target {target!r} has {len(rare)} of {len(counts)} classes with a single row "
                              f"(e.g. {rare.index[0]!r}); is the task regression? set dataset.task or merge rare classes")
    return X, y, labels


def fit_threads(cfg: dict, threads: int | None, train_rows: int) -> int | None:
    """Threads for this fit: the launcher's share, except one for a small fit of an OpenMP
    model (model.threads_from_rows); an explicit runtime.threads always wins."""
    limit = cfg["model"].get("threads_from_rows")
    if (cfg.get("runtime") or {}).get("threads") or not limit or train_rows >= int(limit):
        return threads
    return 1


def build_pipeline(cfg: dict, X: pd.DataFrame, task: str, threads: int | None, labels=None):
    steps = build_preprocessor(cfg["features"], cfg["dataset"], X, task, cfg["seed"])
    estimator = build_estimator(cfg["model"], task, cfg["seed"], threads,
                                allowed=(cfg.get("runtime") or {}).get("allowed_modules"))
    if task == "classification":  # labels of any type, coded once for every fold (models/labels.py)
        estimator = LabelEncoded(estimator, classes=labels)
    steps.append(("model", estimator))
    return Pipeline(steps)


def _feature_report(pipeline) -> dict[str, Any]:
    """Names after preprocessing and, where the model exposes them, importances."""
    try:
        names = [str(n) for n in pipeline[:-1].get_feature_names_out()]
    except Exception:  # some transformers cannot name their outputs; the report is optional
        names = []
    model = pipeline[-1]
    importances = getattr(model, "feature_importances_", None)
    if importances is None and hasattr(model, "coef_"):
        coef = np.asarray(model.coef_)
        importances = np.abs(coef).mean(axis=0) if coef.ndim > 1 else np.abs(coef)
    out: dict[str, Any] = {"names": names}
    if importances is not None and len(names) == len(importances):
        out["importances"] = dict(sorted(zip(names, map(float, importances), strict=True), key=lambda kv: -kv[1]))
    return out


def _signature(X: pd.DataFrame, y: pd.Series, labels, task: str, columns: dict | None = None) -> dict[str, Any]:
    """What the service checks a request against: each input's dtype and nullability, and the
    dataset schema's declared ``allowed`` / ``min`` / ``max`` for it (``columns``, conf/dataset)."""
    def declared(c) -> dict[str, Any]:
        rule = (columns or {}).get(str(c)) or {}
        return {k: (list(rule[k]) if k == "allowed" else rule[k]) for k in ("allowed", "min", "max")
                if rule.get(k) is not None}

    return {
        "inputs": [{"name": str(c), "dtype": str(t), "nullable": bool(X[c].isna().any()), **declared(c)}
                   for c, t in X.dtypes.items()],
        "output": {"task": task, "dtype": str(y.dtype),
                   "classes": [v.item() if hasattr(v, "item") else v for v in labels] if labels is not None else None,
                   "positive_class": _positive_class(labels)},
    }


def _positive_class(labels) -> Any:
    """The class binary metrics (f1, roc_auc) score as positive: the larger of the two labels."""
    if labels is None or len(labels) != 2:
        return None
    return labels[1].item() if hasattr(labels[1], "item") else labels[1]


def run_experiment(cfg: dict, ctx: RunContext, *, store=None) -> RunOutcome:
    """Execute the experiment ``cfg`` (resolved, plain dict) and record it. Raises on failure."""
    t_start = time.perf_counter()
    store = store or open_store(cfg["tracking"])
    dataset, evaluation = cfg["dataset"], cfg["evaluation"]
    task = str(dataset["task"])
    sha, dirty = provenance.code_version()
    run_id = new_id()
    primary = evaluation["primary"]
    # an unreachable bucket fails here, before a run is recorded that could never hold its model
    art.check_writable(cfg["tracking"]["artifacts"])
    recorded = redact.value(cfg)  # what is stored and hashed: credentials masked (mlplat.redact)
    wait = cfg["tracking"].get("lock_wait")
    start = runs_store.RunStart(
        id=run_id, experiment=cfg["name"], actor=ctx.actor, source=ctx.source, config=recorded,
        overrides=ctx.overrides, config_hash=provenance.config_hash(recorded), code_version=sha, code_dirty=dirty,
        package_versions=provenance.package_versions(), dataset=dataset["name"], model=cfg["model"]["name"],
        features=cfg["features"]["name"], task=task, primary_metric=primary, sweep_id=ctx.sweep_id,
        job_num=ctx.job_num, invocation_id=ctx.invocation_id, tags={**dict(cfg.get("tags") or {}), **ctx.tags},
        params=model_params.requested(cfg["model"], task),  # replaced by the fitted estimator's at the end
    )
    try:
        retry_locked(lambda: runs_store.start_run(store, start), wait_s=wait, what="recording the run's start")
    except StoreError as exc:
        raise StoreError(f"no run recorded: {exc}") from exc
    fingerprint = None
    validated = False
    try:
        metrics = metrics_for(task, evaluation.get("metrics"), primary)
        df = sources.load(dataset)
        validation.validate(df, dataset)
        validated = True
        fingerprint = fp.fingerprint(df)
        X, y, labels = prepare_xy(df, dataset)
        X_train, X_test, y_train, y_test = cvmod.holdout_split(X, y, task, float(evaluation["test_size"]), cfg["seed"])
        folds = int(evaluation["cv"]["folds"])
        if task == "classification" and y_train.value_counts().min() < folds:
            raise TargetError(f"the smallest class of target {dataset['target']!r} has "
                              f"{int(y_train.value_counts().min())} training rows, fewer than "
                              f"evaluation.cv.folds={folds}: lower the folds or get more data")
        threads = fit_threads(cfg, ctx.threads, len(X_train))
        with threadpool_limits(limits=threads):
            pipeline = build_pipeline(cfg, X_train, task, threads, labels)
            splitter = cvmod.make_folds(task, folds, bool(evaluation["cv"]["shuffle"]), cfg["seed"])
            cv_result = cvmod.cross_validate(pipeline, X_train, y_train, splitter, metrics, labels,
                                             predict=lambda est, X: monitored_output(est, X, task))
            final = clone(pipeline)
            t0 = time.perf_counter()
            final.fit(X_train, y_train)
            final_fit = time.perf_counter() - t0
            holdout = score(metrics, final, X_test, y_test, labels) if len(X_test) else {}
        aggregate = cv_result.aggregate()
        primary_value = aggregate[primary][0]
        if not math.isfinite(primary_value):
            raise MlplatError(f"the primary metric {primary} is {primary_value} (not finite); check the data "
                              "and hyper-parameters")
        run_dir = art.run_location(cfg["tracking"]["artifacts"], run_id)
        try:
            with art.together():  # on object storage, the run's PUTs at once
                written = _write_artifacts(run_dir, recorded, final, aggregate, cv_result, holdout, final_fit,
                                           labels, X_train, y_train, task, df, dataset, fingerprint)
        except OSError as exc:
            raise _artifact_error(exc, run_dir) from exc
        result = runs_store.RunResult(
            cv=aggregate, folds=cv_result.folds, holdout=holdout, primary_value=primary_value,
            fit_time_s=sum(cv_result.fit_times) + final_fit, duration_s=time.perf_counter() - t_start,
            dataset_fingerprint=fingerprint, artifact_dir=str(run_dir), artifacts=written,
            params=model_params.effective(final[-1]),
        )
        # the fit is done and on disk: a store busy with another writer is waited for, not a failure
        retry_locked(lambda: runs_store.finish_run(store, run_id, result, actor=ctx.actor, source=ctx.source),
                     wait_s=wait, what=f"recording the result of run {run_id}")
        return RunOutcome(run_id, "done", primary, primary_value, aggregate, holdout)
    except BaseException as exc:
        message = one_line(exc)
        retry_locked(lambda: runs_store.fail_run(store, run_id, message, actor=ctx.actor, source=ctx.source,
                                                 dataset_fingerprint=fingerprint, validation_passed=validated),
                     wait_s=wait, what=f"recording the failure of run {run_id}")
        exc.mlplat_run_id = run_id  # type: ignore[attr-defined]
        raise


def _write_artifacts(run_dir: str, recorded: dict, final, aggregate, cv_result, holdout, final_fit, labels,
                     X_train, y_train, task: str, df, dataset: dict, fingerprint) -> list:
    written = [
        art.write_pickle(run_dir, "model.joblib", final),
        art.write_json(run_dir, "config.json", recorded),  # credentials masked
        art.write_json(run_dir, "metrics.json", {"cv": {k: {"mean": m, "std": s} for k, (m, s) in aggregate.items()},
                                                 "folds": cv_result.folds, "holdout": holdout,
                                                 "fit_times": cv_result.fit_times, "final_fit_time": final_fit,
                                                 "positive_class": _positive_class(labels)}),
        art.write_json(run_dir, "features.json", _feature_report(final)),
        art.write_json(run_dir, "signature.json", _signature(X_train, y_train, labels, task, dataset.get("columns"))),
    ]
    written += _extra_artifacts(run_dir, X_train, cv_result.oof, dataset)
    written += _data_profile_artifact(run_dir, df, dataset, task, fingerprint)
    return written


def _artifact_error(exc: OSError, run_dir: str) -> MlplatError:
    """One line naming the folder when an artifact cannot be written (ENOSPC's own text names no path)."""
    if exc.errno == errno.ENOSPC:
        return MlplatError(f"disk full writing the artifacts under {run_dir}: free space there or point "
                           "tracking.artifacts at another disk")
    return MlplatError(f"cannot write the artifacts under {run_dir}: {exc.strerror or exc}")


def monitored_output(model, X: pd.DataFrame, task: str) -> np.ndarray:
    """What drift monitoring watches of a model's answers: a binary classifier's positive-class
    probability (more sensitive than the label), any other model's prediction."""
    if task == "classification" and hasattr(model, "predict_proba") and len(getattr(model, "classes_", [])) == 2:
        return model.predict_proba(X)[:, 1]
    return model.predict(X)


def _extra_artifacts(run_dir: str, X_train: pd.DataFrame, oof: np.ndarray | None, dataset: dict) -> list:
    """Artifacts later layers need without reloading the training data (reference profile).

    Features are profiled on the training split (what the model learned from). The reference
    *predictions* are the cross-validation's out-of-fold outputs over the same rows: each row
    predicted by a model that did not see it, like a live row, and as many as there are
    training rows (the holdout's few rows made a KS test against live batches fire on
    sampling noise). Predictions of the final model on its own training rows would be
    over-confident (a forest's are near 0/1).
    """
    categorical = [c for c in (dataset.get("categorical") or []) if c in X_train.columns]
    numeric = [c for c in X_train.columns if c not in categorical and pd.api.types.is_numeric_dtype(X_train[c])]
    try:
        profile = build_profile(X_train, numeric=numeric, categorical=categorical, predictions=oof)
    except Exception as exc:  # a missing profile disables drift checks for this run, not the run itself
        log.warning("reference profile not computed: %s", one_line(exc))
        return []
    return [art.write_json(run_dir, "profile.json", profile, compact=True)]


# above this many rows a run's data profile leaves out the associations (a sweep would pay them per job);
# `mlplat data profile` always computes them
PROFILE_ASSOCIATION_ROWS = 200_000


def _data_profile_artifact(run_dir: str, df: pd.DataFrame, dataset: dict, task: str, fingerprint: str) -> list:
    """The dataset's profile summary, stored beside its fingerprint (lineage: what the data looked like)."""
    try:
        profile = profile_frame(df, target=dataset["target"], task=task, associations=len(df) <= PROFILE_ASSOCIATION_ROWS,
                                declared_ids=[dataset.get("id_column")])
    except Exception as exc:  # the summary documents the run; its absence must not fail the run
        log.warning("data profile not computed: %s", one_line(exc))
        return []
    return [art.write_json(run_dir, "data_profile.json", {**summary_of(profile), "fingerprint": fingerprint})]


__all__ = ["RunContext", "RunOutcome", "run_experiment", "prepare_xy", "build_pipeline", "ConfigError"]
