"""`mlplat report governance`, `mlplat lineage <model ref>`, and the handler of `mlplat models card`.

Front door only: the operations live in mlplat.ops.governance; this module parses
arguments and prints. Without --output a report or card goes to stdout.
"""

from __future__ import annotations

import time

from mlplat.commands.common import add_store, parse_duration, store_of

SOURCE = "cli"


def register(sub) -> None:
    rep = sub.add_parser("report", help="reports: the governance report")
    rsub = rep.add_subparsers(dest="action", metavar="REPORT", required=True)
    p = rsub.add_parser("governance", help="production models, approvals, runs, violations, changes since last report")
    p.add_argument("--since", type=parse_duration, default=parse_duration("7d"), metavar="DURATION",
                   help="the period the report covers, ending now (default: 7d)")
    p.add_argument("--format", choices=("md", "html", "json"), default="md", help="output format (default: md)")
    p.add_argument("--output", metavar="PATH", help="write the report here (default: stdout)")
    add_store(p)
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("lineage", help="data -> run -> config/code -> version -> approvals -> alias changes")
    p.add_argument("ref", help="NAME (the version on serving.alias, e.g. production; else the newest), NAME:3 "
                               "or NAME@alias")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    add_store(p)
    p.set_defaults(handler=cmd_lineage)


def add_card_parser(msub) -> None:
    """`mlplat models card` (the models parser lives in mlplat.commands.registry)."""
    p = msub.add_parser("card", help="the model card of a version: NAME, NAME:3 or NAME@alias")
    p.add_argument("ref")
    p.add_argument("--format", choices=("md", "html", "json"), default="md", help="output format (default: md)")
    p.add_argument("--output", metavar="PATH", help="write the card here (default: stdout)")
    add_store(p)
    p.set_defaults(handler=cmd_card)


def _actor() -> str:
    from mlplat import ops

    return ops.actor_from_env()


def cmd_report(args) -> int:
    import sys

    from mlplat import ops

    result = ops.governance_report(since=time.time() - args.since, fmt=args.format, output=args.output,
                                   actor=_actor(), source=SOURCE, store=store_of(args))
    if args.output:
        print(f"{result['summary']}\nwritten to {result['path']}")
    else:
        sys.stdout.write(result["content"])
    # a broken audit chain is an error a script should notice; violations are the report's content
    return 1 if result["status"] == "error" else 0


def cmd_lineage(args) -> int:
    from mlplat import ops, output

    data = ops.lineage(args.ref, store=store_of(args))
    if args.format == "json":
        output.emit_json(data)
        return 0
    Col = output.Col
    title = f"Lineage of {data['ref']}" + (f" ({data['chosen']}; name NAME:N for another)" if data.get("chosen") else "")
    output.emit_rows(data["chain"], "table", title=title,
                     columns=[Col("stage", "stage"), Col("subject", "subject"),
                              Col("when", "when (UTC)", lambda r: output.when(r["when"])),
                              Col("who", "who", lambda r: r["who"] or ""), Col("detail", "detail")])
    bad = [c for c in data["checks"] if c["ok"] is False]
    missing = [c for c in data["checks"] if c["ok"] is None]
    chain = data["audit_chain"]
    print(f"audit: {len(data['audit'])} entries about this version; chain "
          + ("verifies" if chain["ok"] else f"DOES NOT VERIFY ({chain['reason']})")
          + f"; {len(data['checks']) - len(bad) - len(missing)}/{len(data['checks'])} store/audit checks agree")
    for c in bad + missing:
        print(f"{'MISMATCH' if c['ok'] is False else 'unrecorded'}: {c['check']}: {c['detail']}")
    return 1 if bad or not chain["ok"] else 0


def cmd_card(args) -> int:
    import sys

    from mlplat import ops

    result = ops.model_card(args.ref, fmt=args.format, output=args.output, store=store_of(args))
    if args.output:
        print(f"model card of {result['model']} written to {result['path']}")
    else:
        sys.stdout.write(result["content"])
    return 0
