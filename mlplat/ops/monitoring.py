"""Operations of the monitoring stage: drift, performance and latency checks, history, retraining.

Every check reads the *registered version* (its stored reference profile, holdout metrics,
signature), never the training data; its current data comes from a file or from the
prediction service's log. Each check is recorded in ``monitor_checks`` (so `history`, the
governance report and the bot can read it), audited, written as JSON (and HTML for drift)
under ``monitor.reports_dir``, and alerts go through the installed notifier, deduplicated
across processes by the ``monitor_alerts`` ledger.

A check that could look at nothing (no reference profile, an empty window, no labelled
row) is still recorded and reported, then raises ``MonitoringError``, with the result
attached as ``exc.result``, so every front door exits non-zero or alerts on it; a check
where only *some* features failed returns normally with those features in status
``error`` and their reasons.

``monitor`` / ``serving`` default to the composed config groups (``overrides`` are
Hydra-style overrides applied when composing); ``store`` to the configured store.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from mlplat.errors import MlplatError, MonitoringError

KINDS = ("drift", "performance", "latency")
OUTPUT_FORMATS = ("json", "html")


# ----------------------------------------------------------------------------- context
class _Context:
    """Settings, serving config and store for one operation, composing the config at most once."""

    def __init__(self, monitor: dict | None, serving: dict | None, overrides: list[str] | None, store,
                 policy: dict | None = None):
        from mlplat.monitoring import settings as mset

        self._plain: dict | None = None
        self._overrides = list(overrides or [])
        self.settings = mset.load(monitor if monitor is not None else self._composed().get("monitor"))
        self.serving = serving if serving is not None else self._composed()["serving"]
        self._policy = policy
        self.store = store or _open_store()

    def _composed(self) -> dict:
        if self._plain is None:
            from mlplat.ops.runs import compose_plain

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


def _open_store():
    from mlplat.ops.runs import open_store

    return open_store()


def _resolve_version(store, ref_text: str, default_alias: str) -> dict[str, Any]:
    """``name`` means what the service serves (serving.alias, e.g. production) or else the latest version."""
    from mlplat.registry import versions

    r = versions.parse_ref(ref_text)
    if r.version is None and r.alias is None:
        with store.read() as conn:
            versions.resolve(conn, r)  # NotFound with the fix when the model is unknown
            if default_alias in versions.aliases_of(conn, r.name):
                r = versions.Ref(r.name, alias=default_alias)
    return versions.get(store, r)


def _artifact(store, run_id: str, name: str) -> tuple[bytes | None, str | None]:
    """An artifact's verified bytes, or None and the reason it cannot be used."""
    import sqlalchemy as sa

    from mlplat.tracking.artifacts import read_verified
    from mlplat.tracking.schema import artifacts

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


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


