"""`mlplat leaderboard`, `mlplat runs ...`, `mlplat sweeps ...`."""

from __future__ import annotations

from mlplat.commands.common import (
    add_filters,
    add_format,
    add_store,
    filters_of,
    parse_duration,
    positive_int,
    since_of,
    store_of,
)


def _add_field_filter(p) -> None:
    p.add_argument("--filter", action="append", default=[], metavar="FIELD=VALUE",
                   help="filter on any stored field, e.g. dataset_fingerprint=ab12... (repeatable)")


def _filters(args) -> dict:
    """The named filter options plus each --filter FIELD=VALUE (unknown fields are refused by the store)."""
    from mlplat.errors import ConfigError

    filters = filters_of(args)
    for item in args.filter:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"malformed --filter {item!r}: expected FIELD=VALUE, e.g. --filter model=knn")
        filters[key.strip()] = value
    return filters


def register(sub) -> None:
    lb = sub.add_parser("leaderboard", help="rank runs by a metric")
    lb.add_argument("--metric", help="metric to rank by (default: roc_auc)")
    lb.add_argument("--stage", choices=("cv", "holdout"), default="cv", help="cv mean (default) or holdout score")
    lb.add_argument("--top", type=positive_int, default=10)
    lb.add_argument("--status", default="done", help="run status (default: done)")
    add_filters(lb)
    _add_field_filter(lb)
    add_format(lb, ("table", "json", "csv", "png", "html"))
    lb.add_argument("--output", "-o", metavar="FILE", help="file for --format png/html (default: leaderboard.<format>)")
    add_store(lb)
    lb.set_defaults(handler=cmd_leaderboard)

    runs = sub.add_parser("runs", help="list and inspect runs")
    rsub = runs.add_subparsers(dest="action", metavar="ACTION", required=True)
    rl = rsub.add_parser("list", help="runs, newest first, paginated")
    rl.add_argument("--last", type=positive_int, help="the N newest runs (same as --page-size N --page 1)")
    rl.add_argument("--page", type=positive_int, default=1)
    rl.add_argument("--page-size", type=positive_int, default=20)
    rl.add_argument("--status", choices=("running", "done", "failed", "crashed"))
    rl.add_argument("--all", action="store_true", help="every matching run, streamed (json/csv); ignores --page")
    add_filters(rl)
    _add_field_filter(rl)
    add_format(rl, ("table", "json", "csv"))
    add_store(rl)
    rl.set_defaults(handler=cmd_runs_list)
    rs = rsub.add_parser("show", help="everything about one run")
    rs.add_argument("run_id")
    add_format(rs)
    add_store(rs)
    rs.set_defaults(handler=cmd_runs_show)

    rr = rsub.add_parser("rerun", help="run a stored run's resolved config again and compare its metrics")
    rr.add_argument("run_id")
    add_format(rr)
    rr.set_defaults(handler=cmd_runs_rerun)

    sweeps = sub.add_parser("sweeps", help="list and inspect sweeps")
    ssub = sweeps.add_subparsers(dest="action", metavar="ACTION", required=True)
    sl = ssub.add_parser("list", help="sweeps, newest first")
    sl.add_argument("--page", type=positive_int, default=1)
    sl.add_argument("--page-size", type=positive_int, default=20)
    add_format(sl)
    add_store(sl)
    sl.set_defaults(handler=cmd_sweeps_list)
    ss = ssub.add_parser("show", help="one sweep: counts, best trial, timings")
    ss.add_argument("sweep_id")
    ss.add_argument("--page", type=positive_int, default=1, help="page of trials, in job order")
    ss.add_argument("--page-size", type=positive_int, default=100)
    ss.add_argument("--plot", metavar="FILE.png", help="also write optimisation history + parameter vs metric (PNG)")
    add_format(ss)
    add_store(ss)
    ss.set_defaults(handler=cmd_sweeps_show)

    rc = rsub.add_parser("cleanup", help="mark runs and sweeps whose process died (SIGKILL, lost machine) as crashed, "
                                         "then remove the unrecorded files crashed and failed runs left")
    rc.add_argument("--stale-after", type=parse_duration, metavar="DURATION",
                    help="also runs on other hosts without a heartbeat for this long (default: 8 heartbeats)")
    rc.add_argument("--dry-run", action="store_true", help="mark nothing, delete nothing: list what would be done")
    add_format(rc)
    add_store(rc)
    rc.set_defaults(handler=cmd_runs_cleanup)


