"""`mlplat monitor drift|performance|latency|history|retrain`.

Front door only: the checks live in mlplat.ops.monitoring; this module parses arguments
and prints. A check that ran exits 0 whatever it found (drift is a finding, not a failure
of the command); it exits 1 only when nothing could be checked, after printing what the
report says about each feature.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from mlplat.commands.common import add_store, parse_duration, positive_int, store_of

SOURCE = "cli"


def _add_common(p: argparse.ArgumentParser, *, formats: tuple[str, ...] = ("table", "json")) -> None:
    p.add_argument("--format", choices=formats, default="table", help="output format (default: table)")
    p.add_argument("--output", metavar="PATH", help="also write the report here (json, or html for drift)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="config override, e.g. monitor.alerts.cooldown=1h (repeatable)")
    add_store(p)


def register(sub) -> None:
    mon = sub.add_parser("monitor", help="drift, performance and latency checks of a registered model")
    msub = mon.add_subparsers(dest="action", metavar="CHECK", required=True)

    p = msub.add_parser("drift", help="data and prediction drift vs the version's reference profile")
    p.add_argument("ref", help="NAME (the served alias, else the latest version), NAME:3 or NAME@alias")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--current", metavar="FILE", help="the current data: a CSV or Parquet file")
    src.add_argument("--since", type=parse_duration, metavar="DURATION",
                     help="the prediction log of the last DURATION, e.g. 24h")
    _add_common(p, formats=("table", "json", "html"))
    p.set_defaults(handler=cmd_drift)

    p = msub.add_parser("performance", help="metrics on labelled predictions vs the version's holdout metrics")
    p.add_argument("ref", help="NAME, NAME:3 or NAME@alias")
    p.add_argument("--labels", required=True, metavar="FILE", help="CSV/Parquet with an id column and the label")
    p.add_argument("--id-column", metavar="COL",
                   help="join key (default: request_id for the log, the dataset's id_column for --current)")
    p.add_argument("--label-column", metavar="COL", help="the label column (default: the dataset's target)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--current", metavar="FILE", help="join with this file's rows instead of the prediction log")
    src.add_argument("--since", type=parse_duration, metavar="DURATION", help="only predictions of the last DURATION")
    _add_common(p)
    p.set_defaults(handler=cmd_performance)

    p = msub.add_parser("latency", help="request latency p50/p95/p99 from the prediction log vs the SLO")
    p.add_argument("ref", help="NAME (all versions), NAME:3 or NAME@alias")
    p.add_argument("--since", type=parse_duration, default=parse_duration("1h"), metavar="DURATION",
                   help="the window, ending now (default: 1h)")
    _add_common(p)
    p.set_defaults(handler=cmd_latency)

    p = msub.add_parser("history", help="past checks of a model and their status")
    p.add_argument("ref", help="NAME or NAME:3")
    p.add_argument("--kind", choices=("drift", "performance", "latency"), help="only checks of this kind")
    p.add_argument("--limit", type=positive_int, default=50, help="at most this many (default: 50)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    add_store(p)
    p.set_defaults(handler=cmd_history)

    p = msub.add_parser("retrain", help="run the retraining declared in conf/monitor (default: train again as the "
                                          "monitored version was trained) now; then approval is needed")
    p.add_argument("ref", help="NAME of the model to retrain")
    p.add_argument("--reason", help="why (recorded in the audit trail)")
    p.add_argument("--check-id", type=int, help=argparse.SUPPRESS)
    p.add_argument("--settings-json", help=argparse.SUPPRESS)  # the background launch's exact retrain spec
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="config override, e.g. 'monitor.retrain.command=[\"experiment=churn_baseline\"]' "
                        "(default: the overrides of the run behind the monitored version)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    add_store(p)
    p.set_defaults(handler=cmd_retrain)


def _actor() -> str:
    from mlplat import ops

    return ops.actor_from_env()


def _run(call) -> tuple[dict[str, Any], int]:
    """Run a check; a check that looked at nothing still has a result to show, and exits 1."""
    from mlplat.errors import MonitoringError

    try:
        return call(), 0
    except MonitoringError as exc:
        result = getattr(exc, "result", None)
        if result is None:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return result, 1


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _pct(v: Any) -> str:
    return "" if v is None else f"{v:.1%}"


def _alert_line(result: dict[str, Any]) -> str | None:
    alert = result.get("alert") or {}
    if alert.get("sent"):
        line = f"alert sent for: {', '.join(alert['new'])}"
        if alert.get("suppressed"):
            line += f" (already sent within the cool-down: {', '.join(alert['suppressed'])})"
        return line + (f"; delivery failed: {alert['error']}" if alert.get("error") else "")
    if alert.get("suppressed"):
        return f"alert not re-sent (cool-down): {', '.join(alert['suppressed'])}"
    return None


def _footer(result: dict[str, Any]) -> None:
    for note in result.get("notes") or []:
        print(f"note: {note}")
    line = _alert_line(result)
    if line:
        print(line)
    reports = result.get("reports") or {}
    paths = [p for p in (reports.get("html"), reports.get("json")) if p]
    if paths:
        print(f"report: {' '.join(paths)}")
    if result.get("output"):
        print(f"written to {result['output']}")


def _emit(args, result: dict[str, Any], table) -> None:
    from mlplat import output

    if args.format == "json":
        output.emit_json(result)
    elif args.format == "html" and result.get("output"):  # the page is in the file: one line here
        print(f"{result['ref']}: {result['status']} ({result.get('n_rows')} rows); HTML report written to "
              f"{result['output']}")
    elif args.format == "html":
        sys.stdout.write(open(result["reports"]["html"], encoding="utf-8").read())
    else:
        table(result)
        _footer(result)


# ----------------------------------------------------------------------------- drift
def _drift_table(result: dict[str, Any]) -> None:
    from mlplat import output
    from mlplat.monitoring.checks import worst_first

    feats = {**result["features"], **{f"prediction:{k}": v for k, v in result["predictions"].items()}}
    rows = [{"name": f["name"], "kind": f.get("kind") or "", "status": f["status"], "method": f.get("method") or "",
             "score": _num(f.get("score")), "threshold": _num(f.get("threshold")),
             "nulls": (f"{_pct(f.get('null_share_ref'))} -> {_pct(f.get('null_share_cur'))}"
                       if f.get("null_share_cur") is not None else ""),
             "reason": f.get("reason") or ""} for f in worst_first(feats)]
    window = result.get("window")
    where = result["input"] if not window else (
        f"prediction log since {output.when(window['start'])} UTC" if window.get("start") else "prediction log")
    output.emit_table(f"Drift of {result['ref']} on {where} ({result['n_rows']} rows)",
                      [("name", "feature"), ("kind", "kind"), ("status", "status"), ("method", "method"),
                       ("score", "score"), ("threshold", "threshold"), ("nulls", "null share ref -> cur"),
                       ("reason", "reason")], rows)
    print(f"{result['ref']}: {result['status']} - {result.get('verdict') or _counts(result)}")
    retrain = result.get("retrain")
    if retrain:
        print(f"retraining: {_retrain_line(retrain)}")


def _counts(result: dict[str, Any]) -> str:
    return (f"{result['n_drifted']}/{result['n_checked']} features drifted (share {result['share_drifted']:.0%}, "
            f"dataset drift at {result['drift_share']:.0%}: {'yes' if result['dataset_drift'] else 'no'})")


def _retrain_line(r: dict[str, Any]) -> str:
    status = r.get("status")
    if status == "launched":
        return f"launched in the background (pid {r['pid']}, log {r['log']})"
    if status == "done":
        approval = r.get("approval") or {}
        tail = (f"approval request {approval.get('id')} to {approval.get('target')} is {approval.get('status')}"
                if approval.get("id") else f"approval request refused: {approval.get('reason')}")
        return f"{r['model']}:{r['version']} registered from run {r['run_id']}; {tail}"
    return f"{status}: {r.get('reason') or r.get('error') or ''}"


def cmd_drift(args) -> int:
    from mlplat import ops

    since = time.time() - args.since if args.since is not None else None
    result, code = _run(lambda: ops.check_drift(args.ref, current=args.current, since=since, actor=_actor(),
                                                source=SOURCE, fmt="html" if args.format == "html" else None,
                                                output=args.output,
                                                store=store_of(args), overrides=args.overrides))
    _emit(args, result, _drift_table)
    return code


# ----------------------------------------------------------------------------- performance / latency
def _perf_table(result: dict[str, Any]) -> None:
    from mlplat import output
    from mlplat.monitoring.checks import SEVERITY

    rows = [{"metric": k, "status": m["status"], "current": _num(m.get("current")),
             "reference": _num(m.get("reference")), "change": _num(m.get("change")),
             "tolerance": _num(m.get("tolerance")), "reason": m.get("reason") or ""}
            for k, m in sorted(result["metrics"].items(), key=lambda kv: (SEVERITY.get(kv[1]["status"], 4), kv[0]))]
    output.emit_table(f"Performance of {result['ref']} on {result['input']} ({result['n_rows']} labelled rows)",
                      [("metric", "metric"), ("status", "status"), ("current", "current"),
                       ("reference", "reference (holdout)"), ("change", "change"), ("tolerance", "tolerance"),
                       ("reason", "reason")], rows)
    print(f"{result['ref']}: {result['status']}")


def cmd_performance(args) -> int:
    from mlplat import ops

    since = time.time() - args.since if args.since is not None else None
    result, code = _run(lambda: ops.check_performance(
        args.ref, labels=args.labels, id_column=args.id_column, label_column=args.label_column, current=args.current,
        since=since, actor=_actor(), source=SOURCE, output=args.output, store=store_of(args),
        overrides=args.overrides))
    _emit(args, result, _perf_table)
    return code


def _latency_table(result: dict[str, Any]) -> None:
    from mlplat import output
    from mlplat.monitoring.checks import SEVERITY

    rows = [{"p": k[:-3], "status": p["status"], "value": f"{p['value']:.2f}",
             "slo": "" if p.get("slo") is None else f"{p['slo']:g}", "reason": p.get("reason") or ""}
            for k, p in sorted(result["percentiles"].items(), key=lambda kv: (SEVERITY.get(kv[1]["status"], 4), kv[0]))]
    output.emit_table(f"Latency of {result['ref']} ({result['n_requests']} requests, versions "
                      f"{', '.join(map(str, result.get('versions') or [])) or '-'})",
                      [("p", "percentile"), ("status", "status"), ("value", "ms"), ("slo", "SLO ms"),
                       ("reason", "reason")], rows)
    print(f"{result['ref']}: {result['status']}")


def cmd_latency(args) -> int:
    from mlplat import ops

    result, code = _run(lambda: ops.check_latency(args.ref, since=time.time() - args.since, actor=_actor(),
                                                  source=SOURCE, output=args.output, store=store_of(args),
                                                  overrides=args.overrides))
    _emit(args, result, _latency_table)
    return code


# ----------------------------------------------------------------------------- history / retrain
def cmd_history(args) -> int:
    from mlplat import ops, output

    rows = ops.monitor_history(args.ref, limit=args.limit, kind=args.kind, url=args.store)
    if args.format == "json":
        output.emit_json(rows)
        return 0

    def findings(r: dict) -> str:
        bad = sorted(k for k, s in r["features"].items() if s not in ("ok",))
        return ", ".join(f"{k}={r['features'][k]}" for k in bad[:6]) + (" ..." if len(bad) > 6 else "")

    Col = output.Col
    output.emit_rows(rows, "table", title=f"Monitoring history of {args.ref}", columns=[
        Col("id", "id"), Col("when", "when (UTC)", lambda r: output.when(r["created_at"])), Col("kind", "kind"),
        Col("version", "v", lambda r: str(r["version"] or "")), Col("status", "status"),
        Col("window", "window / input", lambda r: f"{output.when(r['window_start'])} .. {output.when(r['window_end'])}"
            if r["window_start"] else (r["input"] or "")),
        Col("rows", "rows", lambda r: str(r["n_rows"] if r["n_rows"] is not None else "")),
        Col("findings", "not ok", findings),
        Col("report", "report", lambda r: r["report_html"] or r["report_json"] or ""),
        Col("by", "by", lambda r: f"{r['actor']} ({r['source']})")])
    if not rows:
        print(f"no checks of {args.ref} yet; run `mlplat monitor drift {args.ref} --since 24h`")
    return 0


def cmd_retrain(args) -> int:
    from mlplat import ops, output

    kwargs = {"actor": _actor(), "source": "monitor" if args.settings_json else SOURCE, "reason": args.reason,
              "check_id": args.check_id, "store": store_of(args), "overrides": args.overrides}
    if args.settings_json:
        kwargs["monitor"] = {"retrain": json.loads(args.settings_json)}
    result = ops.retrain(args.ref, **kwargs)
    if args.format == "json":
        output.emit_json(result)
    else:
        print(f"retraining {result['id']}: {_retrain_line(result)}")
    return 0 if result["status"] == "done" else 1