def _write(path: str | Path, text: str) -> str:
    """Atomic write (temp file + rename): a reader (the bot uploading a report) never sees half of it."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        raise MonitoringError(f"cannot write {str(target)!r}: {exc.strerror or exc}; choose a writable --output "
                              "(or fix monitor.reports_dir)") from exc
    return str(target)


def _json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=str, allow_nan=False)


def _jsonable(obj: Any) -> Any:
    """NaN/inf (e.g. a metric on one class) become None so reports stay strict JSON."""
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------- recording and alerts
def _record(ctx: _Context, *, kind: str, out: dict[str, Any], statuses: dict[str, str], summary: dict[str, Any],
            actor: str, source: str) -> int:
    from mlplat.governance import audit
    from mlplat.monitoring.schema import monitor_checks

    window = out.get("window") or {}
    with ctx.store.write() as conn:
        check_id = conn.execute(monitor_checks.insert().values(
            created_at=out["checked_at"], kind=kind, model=out["model"], version=out.get("version"),
            window_start=window.get("start"), window_end=window.get("end"), input=out.get("input"),
            n_rows=out.get("n_rows"), status=out["status"], features=json.dumps(statuses, sort_keys=True),
            summary=json.dumps(_jsonable(summary), sort_keys=True), report_json=out["reports"].get("json"),
            report_html=out["reports"].get("html"), actor=actor, source=source,
        )).inserted_primary_key[0]
        audit.append(conn, actor=actor, source=source, action=f"monitor.{kind}", object_type="model",
                     object_id=f"{out['model']}:{out.get('version')}" if out.get("version") else out["model"],
                     payload={"check_id": int(check_id), "status": out["status"], "input": out.get("input"),
                              "report": out["reports"].get("json")})
    return int(check_id)


def _alert(ctx: _Context, *, kind: str, out: dict[str, Any], findings: list, title: str) -> dict[str, Any]:
    """Record the findings in the dedup ledger and send the new ones (see mlplat.monitoring.alerts)."""
    from mlplat.monitoring import alerts
    from mlplat.monitoring.settings import seconds

    alarm = set(ctx.settings["alerts"]["statuses"])
    findings = [f for f in findings if f.status in alarm]
    if not findings:
        return {"sent": False, "new": [], "suppressed": []}
    cooldown = seconds(ctx.settings["alerts"]["cooldown"], "alerts.cooldown")
    with ctx.store.write() as conn:
        decision = alerts.decide(conn, model=out["model"], kind=kind, findings=findings, cooldown_s=cooldown,
                                 check_id=out.get("check_id"))
    result: dict[str, Any] = {"sent": decision.send, "new": [f.feature for f in decision.new],
                              "suppressed": [f.feature for f in decision.suppressed]}
    if decision.send:
        ev = alerts.event(kind=kind, model=out["model"], version=out.get("version"), status=out["status"],
                          decision=decision, title=title,
                          attachments=[out["reports"].get("html"), out["reports"].get("json")],
                          details={"check_id": out.get("check_id"), "input": out.get("input"),
                                   "window": out.get("window")})
        failure = alerts.deliver(ev)
        if failure:
            result["error"] = failure
    return result


def _fail_if_nothing_checked(out: dict[str, Any], reason: str) -> None:
    if out["status"] == "error":
        where = out["reports"].get("html") or out["reports"].get("json")
        exc = MonitoringError(f"nothing could be checked for {out['ref']}: {reason}"
                              + (f" (report: {where})" if where else ""))
        exc.result = out  # type: ignore[attr-defined]
        raise exc


def _window(since: float | None, until: float | None) -> tuple[float | None, float]:
    until = time.time() if until is None else float(until)
    if since is not None and since >= until:
        raise MonitoringError(f"the window is empty: since ({since:.0f}) is not before until ({until:.0f})")
    return since, until


def _read_log(ctx: _Context, name: str, since: float | None, until: float):
    from mlplat.ops.serving import read_prediction_log

    try:
        log = read_prediction_log(name, since, root=ctx.log_root)
    except Exception as exc:  # a corrupt Parquet part: say which store, not a traceback
        raise MonitoringError(f"cannot read the prediction log of {name!r} under {ctx.log_root!r}: {exc}") from exc
    if len(log) and "ts" in log.columns:
        log = log[log["ts"] <= until]
    return log


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
    import pandas as pd

    from mlplat.serving.holder import load_version

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
                            notes: list[str]):
    from mlplat.monitoring.checks import read_table

    frame = read_table(path, "current")
    column = _pred_column(version, profile)
    output_cols = [c for c in frame.columns if str(c) == "prediction" or str(c).startswith("proba.")]
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
    import pandas as pd

    log = _read_log(ctx, version["name"], since, until)
    if len(log) and "version" in log.columns:
        other = log[log["version"] != version["version"]]
        if len(other):
            seen = sorted({int(v) for v in other["version"].dropna().unique()})
            notes.append(f"{len(other)} logged row(s) of other version(s) {seen} were left out; check "
                         f"{version['name']}:<version> for those")
        log = log[log["version"] == version["version"]]
    names = [f["name"] for f in (version.get("signature") or {}).get("inputs") or []]
    if log.empty:
        notes.append(f"no predictions of {version['name']}:{version['version']} were logged in the window")
        empty = {n: pd.Series(dtype="float64") for n in names}
        return pd.DataFrame(empty), None, 0
    inputs = {c: c.removeprefix("input.") for c in log.columns if str(c).startswith("input.")}
    features = log[list(inputs)].rename(columns=inputs).reset_index(drop=True)
    column = _pred_column(version, profile)
    preds = None
    if column in log.columns:
        preds = log[[column]].rename(columns={column: "prediction"}).reset_index(drop=True)
    return features, preds, len(log)


# ----------------------------------------------------------------------------- drift
def _strip_plots(features: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: {kk: vv for kk, vv in v.items() if kk != "plot"} for k, v in features.items()}


def _confirmed(ctx: _Context, name: str, needed: int) -> bool:
    """The last ``needed`` drift checks of ``name`` (this one included) all found drift."""
    import sqlalchemy as sa

    from mlplat.monitoring.schema import monitor_checks

    with ctx.store.read() as conn:
        last = conn.execute(sa.select(monitor_checks.c.status).where(
            monitor_checks.c.model == name, monitor_checks.c.kind == "drift")
            .order_by(monitor_checks.c.created_at.desc(), monitor_checks.c.id.desc()).limit(needed)).scalars().all()
    return len(last) == needed and all(s == "drift" for s in last)


def _maybe_retrain(ctx: _Context, out: dict[str, Any], actor: str, source: str) -> dict[str, Any] | None:
    from mlplat.monitoring import alerts, retrain
    from mlplat.monitoring.settings import seconds

    spec = ctx.settings["retrain"]
    if spec["when"] != "drift" or out["status"] != "drift":
        return None
    needed = int(spec["confirm"])
    if not _confirmed(ctx, out["model"], needed):
        return {"status": "waiting", "reason": f"drift not yet confirmed: needs {needed} consecutive drift checks "
                                               "(monitor.retrain.confirm)"}
    finding = alerts.Finding("model", "launched", f"drift confirmed by check {out['check_id']}")
    with ctx.store.write() as conn:
        decision = alerts.decide(conn, model=out["model"], kind="retrain", findings=[finding],
                                 cooldown_s=seconds(spec["cooldown"], "retrain.cooldown"), check_id=out["check_id"])
    if not decision.send:
        return {"status": "skipped", "reason": f"a retraining of {out['model']} was launched within "
                                               f"monitor.retrain.cooldown={spec['cooldown']}"}
    reason = f"drift confirmed by check {out['check_id']} ({out['ref']})"
    if spec["wait"]:
        result = retrain.run(out["model"], spec, store=ctx.store, actor=actor, source=source, policy=ctx.policy,
                             reason=reason, check_id=out["check_id"])
        _notify_retrain(result)
        return result
    return retrain.launch_background(out["model"], spec, store=ctx.store, reports_dir=ctx.settings["reports_dir"],
                                     reason=reason, check_id=out["check_id"])


def _notify_retrain(result: dict[str, Any]) -> None:
    from mlplat.monitoring import alerts

    approval = result.get("approval") or {}
    if result.get("status") == "done":
        text = (f"{result['model']}:{result['version']} registered from run {result['run_id']}; approval request "
                f"{approval.get('id') or '-'} for {approval.get('target')}: {approval.get('status')}"
                + (f" ({approval['reason']})" if approval.get("reason") else ""))
    else:
        text = f"retraining of {result['model']} failed: {result.get('error')}"
    alerts.deliver({"kind": "retrain", "title": f"Retraining of {result['model']} {result.get('status')}",
                    "text": text, "status": result.get("status"), "model": result["model"],
                    "version": result.get("version"), "details": {k: v for k, v in result.items() if k != "command"},
                    "attachments": [], "dedup_key": None})


def check_drift(name_or_ref: str, *, current: str | None = None, since: float | None = None, actor: str,
                source: str, fmt: str | None = None, output: str | None = None, until: float | None = None,
                store=None, monitor: dict | None = None, serving: dict | None = None,
                overrides: list[str] | None = None) -> dict[str, Any]:
    """Data and prediction drift of a registered version on a file (``current``) or the log since ``since``.

    ``name_or_ref``: ``name`` (the served alias, else the latest version), ``name:3`` or
    ``name@alias``. Returns the verdict (``status`` ok | warn | drift), per-feature results,
    ``worst_features``, ``reports`` (json and html paths), ``alert`` and ``retrain`` outcomes;
    ``output`` (with ``fmt`` json | html, else by suffix) gets a copy of the report.
    Raises MonitoringError (result in ``exc.result``) when nothing could be checked.
    """
    from mlplat.monitoring import alerts
    from mlplat.monitoring.checks import worst_first
    from mlplat.monitoring.drift import check_drift as run_check
    from mlplat.monitoring.report import to_html
    from mlplat.monitoring.settings import drift_config

    if (current is None) == (since is None):
        raise MonitoringError("give exactly one of current (a CSV/Parquet file) or since (the start of the "
                              "prediction-log window), e.g. --current batch.parquet or --since 24h")
    out_fmt = _output_format(fmt, output)
    ctx = _Context(monitor, serving, overrides, store)
    version = _resolve_version(ctx.store, name_or_ref, str(ctx.serving.get("alias") or "production"))
    name, v = version["name"], int(version["version"])
    profile, profile_error = _load_profile(ctx.store, version)
    notes: list[str] = []
    window: dict[str, Any] | None = None
    if current is not None:
        features, preds = _drift_inputs_from_file(ctx, version, profile, current, notes)
        n_rows, source_desc = len(features), str(current)
    else:
        start, end = _window(since, until)
        window = {"start": start, "end": end}
        features, preds, n_rows = _drift_inputs_from_log(ctx, version, profile, start, end, notes)
        source_desc = "prediction log"
    result = run_check(profile, features, config=drift_config(ctx.settings), predictions=preds).to_dict()
    if profile is None:
        # the library says "reference profile missing"; say which version and how to fix it
        for feat in result["features"].values():
            feat["reason"] = profile_error
    checked_at = time.time()
    out: dict[str, Any] = {
        "kind": "drift", "model": name, "version": v, "ref": f"{name}:{v}", "checked_at": checked_at,
        "input": source_desc, "window": window, "n_rows": n_rows,
        **{k: result[k] for k in ("status", "dataset_drift", "share_drifted", "drift_share", "n_checked",
                                   "n_drifted", "ignored_columns")},
        "features": _strip_plots(result["features"]), "predictions": _strip_plots(result["predictions"]),
        "notes": [*([profile_error] if profile_error else []), *notes, *result["notes"]],
    }
    ranked = worst_first({**out["features"], **{f"prediction:{k}": p for k, p in out["predictions"].items()}})
    out["worst_features"] = [{"name": f["name"], "status": f["status"], "method": f.get("method"),
                              "score": f.get("score"), "threshold": f.get("threshold"), "reason": f.get("reason")}
                             for f in ranked if f["status"] != "ok"][:5]
    stem = Path(ctx.settings["reports_dir"]) / f"{name}-v{v}-{_stamp()}-drift"
    report = {**result, **{k: out[k] for k in ("kind", "model", "version", "ref", "checked_at", "input", "window",
                                               "n_rows", "worst_features", "notes")}}
    title = f"Drift report: {name}:{v} on {source_desc}"
    html_text = to_html(report, title=title)
    out["reports"] = {"json": _write(stem.with_suffix(".json"), _json_text(_jsonable(report))),
                      "html": _write(stem.with_suffix(".html"), html_text)}
    if output:
        out["output"] = _write(output, html_text if out_fmt == "html" else _json_text(_jsonable(report)))
    statuses = {k: f["status"] for k, f in out["features"].items()}
    statuses.update({f"prediction:{k}": p["status"] for k, p in out["predictions"].items()})
    out["check_id"] = _record(ctx, kind="drift", out=out, statuses=statuses, actor=actor, source=source, summary={
        k: out[k] for k in ("dataset_drift", "share_drifted", "n_checked", "n_drifted", "worst_features")})
    empty_window = next((n for n in notes if n.startswith("no predictions of")), None)
    reason = profile_error or empty_window or next(
        (f["reason"] for f in out["features"].values() if f["status"] == "error"), None) or "no features to check"
    _fail_if_nothing_checked(out, reason)
    findings = [alerts.Finding(f["name"], f["status"], f.get("reason") or "") for f in ranked]
    if out["dataset_drift"]:
        findings.insert(0, alerts.Finding("dataset", "drift", f"{out['n_drifted']}/{out['n_checked']} features "
                                                              f"drifted (share >= {out['drift_share']:g})"))
    out["alert"] = _alert(ctx, kind="drift", out=out, findings=findings,
                          title=f"Drift on {name}:{v}: {out['n_drifted']}/{out['n_checked']} features drifted")
    out["retrain"] = _maybe_retrain(ctx, out, actor, source)
    return out


def _output_format(fmt: str | None, output: str | None) -> str | None:
    if fmt is None or fmt == "table":
        if output is None:
            return None
        return "html" if Path(output).suffix.lower() in (".html", ".htm") else "json"
    if fmt not in OUTPUT_FORMATS:
        raise MonitoringError(f"report format {fmt!r} is not supported; use one of {', '.join(OUTPUT_FORMATS)}")
    return fmt


# ----------------------------------------------------------------------------- performance
def _run_dataset(store, version: dict[str, Any]) -> dict[str, Any]:
    from mlplat.tracking.runs import get_run

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


def _scored_file(ctx: _Context, version: dict[str, Any], path: str, notes: list[str]):
    """A --current file with the model's outputs: its own prediction columns, else scored now."""
    import pandas as pd

    from mlplat.monitoring.checks import read_table
    from mlplat.serving.holder import load_version

    frame = read_table(path, "current").reset_index(drop=True)
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


