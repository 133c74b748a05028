"""`mlplat models ...`, `mlplat approvals list`, `mlplat approve`, `mlplat reject`, `mlplat audit ...`.

The acting user is the OS user; MLPLAT_ACTOR overrides it (meant for tests and
automation, e.g. a CI job acting as a service account). Who may do what is decided in
mlplat.ops.registry, never here.
"""

from __future__ import annotations

import argparse
import datetime as dt

from mlplat.commands.common import add_format, add_store, positive_int, store_of

SOURCE = "cli"


def parse_time(text: str) -> float:
    """'2026-11-26T10:00:00' (UTC unless an offset is given) or epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"malformed time {text!r}: use ISO 8601, e.g. 2026-11-26T10:00:00, "
                                         "or epoch seconds") from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"malformed tag {text!r}: use KEY=VALUE")
    return key, value


def register(sub) -> None:
    models = sub.add_parser("models", help="the model registry: register, list, show, promote, rollback")
    msub = models.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = msub.add_parser("register", help="register a finished run as a new version")
    p.add_argument("run_id")
    p.add_argument("--name", required=True, help="model name, e.g. churn")
    p.add_argument("--description")
    p.add_argument("--tag", type=tag, action="append", default=[], metavar="KEY=VALUE")
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_register)
    p = msub.add_parser("list", help="registered models and their aliases")
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_list)
    p = msub.add_parser("show", help="a model (versions, aliases, history) or one version: NAME, NAME:3, NAME@alias")
    p.add_argument("ref")
    p.add_argument("--at", type=parse_time, metavar="TIME", help="with NAME@alias: the version it pointed at then")
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_show)
    p = msub.add_parser("promote", help="evaluate the gates and request a promotion to an alias")
    p.add_argument("name")
    p.add_argument("version", type=positive_int)
    p.add_argument("--to", required=True, metavar="ALIAS", help="target alias, e.g. staging or production")
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_promote)
    p = msub.add_parser("rollback", help="point an alias back at its previous version (audited)")
    p.add_argument("name")
    p.add_argument("--alias", default="production")
    p.add_argument("--to", type=positive_int, metavar="VERSION", help="a version the alias served before")
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_rollback)
    from mlplat.commands.governance import add_card_parser  # the card is governance's; listed with models

    add_card_parser(msub)

    ap = sub.add_parser("approvals", help="promotion requests")
    asub = ap.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = asub.add_parser("list", help="requests, newest first")
    p.add_argument("--pending", action="store_true", help="only pending requests")
    p.add_argument("--status", choices=("pending", "approved", "rejected", "expired", "superseded"))
    p.add_argument("--model", help="only requests for this model")
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_approvals_list)
    p = asub.add_parser("show", help="one request with its evidence")
    p.add_argument("request_id")
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_approvals_show)

    p = sub.add_parser("approve", help="approve a pending promotion request (not your own)")
    p.add_argument("request_id")
    p.add_argument("--comment")
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_approve)
    p = sub.add_parser("reject", help="reject a pending promotion request")
    p.add_argument("request_id")
    p.add_argument("--reason", required=True)
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_reject)

    au = sub.add_parser("audit", help="the hash-chained audit trail")
    ausub = au.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = ausub.add_parser("log", help="entries, newest first")
    p.add_argument("--object", help="an object id (run id, request id) or a model name (its versions, aliases, "
                                    "promotion requests, approvals and rejections)")
    p.add_argument("--type", dest="object_type", help="object type: run, sweep, model, alias, request")
    p.add_argument("--action", dest="audit_action", help="action prefix, e.g. promotion or alias.rollback")
    p.add_argument("--limit", type=positive_int, default=50)
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_audit_log)
    p = ausub.add_parser("verify", help="check the chain, its MACs, checkpoints and the registry tables; exit 1 "
                                        "if an entry was edited, deleted, reordered or cut, or a registry row is "
                                        "unexplained")
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_audit_verify)
    p = ausub.add_parser("checkpoint", help="sign the trail's head (verify then detects entries cut from the end)")
    add_format(p)
    add_store(p)
    p.set_defaults(handler=cmd_audit_checkpoint)


def _actor() -> str:
    from mlplat import ops

    return ops.actor_from_env()


def _json(obj) -> int:
    from mlplat import output

    output.emit_json(obj)
    return 0


def _metric_line(metrics: dict, primary: str | None) -> str:
    from mlplat import output

    hold, cv = (metrics or {}).get("holdout", {}), (metrics or {}).get("cv", {})
    if primary:
        return f"{primary} cv={output.num(cv.get(primary))} holdout={output.num(hold.get(primary))}"
    return ""


def _print_version(v: dict) -> None:
    from rich.console import Console

    from mlplat import output

    c = Console()
    c.print(f"[bold]{v['name']}:{v['version']}[/bold]  aliases={','.join(v.get('aliases') or []) or '-'}  "
            f"registered {output.when(v['created_at'])} UTC by {v['actor']} ({v['source']})")
    c.print(f"run {v['run_id']}  dataset={v['dataset']} (fingerprint {str(v['dataset_fingerprint'])[:16]})  "
            f"config {str(v['config_hash'])[:12]}  code {str(v['code_version'])[:12]}")
    c.print(f"{_metric_line(v['metrics'], v['primary_metric'])}  model sha256 {v['model_sha256'][:16]}")
    if v.get("description"):
        c.print(f"description: {v['description']}")
    if v.get("tags"):
        c.print("tags: " + ", ".join(f"{k}={val}" for k, val in v["tags"].items()))
    sig = v.get("signature") or {}
    c.print("inputs: " + ", ".join(f"{i['name']}:{i['dtype']}{'?' if i.get('nullable') else ''}"
                                   for i in sig.get("inputs", [])))
    out = sig.get("output") or {}
    c.print(f"output: {out.get('task')} {out.get('dtype')}" + (f" classes={out['classes']}" if out.get("classes") else ""))


def cmd_register(args) -> int:
    from mlplat import ops

    v = ops.register(args.run_id, args.name, actor=_actor(), source=SOURCE, description=args.description,
                     tags=dict(args.tag), store=store_of(args))
    if args.format == "json":
        return _json(v)
    print(f"registered {v['name']}:{v['version']} from run {v['run_id']}")
    return 0


def cmd_list(args) -> int:
    from mlplat import ops, output

    rows = ops.list_models(url=args.store)  # over the bare driver when it can: no SQLAlchemy import
    Col = output.Col
    output.emit_rows(rows, args.format, title="Registered models",
                     columns=[Col("name", "model"), Col("latest_version", "latest"),
                              Col("aliases", "aliases", lambda r: ", ".join(f"{a}={v}" for a, v in sorted(r["aliases"].items()))),
                              Col("created", "created (UTC)", lambda r: output.when(r["created_at"]))],
                     json_value=rows, empty="no models yet: `mlplat models register <run id> --name NAME`")
    return 0


def cmd_show(args) -> int:
    from mlplat import ops, output

    res = ops.show_model(args.ref, at=args.at, store=store_of(args))
    if args.format == "json":
        return _json(res)
    if "versions" not in res:
        _print_version(res)
        return 0
    by_version: dict[int, list[str]] = {}
    for a, v in res["aliases"].items():
        by_version.setdefault(v, []).append(a)
    Col = output.Col
    output.emit_rows(res["versions"], "table", title=f"{res['name']}: versions",
                     columns=[Col("version", "version"),
                              Col("aliases", "aliases", lambda v: ", ".join(sorted(by_version.get(v["version"], [])))),
                              Col("run_id", "run"), Col("score", "primary", lambda v: _metric_line(v["metrics"], v["primary_metric"])),
                              Col("created", "registered (UTC)", lambda v: output.when(v["created_at"])), Col("actor", "by")])
    if res["alias_history"]:
        output.emit_rows(res["alias_history"], "table", title="alias history (newest first)",
                         columns=[Col("when", "when (UTC)", lambda h: output.when(h["ts"])), Col("alias", "alias"),
                                  Col("move", "version", lambda h: f"{h['previous_version'] or '-'} -> {h['version']}"),
                                  Col("action", "action"), Col("actor", "by"),
                                  Col("request_id", "request", lambda h: h["request_id"] or "")])
    return 0


def _print_request(r: dict) -> None:
    print(f"request {r['id']}: {r['name']}:{r['version']} -> {r['target']}  status={r['status']}  "
          f"approvals {len(r.get('approvals', []))}/{r['approvals_needed']}  requested by {r['requester']}")
    for g in (r.get("evidence") or {}).get("gates", []):
        print(f"  gate {g['gate']}: {g['status']} ({g['detail']})")
    if r["status"] == "pending":
        print(f"  approve with: mlplat approve {r['id']}   (by an approver other than {r['requester']})")


def cmd_promote(args) -> int:
    from mlplat import ops

    r = ops.request_promotion(args.name, args.version, args.to, actor=_actor(), source=SOURCE, store=store_of(args))
    if args.format == "json":
        return _json(r)
    _print_request(r)
    if r["status"] == "approved":
        print(f"{r['name']}@{r['target']} now points at version {r['version']}")
    return 0


def cmd_rollback(args) -> int:
    from mlplat import ops

    r = ops.rollback(args.name, alias=args.alias, to=args.to, actor=_actor(), source=SOURCE, store=store_of(args))
    if args.format == "json":
        return _json(r)
    print(f"rolled back {r['name']}@{r['alias']}: version {r['from_version']} -> {r['to_version']}")
    return 0


def cmd_approvals_list(args) -> int:
    from mlplat import ops, output

    status = "pending" if args.pending else args.status
    rows = ops.list_approvals(actor=_actor(), source=SOURCE, status=status, name=args.model, url=args.store)
    Col = output.Col
    output.emit_rows(rows, args.format, title="Promotion requests (newest first)",
                     columns=[Col("id", "request"), Col("model", "model", lambda r: f"{r['name']}:{r['version']}"),
                              Col("target", "to"), Col("status", "status"),
                              Col("count", "approvals", lambda r: f"{r['approvals_count']}/{r['approvals_needed']}"),
                              Col("requester", "requested by"),
                              Col("created", "requested (UTC)", lambda r: output.when(r["created_at"])),
                              Col("expires", "expires (UTC)", lambda r: output.when(r["expires_at"])),
                              Col("gates", "gates", lambda r: ", ".join(f"{g['gate']}={g['status']}"
                                                                        for g in r["evidence"].get("gates", [])))],
                     json_value=rows, empty="no requests")
    return 0


def cmd_approvals_show(args) -> int:
    from mlplat import ops

    r = ops.show_approval(args.request_id, store=store_of(args))
    if args.format == "json":
        return _json(r)
    _print_request(r)
    return 0


def cmd_approve(args) -> int:
    from mlplat import ops

    r = ops.approve(args.request_id, actor=_actor(), source=SOURCE, comment=args.comment, store=store_of(args))
    if args.format == "json":
        return _json(r)
    if r["status"] == "approved":
        print(f"approved {r['id']}: {r['name']}@{r['target']} now points at version {r['version']}")
    else:
        print(f"approval recorded for {r['id']}: {len(r['approvals'])}/{r['approvals_needed']}")
    return 0


def cmd_reject(args) -> int:
    from mlplat import ops

    r = ops.reject(args.request_id, actor=_actor(), source=SOURCE, reason=args.reason, store=store_of(args))
    if args.format == "json":
        return _json(r)
    print(f"rejected {r['id']} ({r['name']}:{r['version']} -> {r['target']}): {r['reason']}")
    return 0


def cmd_audit_log(args) -> int:
    from mlplat import ops, output

    rows = ops.audit_log(object_id=args.object, object_type=args.object_type, action=args.audit_action,
                         limit=args.limit, url=args.store)
    Col = output.Col
    output.emit_rows(rows, args.format, title="Audit trail (newest first)",
                     columns=[Col("seq", "#"), Col("when", "when (UTC)", lambda r: output.when(r["ts"])),
                              Col("actor", "actor"), Col("source", "via"), Col("action", "action"),
                              Col("object", "object", lambda r: f"{r['object_type']} {r['object_id']}"),
                              Col("payload", "payload", lambda r: r["payload"][:100])],
                     json_value=rows, empty="no entries match")
    return 0


def cmd_audit_verify(args) -> int:
    from mlplat import ops

    r = ops.audit_verify(store=store_of(args))
    if args.format == "json":
        _json(r)
        return 0 if r["ok"] else 1
    cp = r["last_checkpoint"]
    anchors = (f"{r['signed']} signed with key {r['key_id']}"
               + (f", {r['unsigned']} unsigned from before the audit key" if r["unsigned"] else "")
               + f"; {r['checkpoints']} checkpoint(s)"
               + (f", the newest at entry {cp['seq']} ({output_when(cp['ts'])})" if cp else
                  " (sign one with `mlplat audit checkpoint`)"))
    if r["ok"]:
        print(f"audit trail intact: {r['entries']} entries verified ({anchors}); registry tables explained")
        return 0
    if r["first_bad_seq"] is not None:
        print(f"audit trail BROKEN at entry {r['first_bad_seq']}: {r['reason']} "
              f"({r['entries']} entries verified before it)")
    else:
        print(f"audit trail intact ({r['entries']} entries, {anchors}) but {r['reason']}:")
        for line in r["unexplained"]:
            print(f"  {line}")
    return 1


def output_when(ts: float) -> str:
    from mlplat import output

    return output.when(ts) + " UTC"


def cmd_audit_checkpoint(args) -> int:
    from mlplat import ops

    r = ops.audit_checkpoint(actor=_actor(), source="cli", store=store_of(args))
    if args.format == "json":
        return _json(r)
    print(f"checkpoint {r['id']}: entry {r['seq']} ({r['hash'][:12]}) signed with key {r['key_id']}")
    return 0
