"""`mlplat store stats`, `mlplat store prune`."""

from __future__ import annotations

import argparse

from mlplat.commands.common import add_format, add_store, parse_duration, store_of


def register(sub) -> None:
    store = sub.add_parser("store", help="what the store holds; reclaim artifact space")
    ssub = store.add_subparsers(dest="action", metavar="ACTION", required=True)
    st = ssub.add_parser("stats", help="runs by status, sweeps, experiments, sizes, schema version")
    add_format(st)
    add_store(st)
    st.set_defaults(handler=cmd_stats)

    pr = ssub.add_parser("prune", help="delete artifact files of old runs no model version references")
    # a string, parsed by the handler: a malformed value then ends in one line, not argparse's usage dump
    pr.add_argument("--older-than", required=True, metavar="DURATION", help="age of runs to prune, e.g. 180d, 26w")
    pr.add_argument("--keep-registered", action="store_true",
                    help="required: confirms that runs referenced by a model version are kept")
    pr.add_argument("--dry-run", action="store_true", help="report what would be deleted; change nothing")
    add_format(pr)
    add_store(pr)
    pr.set_defaults(handler=cmd_prune)


def _duration(text: str, option: str) -> float:
    from mlplat.errors import ConfigError

    try:
        return parse_duration(text)
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"{option}: {exc}") from None


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def cmd_stats(args) -> int:
    from mlplat import ops, output

    s = ops.store_stats(store=store_of(args))
    if args.format == "json":
        output.emit_json(s)
        return 0
    by_status = ", ".join(f"{k} {v}" for k, v in s["runs_by_status"].items()) or "none"
    schema = ", ".join(s["schema_version"]) + ("" if s["schema_up_to_date"] else
                                               f" (heads: {', '.join(s['schema_heads'])})")
    rows = [("store", s["url"]), ("runs", f"{s['runs']} ({by_status})"), ("sweeps", s["sweeps"]),
            ("experiments", s["experiments"]), ("audit entries", s["audit_entries"]),
            ("first / last run", f"{output.when(s['first_run_at']) or '-'} / {output.when(s['last_run_at']) or '-'}"),
            ("database size", _size(s["db_bytes"])),
            ("artifacts", f"{s['artifact_files']} files, {_size(s['artifact_bytes'])}"),
            ("pruned", f"{s['pruned_files']} files, {_size(s['pruned_bytes'])}"),
            ("unrecorded files", f"{s['orphaned_files']} (of crashed/failed runs; `mlplat runs cleanup` removes them)"
             if s["orphaned_files"] else "0"),
            ("schema version", schema)]
    output.emit_table("Store", [("k", ""), ("v", "")], [{"k": k, "v": v} for k, v in rows])
    return 0


def cmd_prune(args) -> int:
    from mlplat import ops, output

    older = _duration(args.older_than, "--older-than")
    report = ops.prune(older_than_s=older, keep_registered=args.keep_registered, dry_run=args.dry_run,
                       store=store_of(args))
    if args.format == "json":
        output.emit_json(report)
        return 0
    verb = "would delete" if report["dry_run"] else "deleted"
    print(f"{verb} {report['files']} artifact files ({_size(report['bytes'])}) of {report['runs']} runs "
          f"started before {output.when(report['cutoff'])} UTC; kept {report['kept_registered']} registered runs"
          + (f"; {report['missing_files']} files were already missing" if report["missing_files"] else "")
          + ("" if report["dry_run"] else f"; audit entries {report['audit_seqs'] or 'none (nothing to prune)'}"))
    if report["orphaned_files"]:
        print(f"note: {report['orphaned_files']} unrecorded files of crashed/failed runs are not pruned; "
              "`mlplat runs cleanup` removes them")
    return 0
