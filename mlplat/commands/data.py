"""`mlplat data profile | infer | validate | compare`: the data stage, before any training."""

from __future__ import annotations

import sys
import time

from mlplat.commands.common import add_store

REPORT_SUFFIXES = {".html": "html", ".htm": "html", ".json": "json", ".md": "md"}


def _overrides(p) -> None:
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides naming the dataset, e.g. dataset=churn (as for mlplat train)")


def register(sub) -> None:
    data = sub.add_parser("data", help="profile, infer, validate and compare datasets (no training)")
    dsub = data.add_subparsers(dest="action", metavar="ACTION", required=True)

    pr = dsub.add_parser("profile", help="kinds, missing, distributions, associations and warnings of a dataset")
    _overrides(pr)
    pr.add_argument("--input", metavar="FILE", help="profile a CSV/Parquet file instead of a declared dataset")
    pr.add_argument("--target", help="the target column (default: the dataset's)")
    pr.add_argument("--task", choices=("classification", "regression"), help="default: from the target")
    pr.add_argument("--model", metavar="NAME@ALIAS", help="the dataset a registered model was trained on, "
                                                            "e.g. churn@production or churn:3")
    pr.add_argument("--format", choices=("table", "html", "json", "md"), help="default: table, or from --output")
    pr.add_argument("--output", "-o", metavar="FILE", help="write the report here (html, json or md)")
    add_store(pr)
    pr.set_defaults(handler=cmd_profile)

    inf = dsub.add_parser("infer", help="write conf/dataset/<name>.yaml from a file or a SQL query")
    inf.add_argument("input", nargs="?", metavar="FILE", help="a CSV or Parquet file")
    inf.add_argument("--sql", metavar="QUERY", help="a SELECT, with --url")
    inf.add_argument("--url", help="SQLAlchemy URL for --sql; a password in it is never written to the file")
    inf.add_argument("--password-env", metavar="VAR",
                     help="environment variable the config reads the password from (default: <NAME>_DB_PASSWORD)")
    inf.add_argument("--target", required=True, help="the column to predict")
    inf.add_argument("--name", required=True, help="the dataset's name (conf/dataset/<name>.yaml)")
    inf.add_argument("--task", choices=("classification", "regression"), help="default: from the target")
    inf.add_argument("--output", "-o", metavar="FILE", help="default: conf/dataset/<name>.yaml")
    inf.add_argument("--force", action="store_true", help="overwrite an existing file")
    inf.set_defaults(handler=cmd_infer)

    va = dsub.add_parser("validate", help="a declared dataset's schema against a new file (the train checks)")
    _overrides(va)
    va.add_argument("--current", metavar="FILE", help="the new extract (default: the declared source itself)")
    va.add_argument("--format", choices=("table", "json"), default="table")
    va.set_defaults(handler=cmd_validate)

    co = dsub.add_parser("compare", help="what changed between the declared dataset and a new extract")
    _overrides(co)
    co.add_argument("--current", metavar="FILE", required=True, help="the new extract (CSV/Parquet)")
    co.add_argument("--reference", metavar="FILE", help="compare with this file instead of the declared source")
    co.add_argument("--format", choices=("table", "json", "md"), help="default: table, or from --output")
    co.add_argument("--output", "-o", metavar="FILE", help="write the report here (json or md)")
    co.set_defaults(handler=cmd_compare)


