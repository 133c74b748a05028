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

import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mlplat.errors import MonitoringError
from mlplat.monitoring import alerts, checks
from mlplat.monitoring import retrain as rt
from mlplat.monitoring.checks import read_table, worst_first
from mlplat.monitoring.drift import check_drift as run_check
from mlplat.monitoring.report import to_html
from mlplat.monitoring.schema import monitor_checks
from mlplat.monitoring.settings import drift_config, seconds
from mlplat.ops import registry as registry_ops
from mlplat.ops.monitoring_inputs import (
    _Context,
    _drift_inputs_from_file,
    _drift_inputs_from_log,
    _label_column,
    _load_profile,
    _proba_frame,
    _read_log,
    _resolve_version,
    _run_dataset,
    _scored_file,
    _version_of_file,
    _window,
)
from mlplat.ops.monitoring_records import (
    _alert,
    _fail_if_nothing_checked,
    _json_text,
    _jsonable,
    _output_format,
    _record,
    _stamp,
    _strip_plots,
    _write,
)
from mlplat.registry import versions
from mlplat.tracking.runs import get_run


def _confirmed(ctx: _Context, name: str, needed: int) -> bool:
    """The last ``needed`` drift checks of ``name`` (this one included) all found drift."""
    with ctx.store.read() as conn:
        last = conn.execute(sa.select(monitor_checks.c.status).where(
            monitor_checks.c.model == name, monitor_checks.c.kind == "drift")
            .order_by(monitor_checks.c.created_at.desc(), monitor_checks.c.id.desc()).limit(needed)).scalars().all()
    return len(last) == needed and all(s == "drift" for s in last)


def _maybe_retrain(ctx: _Context, out: dict[str, Any], actor: str, source: str) -> dict[str, Any] | None:
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
        result = rt.run(out["model"], spec, store=ctx.store, actor=actor, source=source, policy=ctx.policy,
                        registry=registry_ops, reason=reason, check_id=out["check_id"])
        _notify_retrain(result)
        return result
    return rt.launch_background(out["model"], spec, store=ctx.store, reports_dir=ctx.settings["reports_dir"],
                                     reason=reason, check_id=out["check_id"])


def _notify_retrain(result: dict[str, Any]) -> None:
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
    if (current is None) == (since is None):
        raise MonitoringError("give exactly one of current (a CSV/Parquet file) or since (the start of the "
                              "prediction-log window), e.g. --current batch.parquet or --since 24h")
    out_fmt = _output_format(fmt, output)
    ctx = _Context(monitor, serving, overrides, store)
    alias = str(ctx.serving.get("alias") or "production")
    frame = read_table(current, "current") if current is not None else None
    version = (_version_of_file(ctx.store, name_or_ref, alias, frame, current) if frame is not None
               else _resolve_version(ctx.store, name_or_ref, alias))
    name, v = version["name"], int(version["version"])
    profile, profile_error = _load_profile(ctx.store, version)
    notes: list[str] = []
    window: dict[str, Any] | None = None
    if current is not None:
        features, preds = _drift_inputs_from_file(ctx, version, profile, current, notes, frame)
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
        **{k: result[k] for k in ("status", "verdict", "dataset_drift", "share_drifted", "drift_share", "n_checked",
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
                          title=f"Drift on {name}:{v}: {out['verdict']}")
    out["retrain"] = _maybe_retrain(ctx, out, actor, source)
    return out


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
    ctx = _Context(monitor, serving, overrides, store)
    alias = str(ctx.serving.get("alias") or "production")
    frame = read_table(current, "current") if current is not None else None
    version = (_version_of_file(ctx.store, name_or_ref, alias, frame, current) if frame is not None
               else _resolve_version(ctx.store, name_or_ref, alias))
    name, v = version["name"], int(version["version"])
    labels_df = checks.read_table(labels, "labels")
    dataset = _run_dataset(ctx.store, version)
    classes = ((version.get("signature") or {}).get("output") or {}).get("classes")
    notes: list[str] = []
    window = None
    if current is not None:
        scored = _scored_file(ctx, version, current, notes, frame)
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
# overrides of the original run that a retraining must not repeat: its store and output folders
# (the retraining gets this store), and sweep-only choices (a retraining is one run)
_NOT_REPEATED = ("tracking.", "hydra.", "sweep=", "launcher=", "tags.monitor_retrain")


def _same_training(ctx: _Context, name: str) -> list[str]:
    """No retraining declared: train again as the version being monitored was trained (its run's overrides)."""
    version = _resolve_version(ctx.store, name, str(ctx.serving.get("alias") or "production"))
    run = get_run(ctx.store, version["run_id"])
    if (run.get("config") or {}).get("logged"):
        raise MonitoringError(f"{name}:{version['version']} was trained outside mlplat (log_run), so it cannot be "
                              "trained again as it was: declare the retraining in conf/monitor, e.g. "
                              "--set 'monitor.retrain.command=[\"experiment=churn_baseline\"]'")
    return [o for o in run.get("overrides") or [] if not o.lstrip("+~").startswith(_NOT_REPEATED)]


def retrain(name: str, *, actor: str, source: str, reason: str | None = None, check_id: int | None = None,
            store=None, monitor: dict | None = None, overrides: list[str] | None = None,
            policy: dict | None = None, notify: bool = True) -> dict[str, Any]:
    """Run the retraining declared in monitor.retrain now (blocks): train, register, open an approval request.

    Nothing declared (the shipped config): train again with the overrides of the run behind
    the monitored version (its served alias, else its latest version).

    Never promotes: the new version waits for an approver. The bot's "Retrain" button and
    the background launch after confirmed drift both end here. ``status`` is done | failed.
    """
    ctx = _Context(monitor, {}, overrides, store, policy)
    spec = ctx.settings["retrain"]
    with ctx.store.read() as conn:
        versions.resolve(conn, versions.Ref(versions.check_name(name)))
    if not (spec["command"] or spec["sweep"]):
        spec = {**spec, "command": _same_training(ctx, name)}
    result = rt.run(name, spec, store=ctx.store, actor=actor, source=source, policy=ctx.policy, registry=registry_ops,
                    reason=reason or f"requested by {actor} ({source})", check_id=check_id)
    if notify:
        _notify_retrain(result)
    return result


__all__ = ["check_drift", "check_performance", "check_latency", "retrain"]