def cmd_leaderboard(args) -> int:
    from mlplat import ops, output

    if args.format in ("png", "html"):
        data = ops.leaderboard_chart(metric=args.metric, stage=args.stage, filters=_filters(args),
                                     since=since_of(args), top=args.top, fmt=args.format, store=store_of(args))
        return _write_file(args.output or f"leaderboard.{args.format}", data)
    # the URL, not an opened store: ops reads a leaderboard without SQLAlchemy when it can
    result = ops.leaderboard(metric=args.metric, stage=args.stage, filters=_filters(args), since=since_of(args),
                             top=args.top, url=args.store)
    arrow = "higher is better" if result["direction"] == "maximize" else "lower is better"
    Col = output.Col
    output.emit_rows(result["rows"], args.format, title=f"Leaderboard: {result['metric']} ({args.stage}, {arrow})",
                     columns=[Col("rank", "#"), Col("id", "run"), Col("experiment", "experiment"),
                              Col("dataset", "dataset"), Col("model", "model"),
                              Col("score", f"{result['metric']} mean ± std",
                                  lambda r: f"{output.num(r['value'])} ± {output.num(r['std'])}"),
                              Col("holdout", "holdout", lambda r: output.num(r["holdout"])),
                              Col("fit", "fit s", lambda r: output.num(r["fit_time_s"], 2)),
                              Col("sweep", "sweep", lambda r: (r["sweep_id"] or "")[:8]),
                              Col("started", "started (UTC)", lambda r: output.when(r["started_at"]))],
                     csv_columns=["rank", "id", "experiment", "dataset", "model", "value", "std", "holdout",
                                  "fit_time_s", "sweep_id", "started_at"],
                     json_value=result, empty="no finished runs match")
    return 0


def cmd_runs_list(args) -> int:
    from mlplat import ops, output

    page, size = (1, args.last) if args.last else (args.page, args.page_size)
    if args.all and args.format == "table":
        from mlplat.errors import ConfigError

        raise ConfigError("--all streams every run: use it with --format json or csv (a table shows one page)")
    if args.all:
        rows = ops.iter_runs(filters=_filters(args), since=since_of(args), store=store_of(args))
    else:
        rows = ops.list_runs(filters=_filters(args), since=since_of(args), page=page, page_size=size,
                             url=args.store)
    Col = output.Col
    output.emit_rows(rows, args.format, title=f"Runs (page {page}, {size} per page, newest first)",
                     columns=[Col("id", "run"), Col("status", "status"), Col("experiment", "experiment"),
                              Col("dataset", "dataset"), Col("model", "model"),
                              Col("score", "primary",
                                  lambda r: f"{r['primary_metric'] or ''} {output.num(r['primary_value'])}".strip()),
                              Col("dur", "s", lambda r: output.num(r["duration_s"], 1)),
                              Col("sweep", "sweep", lambda r: (r["sweep_id"] or "")[:8]),
                              Col("started", "started (UTC)", lambda r: output.when(r["started_at"])),
                              Col("error", "error", lambda r: (r["error"] or "")[:80])],
                     csv_columns=["id", "experiment", "status", "dataset", "model", "primary_metric", "primary_value",
                                  "sweep_id", "started_at", "duration_s", "actor", "source", "error"],
                     empty="no runs on this page")
    return 0


def cmd_runs_show(args) -> int:
    from mlplat import ops, output

    run = ops.show_run(args.run_id, store=store_of(args))
    data_profile = ops.run_data_profile(run)
    if args.format == "json":
        output.emit_json({**run, "data_profile": data_profile})
        return 0
    from rich.console import Console

    c = Console()
    c.print(f"[bold]run {run['id']}[/bold]  status={run['status']}  experiment={run['experiment']}")
    c.print(f"dataset={run['dataset']} (fingerprint {str(run['dataset_fingerprint'])[:16]})  model={run['model']}  "
            f"features={run['features']}  task={run['task']}")
    c.print(f"started={output.when(run['started_at'])}  duration={output.num(run['duration_s'], 2)}s  "
            f"actor={run['actor']} via {run['source']}  sweep={run['sweep_id'] or '-'}")
    c.print(f"code={run['code_version']}{' (dirty)' if run['code_dirty'] else ''}  config_hash={run['config_hash'][:16]}")
    c.print(f"overrides: {' '.join(run['overrides'] or []) or '-'}")
    if data_profile:
        print(_data_profile_line(data_profile))  # plain: rich would wrap it at 80 columns in a pipe
    if run["error"]:
        print(f"error: {run['error']}")
    cv = run["metrics"].get("cv", {})
    holdout = run["metrics"].get("holdout", {})
    Col = output.Col
    if cv:
        output.emit_rows([{"metric": k, **v} for k, v in cv.items()], "table", title="metrics",
                         columns=[Col("metric", "metric"),
                                  Col("cv", "cv mean ± std", lambda r: f"{output.num(r['value'])} ± {output.num(r['std'])}"),
                                  Col("holdout", "holdout", lambda r: output.num(holdout.get(r["metric"])))])
    if run["artifacts"]:
        output.emit_rows(run["artifacts"], "table", title="artifacts",
                         columns=[Col("name", "name"), Col("size", "bytes"), Col("sha", "sha256", lambda a: a["sha256"][:16])])
    return 0


