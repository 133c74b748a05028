"""`mlplat check` and `mlplat ci run|comment|deploy|workflow`: CI/CD for models (docs/ci.md).

Exit codes of `ci run` and `ci deploy`: 0 every gate passes (or nothing is affected), 1 a gate
fails, 2 an error (bad input, a failed training, an unreachable API). The acting user is
MLPLAT_ACTOR or the OS user, as for every command; the rules live in mlplat.ops.ci.
"""

from __future__ import annotations

import sys

from mlplat.commands.common import positive_int

SOURCE = "ci"


def register(sub) -> None:
    p = sub.add_parser("check", help="every config composes and validates (no training); exit 1 lists each problem")
    p.add_argument("--no-data", action="store_true", help="skip sampling the datasets")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(handler=cmd_check)

    ci = sub.add_parser("ci", help="CI/CD: evaluate a change against production, comment on the PR, deploy")
    csub = ci.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = csub.add_parser("run", help="train what the change touches, compare with the target alias, write a report")
    p.add_argument("overrides", nargs="*", metavar="OVERRIDE", help="experiment=NAME[,NAME] and overrides for all")
    p.add_argument("--base", metavar="REF", help="git ref the change goes into, e.g. origin/main")
    p.add_argument("--report", metavar="PATH", help="report file (default: ci.report of the config, ci-report.md)")
    p.add_argument("--format", choices=("md", "html", "json"), help="report format (default: from the suffix)")
    p.add_argument("--target", metavar="ALIAS", help="alias to compare with (default: ci.target, production)")
    p.add_argument("--pr", type=positive_int, metavar="NUMBER", help="pull/merge request number (default: from CI)")
    p.set_defaults(handler=cmd_run)
    p = csub.add_parser("comment", help="create or update the one mlplat comment on the pull request")
    p.add_argument("report", help="a markdown report written by `mlplat ci run`")
    p.add_argument("--provider", choices=("github", "gitlab"), help="default: from the CI environment")
    p.add_argument("--pr", type=positive_int, metavar="NUMBER", help="default: from the CI environment")
    p.set_defaults(handler=cmd_comment)
    p = csub.add_parser("deploy", help="on main after a merge: register passing candidates, request promotion")
    p.add_argument("overrides", nargs="*", metavar="OVERRIDE")
    p.add_argument("--base", required=True, metavar="REF", help="the commit before the merge, e.g. HEAD~1")
    p.add_argument("--target", metavar="ALIAS")
    p.add_argument("--pr", type=positive_int, metavar="NUMBER", help="default: the PR whose CI run evaluated it")
    p.add_argument("--comment", action="store_true",
                   help="add each filed request to its pull request's comment (the API variables of `ci comment`)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(handler=cmd_deploy)
    p = csub.add_parser("workflow", help="write the CI file: .github/workflows/mlplat.yml or .gitlab-ci.yml")
    p.add_argument("kind", choices=("github", "gitlab"))
    p.add_argument("--dir", default=".", help="project root (default: .)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(handler=cmd_workflow)


def _actor() -> str:
    from mlplat import ops

    return ops.actor_from_env()


def _fail(exc: Exception) -> int:
    import os

    if os.environ.get("MLPLAT_VERBOSE") == "1":
        raise exc
    print(f"error: {exc}", file=sys.stderr)
    return 2


def cmd_check(args) -> int:
    from mlplat import ops, output

    def schedule_problems(plain: dict) -> list[tuple[str, str]]:
        # the scheduler is a front door: its rules live there (imported when reached, ~0.25 s)
        from mlplat.scheduling.checks import schedule_problems as problems

        return problems(plain)

    result = ops.check_project(data=not args.no_data,
                               extra=(("conf/schedule/default.yaml", "schedule", schedule_problems),))
    if args.format == "json":
        output.emit_json(result)
    else:
        for p in result["problems"]:
            print(f"{p['file']}: {p['key']}: {p['problem']}")
        counts = ", ".join(f"{n} {what}" for what, n in result["checked"].items())
        verdict = f"{len(result['problems'])} problem(s)" if result["problems"] else "no problems"
        for var, files in (result.get("needs_env") or {}).items():
            print(f"note: {', '.join(files)} read(s) ${var}, unset here: set it where that option runs",
                  file=sys.stderr)
        if result.get("needs_data"):
            print(f"note: {', '.join(sorted(result['needs_data']))}: shipped example dataset(s) whose data files "
                  "this project does not have (not a problem): copy the data into the project or point "
                  "dataset.path/url at it to use them", file=sys.stderr)
        for extra, files in (result.get("needs_extra") or {}).items():
            print(f"note: {', '.join(sorted(set(files)))} need(s) the {extra!r} extra, not installed here: "
                  f"pip install 'mlplat[{extra}]' to check and use them", file=sys.stderr)
        print(f"checked {counts}: {verdict}", file=sys.stderr)
    return 1 if result["problems"] else 0


def cmd_run(args) -> int:
    from pathlib import Path

    from mlplat import ops
    from mlplat.ci import comment, report
    from mlplat.errors import MlplatError

    try:
        result = ops.evaluate_change(args.overrides, base=args.base, actor=_actor(), source=SOURCE, pr=args.pr,
                                     target=args.target, report=args.report, report_format=args.format)
        target_path = Path(result["report"])
        report.write(result, target_path, args.format, marker=comment.MARKER)
    except MlplatError as exc:
        return _fail(exc)
    if not result["experiments"]:
        print(f"no experiment is affected by the change ({len(result['changed_files'])} changed file(s)); "
              f"report: {target_path}")
        return 0
    for exp in result["experiments"]:
        print(exp["summary"])
    print(f"report: {target_path} (verdict {result['verdict']})")
    return result["exit_code"]


def cmd_comment(args) -> int:
    from pathlib import Path

    from mlplat import ops
    from mlplat.errors import MlplatError

    try:
        body = Path(args.report).read_text()
    except OSError as exc:
        print(f"error: cannot read report {args.report!r} ({exc.strerror}); write it with `mlplat ci run --report "
              f"{args.report}`", file=sys.stderr)
        return 2
    try:
        done = ops.ci_comment(body, provider=args.provider, pr=args.pr)
    except MlplatError as exc:
        return _fail(exc)
    print(f"{done['action']} comment {done['id']} on {done['provider']} pull request {done['pr']}"
          + (f": {done['url']}" if done.get("url") else ""))
    return 0


def cmd_deploy(args) -> int:
    from mlplat import ops, output
    from mlplat.errors import MlplatError

    try:
        result = ops.ci_deploy(args.overrides, base=args.base, actor=_actor(), source=SOURCE, pr=args.pr,
                               target=args.target)
    except MlplatError as exc:
        return _fail(exc)
    if args.format == "json":
        output.emit_json(result)
        return result["exit_code"]
    if not result["experiments"]:
        print(f"no experiment is affected by the change ({len(result['changed_files'])} changed file(s)); "
              "nothing to deploy")
    for exp in result["experiments"]:
        print(exp["summary"])
    for d in result["deployed"]:
        pr = f" (PR #{d['pr']})" if d.get("pr") else ""
        print(f"registered {d['model']}:{d['version']}{pr}; promotion request {d['request_id']} is {d['status']}"
              + (f": approve with `mlplat approve {d['request_id']}`" if d["status"] == "pending" else ""))
    if args.comment:
        _comment_deployed(result)
    if result["verdict"] == "error":
        print("error: an experiment could not be evaluated; nothing was registered", file=sys.stderr)
    return result["exit_code"]


def _comment_deployed(result: dict) -> None:
    """The requests filed, added to each pull request's comment: the report links to the request."""
    from mlplat import ops
    from mlplat.errors import MlplatError

    by_pr: dict[int, list[str]] = {}
    for d in result["deployed"]:
        if d.get("pr"):
            by_pr.setdefault(int(d["pr"]), []).append(
                f"**Deployed** from `{result['commit'][:12]}`: `{d['model']}:{d['version']}` registered; promotion "
                f"request `{d['request_id']}` to {result['target']} is {d['status']}"
                + (f" (approve in Slack or with `mlplat approve {d['request_id']}`)" if d["status"] == "pending" else ""))
    for pr, lines in by_pr.items():
        try:
            done = ops.ci_comment("\n\n".join(lines), pr=pr, append=True)
        except MlplatError as exc:  # the requests stand; only the note on the pull request is missing
            print(f"warning: the requests are filed but pull request {pr}'s comment was not updated: {exc}",
                  file=sys.stderr)
            continue
        print(f"{done['action']} comment {done['id']} on pull request {pr}")


def cmd_workflow(args) -> int:
    from mlplat import ops
    from mlplat.errors import MlplatError

    try:
        path = ops.write_ci_workflow(args.dir, args.kind, force=args.force)
    except MlplatError as exc:
        return _fail(exc)
    print(f"wrote {path}")
    return 0
