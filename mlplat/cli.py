"""The `mlplat` command.

`mlplat train ...` hands its arguments to the Hydra app untouched; the other subcommands
are argparse over ``mlplat.ops``. Imports are lazy so `mlplat --help` starts fast, and
every error a user can cause ends in one line on stderr and a non-zero exit (the
traceback only with --verbose).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """'30d' -> seconds. One clear error for anything else."""
    m = DURATION.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"malformed duration {text!r}: use a number and a unit, e.g. 90s, 30m, 24h, 7d, 2w")
    return float(m.group(1)) * UNITS[m.group(2)]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _add_store(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="URL", help="store URL (default: tracking.url of the config, or MLPLAT_STORE_URL)")


def _add_format(p: argparse.ArgumentParser, choices=("table", "json")) -> None:
    p.add_argument("--format", choices=choices, default="table", help="output format (default: table)")


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--experiment", help="only runs of this experiment")
    p.add_argument("--sweep", help="only runs of this sweep id")
    p.add_argument("--dataset", help="only runs on this dataset")
    p.add_argument("--model", help="only runs of this model")
    p.add_argument("--since", type=parse_duration, metavar="DURATION", help="only runs started within, e.g. 24h, 30d")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlplat",
        description="Declarative ML platform: Hydra configs in, tracked runs, leaderboards, registry out.",
        epilog="`mlplat train --help` shows the Hydra app's own help (config groups, overrides, -m).",
    )
    parser.add_argument("--verbose", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("train", help="run an experiment (a Hydra app: overrides, -m sweeps, --cfg job)", add_help=False)

    lb = sub.add_parser("leaderboard", help="rank runs by a metric")
    lb.add_argument("--metric", help="metric to rank by (default: roc_auc)")
    lb.add_argument("--stage", choices=("cv", "holdout"), default="cv", help="cv mean (default) or holdout score")
    lb.add_argument("--top", type=positive_int, default=10)
    lb.add_argument("--status", default="done", help="run status (default: done)")
    _add_filters(lb)
    _add_format(lb, ("table", "json", "csv"))
    _add_store(lb)

    runs = sub.add_parser("runs", help="list and inspect runs")
    rsub = runs.add_subparsers(dest="action", metavar="ACTION", required=True)
    rl = rsub.add_parser("list", help="runs, newest first, paginated")
    rl.add_argument("--last", type=positive_int, help="the N newest runs (same as --page-size N --page 1)")
    rl.add_argument("--page", type=positive_int, default=1)
    rl.add_argument("--page-size", type=positive_int, default=20)
    rl.add_argument("--status", choices=("running", "done", "failed", "crashed"))
    _add_filters(rl)
    _add_format(rl, ("table", "json", "csv"))
    _add_store(rl)
    rs = rsub.add_parser("show", help="everything about one run")
    rs.add_argument("run_id")
    _add_format(rs)
    _add_store(rs)

    sweeps = sub.add_parser("sweeps", help="list and inspect sweeps")
    ssub = sweeps.add_subparsers(dest="action", metavar="ACTION", required=True)
    sl = ssub.add_parser("list", help="sweeps, newest first")
    sl.add_argument("--page", type=positive_int, default=1)
    sl.add_argument("--page-size", type=positive_int, default=20)
    _add_format(sl)
    _add_store(sl)
    ss = ssub.add_parser("show", help="one sweep: counts, best trial, timings")
    ss.add_argument("sweep_id")
    _add_format(ss)
    _add_store(ss)

    sub.add_parser("version", help="print the mlplat version")
    return parser


def _store(args):
    from mlplat import ops

    return ops.open_store(url=args.store) if getattr(args, "store", None) else ops.open_store()


def _filters(args) -> dict:
    return {"experiment": args.experiment, "sweep_id": args.sweep, "dataset": args.dataset, "model": args.model,
            "status": getattr(args, "status", None)}


def _since(args) -> float | None:
    return time.time() - args.since if getattr(args, "since", None) else None


def cmd_leaderboard(args) -> int:
    from mlplat import ops, output

    result = ops.leaderboard(metric=args.metric, stage=args.stage, filters=_filters(args), since=_since(args),
                             top=args.top, store=_store(args))
    rows = result["rows"]
    if args.format == "json":
        output.emit_json(result)
        return 0
    cols = ["rank", "id", "experiment", "dataset", "model", "value", "std", "holdout", "fit_time_s", "sweep_id", "started_at"]
    if args.format == "csv":
        output.emit_csv(rows, cols)
        return 0
    arrow = "higher is better" if result["direction"] == "maximize" else "lower is better"
    table_rows = [{**r, "score": f"{output.num(r['value'])} ± {output.num(r['std'])}", "holdout": output.num(r["holdout"]),
                   "fit": output.num(r["fit_time_s"], 2), "started": output.when(r["started_at"]),
                   "sweep": (r["sweep_id"] or "")[:8]} for r in rows]
    output.emit_table(f"Leaderboard: {result['metric']} ({args.stage}, {arrow})",
                      [("rank", "#"), ("id", "run"), ("experiment", "experiment"), ("dataset", "dataset"),
                       ("model", "model"), ("score", f"{result['metric']} mean ± std"), ("holdout", "holdout"),
                       ("fit", "fit s"), ("sweep", "sweep"), ("started", "started (UTC)")], table_rows,
                      caption=None if rows else "no finished runs match")
    return 0


def cmd_runs(args) -> int:
    from mlplat import ops, output

    store = _store(args)
    if args.action == "show":
        run = ops.show_run(args.run_id, store=store)
        if args.format == "json":
            output.emit_json(run)
            return 0
        _print_run(run)
        return 0
    page, size = (1, args.last) if args.last else (args.page, args.page_size)
    if args.format == "json" and not args.last and args.page == 1 and args.page_size == 20 and False:
        pass
    rows = ops.list_runs(filters=_filters(args), since=_since(args), page=page, page_size=size, store=store)
    if args.format == "json":
        output.stream_json_list(rows)
        return 0
    if args.format == "csv":
        output.emit_csv(rows, ["id", "experiment", "status", "dataset", "model", "primary_metric", "primary_value",
                               "sweep_id", "started_at", "duration_s", "actor", "source", "error"])
        return 0
    table_rows = [{**r, "started": output.when(r["started_at"]), "dur": output.num(r["duration_s"], 1),
                   "score": f"{r['primary_metric'] or ''} {output.num(r['primary_value'])}".strip(),
                   "sweep": (r["sweep_id"] or "")[:8], "error": (r["error"] or "")[:80]} for r in rows]
    output.emit_table(f"Runs (page {page}, {size} per page, newest first)",
                      [("id", "run"), ("status", "status"), ("experiment", "experiment"), ("dataset", "dataset"),
                       ("model", "model"), ("score", "primary"), ("dur", "s"), ("sweep", "sweep"),
                       ("started", "started (UTC)"), ("error", "error")], table_rows,
                      caption=None if rows else "no runs on this page")
    return 0


def _print_run(run: dict) -> None:
    from rich.console import Console

    from mlplat import output

    c = Console()
    c.print(f"[bold]run {run['id']}[/bold]  status={run['status']}  experiment={run['experiment']}")
    c.print(f"dataset={run['dataset']} (fingerprint {str(run['dataset_fingerprint'])[:16]})  model={run['model']}  "
            f"features={run['features']}  task={run['task']}")
    c.print(f"started={output.when(run['started_at'])}  duration={output.num(run['duration_s'], 2)}s  "
            f"actor={run['actor']} via {run['source']}  sweep={run['sweep_id'] or '-'}")
    c.print(f"code={run['code_version']}{' (dirty)' if run['code_dirty'] else ''}  config_hash={run['config_hash'][:16]}")
    c.print(f"overrides: {' '.join(run['overrides'] or []) or '-'}")
    if run["error"]:
        c.print(f"[red]error: {run['error']}[/red]")
    cv = run["metrics"].get("cv", {})
    holdout = run["metrics"].get("holdout", {})
    rows = [{"metric": k, "cv": f"{output.num(v['value'])} ± {output.num(v['std'])}", "holdout": output.num(holdout.get(k))}
            for k, v in cv.items()]
    if rows:
        output.emit_table("metrics", [("metric", "metric"), ("cv", "cv mean ± std"), ("holdout", "holdout")], rows)
    if run["artifacts"]:
        output.emit_table("artifacts", [("name", "name"), ("size", "bytes"), ("sha", "sha256")],
                          [{**a, "sha": a["sha256"][:16]} for a in run["artifacts"]])


def cmd_sweeps(args) -> int:
    from mlplat import ops, output

    store = _store(args)
    if args.action == "list":
        rows = ops.list_sweeps(page=args.page, page_size=args.page_size, store=store)
        if args.format == "json":
            output.stream_json_list(rows)
            return 0
        output.emit_table("Sweeps (newest first)", [("id", "sweep"), ("status", "status"), ("experiment", "experiment"),
                                                     ("jobs", "done/failed/crashed"), ("best_run_id", "best run"),
                                                     ("started", "started (UTC)"), ("command", "command")],
                          [{**r, "jobs": f"{r['n_done']}/{r['n_failed']}/{r['n_crashed']}",
                            "started": output.when(r["started_at"])} for r in rows])
        return 0
    sweep = ops.show_sweep(args.sweep_id, store=store)
    if args.format == "json":
        output.emit_json(sweep)
        return 0
    print(f"sweep {sweep['id']}  status={sweep['status']}  done={sweep['n_done']} failed={sweep['n_failed']} "
          f"crashed={sweep['n_crashed']}  best={sweep['best_run_id']}")
    print(f"command: {sweep['command']}")
    output.emit_table("trials", [("id", "run"), ("status", "status"), ("model", "model"), ("score", "primary"),
                                 ("error", "error")],
                      [{**r, "score": output.num(r["primary_value"]), "error": (r["error"] or "")[:80]}
                       for r in sweep["trials"]])
    return 0


COMMANDS = {"leaderboard": cmd_leaderboard, "runs": cmd_runs, "sweeps": cmd_sweeps}


def main(argv: list[str] | None = None) -> int:
    # OpenMP's default busy-wait makes HistGradientBoosting/XGBoost 5-10x slower as soon as
    # another process competes for the cores (parallel sweeps, a bot): yield instead.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "train":
        from mlplat.app import train_main

        sys.exit(train_main(argv[1:]))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "version":
        from mlplat import __version__

        print(__version__)
        return 0
    if args.verbose:
        os.environ["MLPLAT_VERBOSE"] = "1"
    from mlplat.errors import MlplatError

    try:
        code = COMMANDS[args.command](args)
    except MlplatError as exc:
        if args.verbose:
            raise
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except BrokenPipeError:
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