def _data_profile_line(summary: dict) -> str:
    """One line of the run's stored data profile: sizes, missing, warnings."""
    if summary.get("error"):
        return f"data profile: {summary['error']}"
    cols = summary.get("columns") or {}
    gaps = sorted(((c["missing_share"], name) for name, c in cols.items() if c.get("missing_share")), reverse=True)
    warnings = summary.get("warnings") or []
    text = (f"data profile: {summary['n_rows']:,} rows x {summary['n_columns']} columns, "
            f"{summary['n_duplicate_rows']:,} duplicated; missing: "
            f"{', '.join(f'{n} {s:.1%}' for s, n in gaps[:4]) or 'none'}; {len(warnings)} warning(s)")
    return text + "".join(f"\n  {w['type']}: {w['message']}" for w in warnings[:5])


def cmd_sweeps_list(args) -> int:
    from mlplat import ops, output

    rows = ops.list_sweeps(page=args.page, page_size=args.page_size, store=store_of(args))
    Col = output.Col
    output.emit_rows(rows, args.format, title="Sweeps (newest first)",
                     columns=[Col("id", "sweep"), Col("status", "status"), Col("experiment", "experiment"),
                              Col("jobs", "done/failed/crashed", lambda r: f"{r['n_done']}/{r['n_failed']}/{r['n_crashed']}"),
                              Col("best_run_id", "best run"),
                              Col("started", "started (UTC)", lambda r: output.when(r["started_at"])),
                              Col("command", "command")])
    return 0


def cmd_sweeps_show(args) -> int:
    from mlplat import ops, output

    sweep = ops.show_sweep(args.sweep_id, page=args.page, page_size=args.page_size, store=store_of(args))
    if args.plot:
        _write_file(args.plot, ops.sweep_plot(sweep["id"], store=store_of(args)), quiet=args.format == "json")
    if args.format == "json":
        output.emit_json(sweep)
        return 0
    print(f"sweep {sweep['id']}  status={sweep['status']}  done={sweep['n_done']} failed={sweep['n_failed']} "
          f"crashed={sweep['n_crashed']}  best={sweep['best_run_id']}")
    print(f"command: {sweep['command']}")
    if sweep.get("optuna_study"):
        print(f"optuna study: {sweep['optuna_study']} (in the store's database)")
    Col = output.Col
    output.emit_rows(sweep["trials"], "table", title=f"trials (page {args.page}, {args.page_size} per page, job order)",
                     columns=[Col("id", "run"), Col("status", "status"), Col("model", "model"),
                              Col("score", "primary", lambda r: output.num(r["primary_value"])),
                              Col("error", "error", lambda r: (r["error"] or "")[:80])])
    return 0


def _write_file(path: str, data: bytes, *, quiet: bool = False) -> int:
    from pathlib import Path

    from mlplat.errors import ConfigError

    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    if not quiet:
        print(f"wrote {path} ({len(data)} bytes)")
    return 0


def cmd_runs_cleanup(args) -> int:
    from mlplat import ops, output

    store = store_of(args)
    marked = {"runs": [], "sweeps": []} if args.dry_run else ops.mark_stale(stale_after_s=args.stale_after, store=store)
    removed = ops.remove_orphans(dry_run=args.dry_run, store=store)
    if args.format == "json":
        output.emit_json({"crashed": marked["runs"], "crashed_sweeps": marked["sweeps"],
                          "orphaned_files": removed["files"], "orphaned_runs": removed["runs"],
                          "dry_run": args.dry_run})
        return 0
    if not args.dry_run:
        for kind, ids in (("run", marked["runs"]), ("sweep", marked["sweeps"])):
            print(f"marked {len(ids)} {kind}(s) crashed{': ' + ', '.join(ids) if ids else ''}")
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {removed['files']} unrecorded file(s) of crashed/failed runs"
          + (f": {', '.join(removed['runs'])}" if removed["runs"] else ""))
    return 0


def cmd_runs_rerun(args) -> int:
    from mlplat import ops, output

    before = ops.show_run(args.run_id)
    if before["status"] != "done":
        print(f"note: run {before['id']} has status {before['status']}; re-running its config anyway")
    after = ops.rerun(before["id"])
    old = {k: v["value"] for k, v in before["metrics"].get("cv", {}).items()}
    rows = [{"metric": k, "before": output.num(old.get(k), 6), "after": output.num(m, 6),
             "diff": output.num(abs(m - old[k]) if k in old else None, 9)} for k, (m, _s) in after.cv.items()]
    Col = output.Col
    output.emit_rows(rows, args.format, title=f"rerun of {before['id']} -> {after.run_id}",
                     columns=[Col("metric", "metric"), Col("before", "original cv"), Col("after", "rerun cv"),
                              Col("diff", "|diff|")],
                     json_value={"original": before["id"], "rerun": after.run_id, "metrics": rows})
    return 0