def check_performance(name_or_ref: str, *, labels: str, id_column: str | None = None,
                      label_column: str | None = None, current: str | None = None, since: float | None = None,
                      until: float | None = None, actor: str, source: str, output: str | None = None, store=None,
                      monitor: dict | None = None, serving: dict | None = None,
                      overrides: list[str] | None = None) -> dict[str, Any]:
    """Metrics on labelled predictions vs the version's holdout metrics (tolerances in conf/monitor).

    Labels are joined by ``id_column`` to the prediction log's rows (default ``request_id``;
    with a ``row`` column too when requests held several rows) or, with ``current``, to
    that file's id column (default: the dataset's id_column). Status per metric and
    overall: ok | warn | degraded | error.
    """
    from mlplat.monitoring import alerts, checks

    ctx = _Context(monitor, serving, overrides, store)
    version = _resolve_version(ctx.store, name_or_ref, str(ctx.serving.get("alias") or "production"))
    name, v = version["name"], int(version["version"])
    labels_df = checks.read_table(labels, "labels")
    dataset = _run_dataset(ctx.store, version)
    classes = ((version.get("signature") or {}).get("output") or {}).get("classes")
    notes: list[str] = []
    window = None
    if current is not None:
        scored = _scored_file(ctx, version, current, notes)
        key = id_column or str(dataset.get("id_column") or "id")
        if key not in scored.columns:
            raise MonitoringError(f"id column {key!r} is not in the current file {current!r}; name it with --id-column")
        keys = [key]
        source_desc = f"{current} + {labels}"
    else:
        start, end = _window(since, until)
        window = {"start": start, "end": end}
        scored = _read_log(ctx, name, start, end)
        if len(scored):
            scored = scored[scored["version"] == v]
        key = id_column or "request_id"
        keys = [key, "row"] if key == "request_id" and "row" in labels_df.columns else [key]
        if key == "request_id" and "row" not in labels_df.columns and len(scored) and (scored["row"] > 0).any():
            notes.append("labels have no 'row' column: each request's first row was used")
            scored = scored[scored["row"] == 0]
        source_desc = f"prediction log + {labels}"
        if key not in scored.columns and len(scored):
            inputs = f"input.{key}"
            if inputs not in scored.columns:
                raise MonitoringError(f"id column {key!r} is not in the prediction log (it has request_id, row and "
                                      "input.<feature>); use --id-column request_id")
            scored = scored.rename(columns={inputs: key})
    if key not in labels_df.columns:
        raise MonitoringError(f"id column {key!r} is not in the labels file {labels!r} (it has "
                              f"{list(labels_df.columns)}); name it with --id-column")
    label_col = _label_column(labels_df, label_column, dataset, keys)
    lab = labels_df[[*keys, label_col]].rename(columns={label_col: "__label__"})
    if lab.duplicated(keys).any():
        notes.append(f"{int(lab.duplicated(keys).sum())} duplicate label id(s): the last label of each was used")
        lab = lab.drop_duplicates(keys, keep="last")
    if len(scored):
        for k in keys:  # ids read from CSV vs logged strings: compare as text
            scored = scored.assign(**{k: scored[k].astype(str)})
            lab = lab.assign(**{k: lab[k].astype(str)})
        joined = scored.merge(lab, on=keys, how="inner")
    else:
        joined = scored.iloc[0:0].assign(__label__=[], prediction=[])
    notes.append(f"{len(joined)} of {len(lab)} label(s) matched a prediction")
    reference = dict((version.get("metrics") or {}).get("holdout") or {})
    if not reference:
        reference = dict((version.get("metrics") or {}).get("cv") or {})
        notes.append("the version has no holdout metrics: compared with its cross-validation means")
    perf = checks.performance(joined["__label__"], joined["prediction"], _proba_frame(joined, classes),
                              task=str(version.get("task") or "classification"), classes=classes,
                              reference=reference, tolerance=ctx.settings["performance"]["tolerance"],
                              warn_ratio=float(ctx.settings["performance"]["warn_ratio"]),
                              min_rows=int(ctx.settings["performance"]["min_rows"]))
    out: dict[str, Any] = {"kind": "performance", "model": name, "version": v, "ref": f"{name}:{v}",
                           "checked_at": time.time(), "input": source_desc, "window": window,
                           "n_rows": perf["n_rows"], "status": perf["status"], "metrics": perf["metrics"],
                           "notes": [*notes, *perf["notes"]]}
    stem = Path(ctx.settings["reports_dir"]) / f"{name}-v{v}-{_stamp()}-performance"
    out["reports"] = {"json": _write(stem.with_suffix(".json"), _json_text(_jsonable(out))), "html": None}
    if output:
        out["output"] = _write(output, _json_text(_jsonable(out)))
    out["check_id"] = _record(ctx, kind="performance", out=out, actor=actor, source=source,
                              statuses={k: m["status"] for k, m in perf["metrics"].items()},
                              summary={"metrics": {k: {"current": m.get("current"), "reference": m.get("reference")}
                                                   for k, m in perf["metrics"].items()}})
    reason = "no labelled prediction" if perf["n_rows"] == 0 else "no metric could be computed"
    _fail_if_nothing_checked(out, reason)
    findings = [alerts.Finding(k, m["status"], m.get("reason") or "") for k, m in perf["metrics"].items()]
    worst = [f"{k} {m['current']:.4g} (ref {m['reference']:.4g})" for k, m in perf["metrics"].items()
             if m["status"] == "degraded"]
    out["alert"] = _alert(ctx, kind="performance", out=out, findings=findings,
                          title=f"Performance of {name}:{v} dropped: {', '.join(worst) or out['status']}")
    return out


