"""`mlplat scheduler start|list|run`."""

from __future__ import annotations

from mlplat.commands.common import add_format


def register(sub) -> None:
    sched = sub.add_parser("scheduler", help="scheduled drift checks, reports and digests (conf/schedule)")
    ssub = sched.add_subparsers(dest="action", metavar="ACTION", required=True)
    st = ssub.add_parser("start", help="run the declared jobs until interrupted")
    st.set_defaults(handler=cmd_start)
    ls = ssub.add_parser("list", help="jobs, triggers, next and last run, last status")
    add_format(ls)
    ls.set_defaults(handler=cmd_list)
    rn = ssub.add_parser("run", help="run one job now")
    rn.add_argument("job")
    add_format(rn)
    rn.set_defaults(handler=cmd_run)


def cmd_start(args) -> int:
    import logging

    from mlplat.scheduling.runner import load_schedule, start

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    schedule = load_schedule()
    print(f"scheduler: {len(schedule.jobs)} job(s) in {schedule.timezone}"
          + (f"; not scheduled: {', '.join(schedule.problems)}" if schedule.problems else ""))
    for problem in schedule.problems.values():
        print(f"error: {problem}")
    try:
        start(blocking=True)
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


def cmd_list(args) -> int:
    from mlplat import output
    from mlplat.scheduling.runner import list_jobs

    rows = list_jobs()
    Col = output.Col
    output.emit_rows(rows, args.format, title="Scheduled jobs", json_value=rows,
                     columns=[Col("job", "job"), Col("type", "type"), Col("trigger", "trigger"),
                              Col("next", "next run (UTC)", lambda r: output.when(r["next_run"])),
                              Col("last", "last run (UTC)", lambda r: output.when(r["last_run"])),
                              Col("status", "last status", lambda r: r["last_status"] or "never run"),
                              Col("note", "summary / problem", lambda r: (r["problem"] or r["last_summary"] or "")[:100])])
    return 1 if any(r["problem"] for r in rows) else 0


def cmd_run(args) -> int:
    from mlplat import output
    from mlplat.ops.access import check_env
    from mlplat.scheduling.runner import execute

    check_env("schedule", what=f"run the schedule job {args.job}")
    result = execute(args.job, manual=True)
    if args.format == "json":
        output.emit_json(result)
    else:
        print(f"{result['job']}: {result['status']}" + (f": {result['error'] or result['summary']}"
                                                        if result.get("error") or result.get("summary") else ""))
    return 0 if result["status"] in ("ok", "skipped") else 1
