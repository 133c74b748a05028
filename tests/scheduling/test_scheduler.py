"""The scheduler against a real SQLite store: persistence across restarts, misfires, failures, the lock, bad jobs.

Nothing sleeps for a schedule to come round: persistent state is edited in the job store
table (a past next_run_time) or triggers fire every second, and tests poll the store.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import pickle
import subprocess
import sys

import sqlalchemy as sa
from waiting import wait_until

from mlplat.scheduling.runner import JOBSTORE_TABLE, execute, list_jobs

DAILY = {"cron": "0 3 * * *"}
WEEKLY = {"cron": "0 3 * * mon"}


def _stored_next(sched, job: str) -> float | None:
    rows = sched.query(f"SELECT next_run_time FROM {JOBSTORE_TABLE} WHERE id = :id", id=job)
    return rows[0][0] if rows else None


def _set_stored_next(sched, job: str, when: dt.datetime) -> None:
    """Move a stored job's next fire time, in both places APScheduler keeps it (column and pickled state)."""
    with sched.store().write() as conn:
        state = pickle.loads(conn.execute(sa.text(f"SELECT job_state FROM {JOBSTORE_TABLE} WHERE id = :id"),
                                          {"id": job}).scalar_one())
        state["next_run_time"] = when
        conn.execute(sa.text(f"UPDATE {JOBSTORE_TABLE} SET job_state = :s, next_run_time = :t WHERE id = :id"),
                     {"s": pickle.dumps(state, pickle.HIGHEST_PROTOCOL), "t": when.timestamp(), "id": job})


def _runs(sched, job: str) -> list[tuple]:
    return sched.query("SELECT status, slot, error FROM schedule_runs WHERE job = :job ORDER BY id", job=job)


def _start(**kw):
    from mlplat.scheduling.runner import start

    return start(blocking=False, **kw)


def test_restart_keeps_stored_jobs_their_next_run_time_and_last_run(sched):

    sched.write_schedule({"audit_check": {"type": "audit_verify", "trigger": DAILY},
                          "stale": {"type": "stale_model_check", "trigger": WEEKLY, "params": {"max_age": "30d"}}})
    scheduler = _start()
    try:
        first = _stored_next(sched, "audit_check")
        assert first is not None and first > dt.datetime.now(dt.UTC).timestamp()
    finally:
        scheduler.shutdown(wait=True)
    assert execute("audit_check", manual=True)["status"] == "ok"

    # an odd next fire time only the job store can know: a restart must keep it, not recompute it
    kept = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=5, minutes=17)
    _set_stored_next(sched, "audit_check", kept)
    # and a changed trigger replaces the stored job; a job gone from conf/schedule leaves the store
    sched.write_schedule({"audit_check": {"type": "audit_verify", "trigger": DAILY},
                          "digest": {"type": "leaderboard_digest", "trigger": {"cron": "0 4 * * *"}}})
    scheduler = _start()
    try:
        assert _stored_next(sched, "audit_check") == kept.timestamp()
        ids = {r[0] for r in sched.query(f"SELECT id FROM {JOBSTORE_TABLE}")}
        assert ids == {"audit_check", "digest"}
        listed = {r["job"]: r for r in list_jobs()}
        assert listed["audit_check"]["next_run"] == kept.timestamp()
        assert listed["audit_check"]["last_status"] == "ok"
        assert listed["digest"]["last_status"] is None
    finally:
        scheduler.shutdown(wait=True)


def test_runs_missed_within_grace_happen_once_on_start(sched, recorder, caplog):
    sched.write_schedule({"audit_check": {"type": "audit_verify", "trigger": WEEKLY}}, misfire_grace="30d")
    _start().shutdown(wait=True)  # registers the job in the store
    # the scheduler was "down" for three weekly fire times, all within the grace
    trigger_fire = dt.datetime.now(dt.UTC).replace(hour=3, minute=0, second=0, microsecond=0)
    three_weeks_ago = trigger_fire - dt.timedelta(days=trigger_fire.weekday() + 21)
    _set_stored_next(sched, "audit_check", three_weeks_ago)
    caplog.set_level(logging.INFO, logger="mlplat.scheduler")
    scheduler = _start()
    try:
        wait_until(lambda: any(s == "ok" for s, _, _ in _runs(sched, "audit_check")), timeout=30)
        wait_until(lambda: (_stored_next(sched, "audit_check") or 0) > dt.datetime.now(dt.UTC).timestamp(),
                   timeout=30)
    finally:
        scheduler.shutdown(wait=True)
    assert [s for s, _, _ in _runs(sched, "audit_check")] == ["ok"]
    # coalesced by APScheduler, not merely deduplicated by the slot lock
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]