# ----------------------------------------------------------------------------- latency
def check_latency(name_or_ref: str, *, since: float, until: float | None = None, actor: str, source: str,
                  output: str | None = None, store=None, monitor: dict | None = None, serving: dict | None = None,
                  overrides: list[str] | None = None) -> dict[str, Any]:
    """Request latency p50/p95/p99 from the prediction log vs the SLO in conf/monitor (ok | warn | breach).

    ``name`` covers every version served in the window; ``name:3`` or ``name@alias`` one version.
    """
    from mlplat.monitoring import alerts, checks
    from mlplat.registry import versions

    ctx = _Context(monitor, serving, overrides, store)
    r = versions.parse_ref(name_or_ref)
    version = None
    with ctx.store.read() as conn:
        versions.resolve(conn, versions.Ref(r.name))
    if r.version is not None or r.alias is not None:
        version = int(versions.get(ctx.store, r)["version"])
    start, end = _window(since, until)
    log = _read_log(ctx, r.name, start, end)
    if version is not None and len(log):
        log = log[log["version"] == version]
    lat_cfg = ctx.settings["latency"]
    res = checks.latency(log, slo=lat_cfg["slo"], warn_ratio=float(lat_cfg["warn_ratio"]),
                         min_requests=int(lat_cfg["min_requests"]))
    served = sorted({int(x) for x in log["version"].dropna().unique()}) if len(log) else []
    shown = version if version is not None else (served[-1] if served else None)
    out: dict[str, Any] = {"kind": "latency", "model": r.name, "version": shown, "versions": served,
                           "ref": f"{r.name}:{version}" if version is not None else r.name,
                           "checked_at": time.time(), "input": "prediction log", "window": {"start": start, "end": end},
                           "n_rows": res["n_requests"], **res}
    stem = Path(ctx.settings["reports_dir"]) / f"{r.name}-{_stamp()}-latency"
    out["reports"] = {"json": _write(stem.with_suffix(".json"), _json_text(_jsonable(out))), "html": None}
    if output:
        out["output"] = _write(output, _json_text(_jsonable(out)))
    out["check_id"] = _record(ctx, kind="latency", out=out, actor=actor, source=source,
                              statuses={k: p["status"] for k, p in res["percentiles"].items()},
                              summary={k: p["value"] for k, p in res["percentiles"].items()})
    _fail_if_nothing_checked(out, f"no requests of {out['ref']} were logged in the window")
    findings = [alerts.Finding(k, p["status"], p["reason"]) for k, p in res["percentiles"].items()]
    out["alert"] = _alert(ctx, kind="latency", out=out, findings=findings,
                          title=f"Latency SLO of {r.name} breached: " + ", ".join(
                              f"{k[:-3]} {p['value']:.1f} ms > {p['slo']:g} ms" for k, p in res["percentiles"].items()
                              if p["status"] == "breach"))
    return out


