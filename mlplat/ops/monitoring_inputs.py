"""What a monitoring check reads: the registered version, its reference profile, and the current data (a file or
the prediction log). Helpers of ``mlplat.ops.monitoring``: they use other operations, so they live in ops."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import pandas as pd
import sqlalchemy as sa

from mlplat.errors import MlplatError, MonitoringError
from mlplat.monitoring import settings as mset
from mlplat.monitoring.checks import read_table
from mlplat.ops.common import compose_plain, open_store
from mlplat.registry import versions
from mlplat.serving.holder import load_version
from mlplat.serving.predlog import read_prediction_log, version_counts
from mlplat.serving.predlog_columns import read_window_columns
from mlplat.tracking.artifacts import read_verified
from mlplat.tracking.runs import get_run
from mlplat.tracking.schema import artifacts


# ----------------------------------------------------------------------------- context
class _Context:
    """Settings, serving config and store for one operation, composing the config at most once."""
    def __init__(self, monitor: dict | None, serving: dict | None, overrides: list[str] | None, store,
                 policy: dict | None = None):
        self._plain: dict | None = None
        self._overrides = list(overrides or [])
        self.settings = mset.load(monitor if monitor is not None else self._composed().get("monitor"))
        self.serving = serving if serving is not None else self._composed()["serving"]
        self._policy = policy
        self.store = store or _open_store()

    def _composed(self) -> dict:
        if self._plain is None:
            self._plain = compose_plain(self._overrides)
        return self._plain

    @property
    def policy(self) -> dict:
        if self._policy is None:
            self._policy = self._composed().get("registry") or {}
        return self._policy

    @property
    def log_root(self) -> str:
        return str((self.serving.get("prediction_log") or {}).get("dir") or "runs/predictions")

    @property
    def log_options(self) -> dict | None:
        return (self.serving.get("prediction_log") or {}).get("storage_options") or None


def _open_store():
    return open_store()


def _resolve_version(store, ref_text: str, default_alias: str) -> dict[str, Any]:
    """``name`` means what the service serves (serving.alias, e.g. production) or else the latest version."""
    r = versions.parse_ref(ref_text)
    if r.version is None and r.alias is None:
        with store.read() as conn:
            versions.resolve(conn, r)  # NotFound with the fix when the model is unknown
            if default_alias in versions.aliases_of(conn, r.name):
                r = versions.Ref(r.name, alias=default_alias)
    return versions.get(store, r)


def _version_of_file(store, ref_text: str, default_alias: str, frame, path: str) -> dict[str, Any]:
    """The version a scored ``--current`` file is checked against: the one that scored it.

    `mlplat predict` writes a ``model_version`` column; a bare model name then means that
    version (not the served one), and a ref naming another version is refused rather than
    comparing one version's answers with another's reference.
    """
    if "model_version" not in frame.columns or frame["model_version"].isna().all():
        return _resolve_version(store, ref_text, default_alias)
    scored = sorted({int(v) for v in frame["model_version"].dropna().unique()})
    r = versions.parse_ref(ref_text)
    if len(scored) > 1:
        raise MonitoringError(f"current file {path!r} was scored by several versions of {r.name} ({scored}); "
                              "check one version's rows at a time")
    if r.version is None and r.alias is None:
        return versions.get(store, versions.Ref(r.name, version=scored[0]))
    version = versions.get(store, r)
    if int(version["version"]) != scored[0]:
        raise MonitoringError(f"current file {path!r} was scored by {r.name}:{scored[0]}, not {ref_text} "
                              f"({r.name}:{version['version']}): check {r.name}:{scored[0]}, or score the file "
                              f"with `mlplat predict {ref_text} --input FILE --output SCORED` first")
    return version


def _artifact(store, run_id: str, name: str) -> tuple[bytes | None, str | None]:
    """An artifact's verified bytes, or None and the reason it cannot be used."""
    with store.read() as conn:
        row = conn.execute(sa.select(artifacts).where(artifacts.c.run_id == run_id, artifacts.c.name == name)).first()
    if row is None:
        return None, f"run {run_id} has no {name}"
    if row.pruned_at is not None:
        return None, f"{name} of run {run_id} was pruned"
    try:
        return read_verified(row.path, row.sha256), None
    except MlplatError as exc:
        return None, str(exc)