class TerminalProgress:
    """A rich progress bar on stderr for inputs that take a while; silent for quick ones and off a terminal."""

    DELAY_S = 0.5

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.enabled = sys.stderr.isatty()
        self._progress = None
        self._tasks: dict[str, int] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        if not self.enabled or time.monotonic() - self.started < self.DELAY_S:
            return
        if self._progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._progress.start()
        if what not in self._tasks:
            self._tasks[what] = self._progress.add_task(what, total=total)
        self._progress.update(self._tasks[what], completed=done, total=total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _check_overrides(args) -> list[str]:
    from mlplat.errors import ConfigError

    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        raise ConfigError(f"unexpected argument {bad[0]!r}: overrides are KEY=VALUE (e.g. dataset=churn); "
                          "a file goes after --input / --current")
    return list(args.overrides)


def _fmt(args, default: str) -> str:
    from pathlib import Path

    from mlplat.errors import ConfigError

    if args.format:
        return args.format
    if args.output:
        fmt = REPORT_SUFFIXES.get(Path(args.output).suffix.lower())
        if fmt is None:
            raise ConfigError(f"cannot tell the report format of {args.output!r}: use .html, .json or .md, or --format")
        return fmt
    return default


def _write(path: str, text: str) -> None:
    from mlplat.errors import ConfigError
    from mlplat.files import write_atomic

    try:
        write_atomic(path, text.encode(), mode=0o644)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
    print(f"wrote {path} ({len(text.encode()):,} bytes)")


def _pct(v) -> str:
    return "" if v is None else f"{v:.1%}"


def _summary(result: dict) -> None:
    from rich.console import Console

    from mlplat import output

    p = result["profile"]
    c = Console(width=200 if not sys.stdout.isatty() else None, highlight=False)
    c.print(f"[bold]{result['title']}[/bold]  {result['source']}")
    target = f"  target={p['target']} ({p['task']})" if p.get("target") else ""
    c.print(f"{p['n_rows']:,} rows x {p['n_columns']} columns; {p['n_duplicate_rows']:,} duplicated rows "
            f"({_pct(p['duplicate_share'])}){target}; profiled in {p['timings']['total']:.2f} s")
    rows = []
    for name, col in p["columns"].items():
        if "mean" in col:
            summary = f"mean {output.num(col.get('mean'))}, std {output.num(col.get('std'))}, " \
                      f"[{output.num(col.get('min'))}, {output.num(col.get('max'))}]"
        elif col.get("kind") == "datetime":
            summary = f"{col.get('min')} .. {col.get('max')}"
        else:
            summary = ", ".join(f"{t['value']} {t['share']:.0%}" for t in (col.get("top") or [])[:3])
        rows.append({"column": name, "kind": col.get("kind"), "missing": _pct(col.get("missing_share")),
                     "distinct": f"{col.get('n_distinct', 0):,}", "summary": summary[:90]})
    output.emit_table("columns", [("column", "column"), ("kind", "kind"), ("missing", "missing"),
                                  ("distinct", "distinct"), ("summary", "summary")], rows)
    ta = p.get("target_associations") or {}
    if ta:
        top = sorted(ta.items(), key=lambda kv: -(kv[1].get("strength") or 0))[:10]
        output.emit_table(f"against the target {p['target']}", [("feature", "feature"), ("measure", "measure"),
                                                               ("value", "value")],
                          [{"feature": k, "measure": r["measure"], "value": output.num(r["value"])} for k, r in top])
    for w in p.get("warnings") or []:
        c.print(f"{w['severity']}: [bold]{w['type']}[/bold] {w['message']}")
    for name, why in (p.get("skipped") or {}).items():
        c.print(f"skipped column {name!r}: {why}")


def cmd_profile(args) -> int:
    from mlplat import ops

    fmt = _fmt(args, "table")
    progress = TerminalProgress()
    store = None
    if args.model and args.store:
        store = ops.open_store(url=args.store)
    try:
        result = ops.profile_dataset(overrides=_check_overrides(args), input=args.input, target=args.target,
                                     task=args.task, model=args.model, progress=progress, store=store)
    finally:
        progress.close()
    if fmt == "table":
        _summary(result)
        return 0
    text = ops.render_profile(result, fmt)
    if args.output:
        _write(args.output, text)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_infer(args) -> int:
    from mlplat import ops

    progress = TerminalProgress()
    try:
        out = ops.infer_dataset(target=args.target, name=args.name, input=args.input, sql=args.sql, url=args.url,
                                output=args.output, force=args.force, password_env=args.password_env,
                                task=args.task, progress=progress)
    finally:
        progress.close()
    p = out["profile"]
    print(f"wrote {out['path']}: {p['n_rows']:,} rows, task {p['task']}, target {p['target']}; "
          f"{sum(1 for w in p['warnings'] if w['type'] == 'leakage')} leakage suspect(s) dropped with a comment")
    if out.get("password_env"):
        print(f"the URL's password is not in the file: export {out['password_env']}=... before loading it")
    print(f"next: mlplat data profile dataset={args.name}   then   mlplat train dataset={args.name}")
    return 0


def cmd_validate(args) -> int:
    from mlplat import ops, output

    out = ops.validate_dataset(overrides=_check_overrides(args), current=args.current)
    if args.format == "json":
        output.emit_json(out)
    elif out["ok"]:
        print(f"ok: {out['input']}: {out['message']}")
    else:
        print(f"error: {out['input']}: {out['message']}", file=sys.stderr)
    return 0 if out["ok"] else 1


def cmd_compare(args) -> int:
    from mlplat import ops, output
    from mlplat.data import report

    fmt = _fmt(args, "table")
    if fmt == "html":
        from mlplat.errors import ConfigError

        raise ConfigError("compare writes json or md (the drift HTML is `mlplat monitor drift ... --format html`)")
    out = ops.compare_dataset(overrides=_check_overrides(args), current=args.current, reference=args.reference)
    title = f"Compare {out['reference']} -> {out['current']}"
    if fmt in ("json", "md"):
        text = report.to_json(out) if fmt == "json" else report.compare_markdown(out, title=title)
        if args.output:
            _write(args.output, text)
        else:
            sys.stdout.write(text)
        return 0 if out["status"] != "schema" else 1
    schema, shares, drift = out["schema"], out["shares"], out["drift"]
    print(f"{title}: status {out['status']}")
    print(f"rows {shares['rows']['reference']:,} -> {shares['rows']['current']:,}; columns added "
          f"{schema['added'] or 'none'}, removed {schema['removed'] or 'none'}")
    for d in schema["dtype_changed"]:
        print(f"dtype of {d['column']!r}: {d['reference']} -> {d['current']}")
    if schema["declared"]:
        print(("schema ok: " if schema["declared"]["ok"] else "schema broken: ") + schema["declared"]["message"])
    rows = []
    for name, f in drift["features"].items():
        share = shares["columns"].get(name) or {}
        rows.append({"column": name, "status": f["status"], "method": f.get("method") or "",
                     "score": output.num(f.get("score")), "missing": f"{_pct(share.get('missing_reference'))} -> "
                                                                       f"{_pct(share.get('missing_current'))}",
                     "why": (f.get("reason") or "")[:100]})
    output.emit_table(f"distributions (the drift monitor's tests): {drift['n_drifted']}/{drift['n_checked']} drifted",
                      [("column", "column"), ("status", "status"), ("method", "method"), ("score", "score"),
                       ("missing", "missing ref -> cur"), ("why", "why")], rows)
    return 0 if out["status"] != "schema" else 1