# ----------------------------------------------------------------------------- history and retraining
def monitor_history(name: str, *, limit: int = 50, kind: str | None = None, store=None) -> list[dict[str, Any]]:
    """Past checks of ``name``, newest first (status overall and per feature, window, report paths)."""
    import sqlalchemy as sa

    from mlplat.monitoring.schema import monitor_checks
    from mlplat.registry import versions

    if kind is not None and kind not in KINDS:
        raise MonitoringError(f"check kind {kind!r} is not known; use one of {', '.join(KINDS)}")
    store = store or _open_store()
    ref = versions.parse_ref(name)
    q = (sa.select(monitor_checks).where(monitor_checks.c.model == ref.name)
         .order_by(monitor_checks.c.created_at.desc(), monitor_checks.c.id.desc()).limit(int(limit)))
    if kind:
        q = q.where(monitor_checks.c.kind == kind)
    if ref.version is not None:
        q = q.where(monitor_checks.c.version == ref.version)
    with store.read() as conn:
        versions.resolve(conn, versions.Ref(ref.name))
        rows = [dict(r._mapping) for r in conn.execute(q)]
    for row in rows:
        row["features"] = json.loads(row["features"] or "{}")
        row["summary"] = json.loads(row["summary"] or "{}")
    return rows


def retrain(name: str, *, actor: str, source: str, reason: str | None = None, check_id: int | None = None,
            store=None, monitor: dict | None = None, overrides: list[str] | None = None,
            policy: dict | None = None, notify: bool = True) -> dict[str, Any]:
    """Run the retraining declared in monitor.retrain now (blocks): train, register, open an approval request.

    Never promotes: the new version waits for an approver. The bot's "Retrain" button and
    the background launch after confirmed drift both end here. ``status`` is done | failed.
    """
    from mlplat.monitoring import retrain as rt
    from mlplat.registry import versions

    ctx = _Context(monitor, {}, overrides, store, policy)
    spec = ctx.settings["retrain"]
    if not (spec["command"] or spec["sweep"]):
        raise MonitoringError("no retraining is declared: set monitor.retrain.command (overrides for `mlplat "
                              "train`, e.g. [experiment=churn_baseline]) or monitor.retrain.sweep in conf/monitor")
    with ctx.store.read() as conn:
        versions.resolve(conn, versions.Ref(versions.check_name(name)))
    result = rt.run(name, spec, store=ctx.store, actor=actor, source=source, policy=ctx.policy,
                    reason=reason or f"requested by {actor} ({source})", check_id=check_id)
    if notify:
        _notify_retrain(result)
    return result


__all__ = ["check_drift", "check_performance", "check_latency", "monitor_history", "retrain"]