def _load_profile(store, version: dict[str, Any]) -> tuple[dict | None, str | None]:
    subject = f"{version['name']}:{version['version']}"
    data, why = _artifact(store, version["run_id"], "profile.json")
    if data is None:
        return None, (f"{subject} has no reference profile ({why}); drift needs one: re-train with this mlplat and "
                      "register the new run")
    try:
        return json.loads(data), None
    except ValueError as exc:
        return None, f"the reference profile of {subject} is not valid JSON ({exc}); re-train and register"


def _window(since: float | None, until: float | None) -> tuple[float | None, float]:
    until = time.time() if until is None else float(until)
    if since is not None and since >= until:
        raise MonitoringError(f"the window is empty: since ({since:.0f}) is not before until ({until:.0f})")
    return since, until


@contextlib.contextmanager
def _log_errors(ctx: _Context, name: str):
    """A corrupt Parquet part, a store that is down: say which log, not a traceback."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - pyarrow, fsspec and botocore raise their own types
        text = str(exc).strip()
        raise MonitoringError(f"cannot read the prediction log of {name!r} under {ctx.log_root!r}: "
                              f"{text.splitlines()[0] if text else type(exc).__name__}") from exc


def _read_log(ctx: _Context, name: str, since: float | None, until: float, *, version: int | None = None,
              columns: list[str] | None = None, ordered: bool = True):
    """The window of the prediction log; the window, the version and the columns are pushed down to the
    Parquet reader (mlplat/serving/predlog.py), so only those rows and columns are read."""
    with _log_errors(ctx, name):
        return read_prediction_log(name, since, root=ctx.log_root, until=until, version=version, columns=columns,
                                   ordered=ordered, storage_options=ctx.log_options)


def _read_window(ctx: _Context, name: str, since: float | None, until: float, version: int,
                 columns: list[str] | None):
    """The columns a drift check uses, as compact arrays when the log allows (a week of a busy service
    is ten million rows: mlplat/serving/predlog_columns.py), else the plain read."""
    if columns:
        with _log_errors(ctx, name):
            frame = read_window_columns(name, since, until, root=ctx.log_root, version=version, columns=columns,
                                        storage_options=ctx.log_options)
        if frame is not None:
            return frame
    return _read_log(ctx, name, since, until, version=version, columns=columns, ordered=False)


def _other_versions(ctx: _Context, name: str, version: int, since: float | None, until: float) -> dict[int, int]:
    try:
        counts = version_counts(name, since, root=ctx.log_root, until=until, storage_options=ctx.log_options)
    except Exception as exc:  # noqa: BLE001 - as _read_log
        raise MonitoringError(f"cannot read the prediction log of {name!r} under {ctx.log_root!r}: {exc}") from exc
    return {v: k for v, k in counts.items() if v != version}


# ----------------------------------------------------------------------------- drift inputs
def _pred_column(version: dict[str, Any], profile: dict | None) -> str:
    """Which logged/scored column the profile's ``prediction`` describes.

    The engine profiles a binary classifier by its positive-class probability (more
    sensitive than the label), anything else by its prediction.
    """
    ref = ((profile or {}).get("predictions") or {}).get("prediction") or {}
    classes = ((version.get("signature") or {}).get("output") or {}).get("classes") or []
    if version.get("task") == "classification" and ref.get("kind") == "numeric" and len(classes) == 2:
        return f"proba.{classes[1]}"
    return "prediction"


def _model_predictions(ctx: _Context, version: dict[str, Any], frame, column: str, notes: list[str]):
    """Score ``frame`` with the version's (sha256-verified) model for prediction drift; None if it cannot."""
    names = [f["name"] for f in (version.get("signature") or {}).get("inputs") or []]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        notes.append(f"prediction drift not checked: the model needs the missing column(s) {missing}")
        return None
    if frame.empty:
        return None
    try:
        loaded = load_version(ctx.store, version["name"], version["version"])
        X = frame[names]
        if column.startswith("proba."):
            proba = loaded.model.predict_proba(X)
            idx = [str(c) for c in loaded.model.classes_].index(column.removeprefix("proba."))
            return pd.DataFrame({"prediction": proba[:, idx]})
        return pd.DataFrame({"prediction": loaded.model.predict(X)})
    except Exception as exc:  # noqa: BLE001 - bad data makes the model fail; the feature checks still stand
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        notes.append(f"prediction drift not checked: the model could not score the current data ({text})")
        return None