def test_failing_job_is_recorded_and_alerted_and_the_others_still_run(sched, recorder):
    from mlplat import ops

    sched.write_schedule({"audit_check": {"type": "audit_verify", "trigger": {"every": "1s"}},
                          "stale": {"type": "stale_model_check", "trigger": {"every": "1s"}}})
    ops.open_store(create=True)  # a new store (reads never create one)
    assert execute("audit_check", manual=True)["status"] == "ok"  # writes audit entries to tamper with
    with sched.store().write() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"))
    scheduler = _start()
    try:
        wait_until(lambda: any(s == "failed" for s, _, _ in _runs(sched, "audit_check"))
                   and any(s == "ok" for s, _, _ in _runs(sched, "stale")), timeout=30)
    finally:
        scheduler.shutdown(wait=True)
    failed = [r for r in _runs(sched, "audit_check") if r[0] == "failed"]
    assert "audit trail does not verify" in failed[0][2] and "entry 1 was edited" in failed[0][2]
    assert all(s == "ok" for s, _, _ in _runs(sched, "stale"))
    alerts = [e for e in recorder.events if e["kind"] == "job_failed"]
    assert alerts and alerts[0]["details"]["job"] == "audit_check" and "does not verify" in alerts[0]["text"]


def test_two_schedulers_firing_the_same_slot_run_the_job_once(sched):
    sched.write_schedule({"audit_check": {"type": "audit_verify", "trigger": {"every": "6h"}}})
    sched.store()  # migrate once, so both processes race on the job, not on the schema
    code = ("import json, sys; from mlplat.scheduling.runner import execute; "
            "sys.stdin.readline(); print(json.dumps(execute('audit_check')))")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=sched.root, env=sched.env(), text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    for p in procs:  # both are imported and waiting: release them together
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    assert sorted(r["status"] for r in results) == ["ok", "skipped"]
    assert results[0]["slot"] == results[1]["slot"]
    assert [s for s, _, _ in _runs(sched, "audit_check")] == ["ok"]


def test_bad_jobs_are_reported_in_one_line_each_and_the_others_still_scheduled(sched, caplog):
    blocker = sched.root / "a_file"
    blocker.write_text("not a directory")
    sched.write_schedule({
        "good": {"type": "audit_verify", "trigger": {"every": "6h"}},
        "bad_cron": {"type": "audit_verify", "trigger": {"cron": "61 * * * *"}},
        "bad_type": {"type": "retrain_everything", "trigger": DAILY},
        "bad_model": {"type": "drift_check", "trigger": DAILY, "params": {"models": ["nosuch"]}},
        "bad_path": {"type": "governance_report", "trigger": WEEKLY,
                     "params": {"reports_dir": str(blocker / "reports")}},
        "bad_window": {"type": "drift_check", "trigger": DAILY, "params": {"window": "a while"}},
    })

    rows = {r["job"]: r for r in list_jobs()}
    assert rows["good"]["problem"] is None and rows["good"]["next_run"] is not None
    problems = {name: rows[name]["problem"] for name in rows if name != "good"}
    assert "invalid cron expression '61 * * * *'" in problems["bad_cron"]
    assert "unknown job type 'retrain_everything'" in problems["bad_type"]
    assert "unknown model(s) ['nosuch']" in problems["bad_model"]
    assert "is not writable" in problems["bad_path"] and "a_file" in problems["bad_path"]
    assert "malformed duration 'a while'" in problems["bad_window"]
    assert all("\n" not in p for p in problems.values())

    table = sched.mlplat("scheduler", "list")
    assert table.returncode == 1 and "Traceback" not in table.stderr
    assert "bad_cron" in table.stdout and "good" in table.stdout

    caplog.set_level(logging.ERROR, logger="mlplat.scheduler")
    scheduler = _start()
    try:
        assert {r[0] for r in sched.query(f"SELECT id FROM {JOBSTORE_TABLE}")} == {"good"}
    finally:
        scheduler.shutdown(wait=True)
    logged = [r.getMessage() for r in caplog.records]
    assert sorted(m.split()[1] for m in logged if "not scheduled" in m) == sorted(problems)

    run = sched.mlplat("scheduler", "run", "bad_type")
    assert run.returncode == 1 and run.stderr.strip().startswith("error:") and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_scheduler_run_governance_weekly_writes_the_report_and_notifies(sched):
    sched.write_schedule({"governance_weekly": {"type": "governance_report", "trigger": WEEKLY,
                                                "params": {"since": "7d", "format": "html"}}})
    proc = sched.mlplat("scheduler", "run", "governance_weekly")
    assert proc.returncode == 0, proc.stderr
    written = sorted((sched.root / "reports").glob("governance_weekly-*.html"))
    assert len(written) == 1 and str(written[0]) in proc.stdout
    text = written[0].read_text()
    assert text.startswith("<!doctype html>") and "Governance report" in text and "<script" not in text
    events = [json.loads(line) for line in (sched.root / "runs" / "alerts.jsonl").read_text().splitlines()]
    report = [e for e in events if e["kind"] == "report"]
    assert report and report[0]["attachments"] == [str(written[0])]
    assert sched.query("SELECT status, actor, source FROM governance_reports") == [("ok", "scheduler", "schedule")]