def _drift_inputs_from_file(ctx: _Context, version: dict[str, Any], profile: dict | None, path: str,
                            notes: list[str], frame=None):
    frame = read_table(path, "current") if frame is None else frame
    column = _pred_column(version, profile)
    output_cols = [c for c in frame.columns if str(c) in ("prediction", "model_version") or str(c).startswith("proba.")]
    features = frame.drop(columns=output_cols)
    preds = None
    if profile and profile.get("predictions"):
        if column in frame.columns:  # a file scored by `mlplat predict`: use what the model said then
            preds = frame[[column]].rename(columns={column: "prediction"})
        else:
            preds = _model_predictions(ctx, version, features, column, notes)
    return features, preds


def _drift_inputs_from_log(ctx: _Context, version: dict[str, Any], profile: dict | None, since, until,
                           notes: list[str]):
    other = _other_versions(ctx, version["name"], int(version["version"]), since, until)
    if other:
        notes.append(f"{sum(other.values())} logged row(s) of other version(s) {sorted(other)} were left out; check "
                     f"{version['name']}:<version> for those")
    names = [f["name"] for f in (version.get("signature") or {}).get("inputs") or []]
    column = _pred_column(version, profile)
    # only what the check uses: a week of a busy service is millions of rows
    wanted = [f"input.{n}" for n in names] + [column] if names else None
    log = _read_window(ctx, version["name"], since, until, int(version["version"]), wanted)
    if log.empty:
        notes.append(f"no predictions of {version['name']}:{version['version']} were logged in the window")
        empty = {n: pd.Series(dtype="float64") for n in names}
        return pd.DataFrame(empty), None, 0
    inputs = {c: c.removeprefix("input.") for c in log.columns if str(c).startswith("input.")}
    features = log[list(inputs)].rename(columns=inputs)
    preds = None
    if column in log.columns:
        preds = log[[column]].rename(columns={column: "prediction"})
    return features, preds, len(log)


# ----------------------------------------------------------------------------- performance
def _run_dataset(store, version: dict[str, Any]) -> dict[str, Any]:
    try:
        return (get_run(store, version["run_id"]).get("config") or {}).get("dataset") or {}
    except MlplatError:
        return {}


def _label_column(labels, given: str | None, dataset: dict[str, Any], id_cols: list[str]) -> str:
    if given:
        if given not in labels.columns:
            raise MonitoringError(f"label column {given!r} is not in the labels file (it has {list(labels.columns)})")
        return given
    for candidate in (dataset.get("target"), "label", "y"):
        if candidate and candidate in labels.columns:
            return str(candidate)
    rest = [c for c in labels.columns if c not in id_cols]
    if len(rest) == 1:
        return str(rest[0])
    raise MonitoringError(f"cannot tell which labels column holds the label (columns {list(labels.columns)}); "
                          "name it with --label-column")


def _proba_frame(frame, classes: list[Any] | None):
    if not classes:
        return None
    cols = [f"proba.{c}" for c in classes]
    return frame[cols] if all(c in frame.columns for c in cols) else None


def _scored_file(ctx: _Context, version: dict[str, Any], path: str, notes: list[str], frame=None):
    """A --current file with the model's outputs: its own prediction columns, else scored now."""
    frame = (read_table(path, "current") if frame is None else frame).reset_index(drop=True)
    if "prediction" in frame.columns:
        return frame
    names = [f["name"] for f in (version.get("signature") or {}).get("inputs") or []]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise MonitoringError(f"current file {path!r} lacks the model's feature column(s) {missing} and has no "
                              "prediction column; add them or score it with `mlplat predict` first")
    loaded = load_version(ctx.store, version["name"], version["version"])
    try:
        pred, proba = loaded.predict(frame[names])
    except Exception as exc:
        raise MonitoringError(f"the model could not score {path!r}: {str(exc).splitlines()[0]}") from exc
    frame["prediction"] = pred
    if proba is not None and loaded.classes:
        proba_df = pd.DataFrame(proba, columns=[f"proba.{c}" for c in loaded.classes])
        frame = pd.concat([frame, proba_df], axis=1)
    notes.append(f"{path} had no prediction column: scored with {version['name']}:{version['version']}")
    return frame
