"""Load conf/schedule, run jobs exactly once per fire slot, and drive APScheduler.

APScheduler keeps the triggers and next fire times in a SQLAlchemy job store in the same
database as the runs (table ``apscheduler_jobs``), so schedules survive restarts and a
run missed during downtime happens once on start-up if it is within ``misfire_grace``
(coalesced). Every execution goes through ``execute``: it claims the (job, slot) row in
``schedule_runs`` (one winner across scheduler processes), runs the job, records the
outcome and audits it; a failure is logged and alerted and never stops the other jobs.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.schedulers.blocking import BlockingScheduler

from mlplat import ops
from mlplat.errors import ConfigError, MlplatError, NoStore, one_line
from mlplat.notify import get_notifier
from mlplat.scheduling.jobs import JOB_TYPES, JobContext, job_type
from mlplat.scheduling.schema import schedule_runs
from mlplat.scheduling.triggers import build_trigger, current_slot, parse_every
from mlplat.tracking import audit
from mlplat.tracking.store import now

log = logging.getLogger("mlplat.scheduler")
JOBSTORE_TABLE = "apscheduler_jobs"


@dataclass
class JobSpec:
    name: str
    type: str
    trigger: Any
    trigger_text: str
    params: dict


@dataclass
class Schedule:
    timezone: str
    misfire_grace_s: int
    reports_dir: Path
    jobs: list[JobSpec]
    problems: dict[str, str]  # job name -> why it was not scheduled


def _check_job(name: str, spec: dict, cfg: dict) -> JobSpec:
    where = f"conf/schedule job {name!r}"
    if not isinstance(spec, dict) or "type" not in spec or "trigger" not in spec:
        raise ConfigError(f"{where}: needs 'type' and 'trigger' keys")
    job_type(str(spec["type"]), where)
    trigger = build_trigger(spec["trigger"], str(cfg.get("timezone", "UTC")), where)
    params = dict(spec.get("params") or {})
    _check_params(params, where)
    models = params.get("models") or []
    if models:
        try:
            known = {m["name"] for m in ops.list_models()}
        except NoStore:  # no store yet: nothing is registered
            known = set()
        unknown = [m for m in models if m not in known]
        if unknown:
            raise ConfigError(f"{where}: unknown model(s) {unknown}; registered: {', '.join(sorted(known)) or 'none'}")
    if spec["type"] == "data_check":
        _check_dataset_param(params, where)
    if spec["type"] in ("governance_report", "leaderboard_digest"):
        _check_writable(Path(str(params.get("reports_dir") or cfg.get("reports_dir") or "runs/reports")), where)
    text = f"cron {spec['trigger']['cron']}" if "cron" in spec["trigger"] else f"every {spec['trigger']['every']}"
    return JobSpec(name, str(spec["type"]), trigger, text, params)


# params whose bad value would otherwise only fail when the job first fires (maybe days later)
DURATION_PARAMS = ("window", "since", "max_age")
REPORT_FORMATS = ("md", "html", "json")


def _check_params(params: dict, where: str) -> None:
    for key in DURATION_PARAMS:
        if key in params:
            parse_every(str(params[key]), f"{where} param {key}")
    if "top" in params and (not str(params["top"]).isdigit() or int(params["top"]) < 1):
        raise ConfigError(f"{where} param top={params['top']!r} must be a whole number >= 1")
    if "format" in params and params["format"] not in REPORT_FORMATS:
        raise ConfigError(f"{where} param format={params['format']!r} must be one of {', '.join(REPORT_FORMATS)}")
    models = params.get("models")
    if models is not None and not (isinstance(models, list) and all(isinstance(m, str) for m in models)):
        raise ConfigError(f"{where} param models={models!r} must be a list of model names, e.g. [churn]")


def _check_dataset_param(params: dict, where: str) -> None:
    from mlplat.config.compose import group_options

    options = group_options("dataset")
    if params.get("dataset") not in options:
        raise ConfigError(f"{where} param dataset={params.get('dataset')!r} must name a dataset config: one of "
                          f"{', '.join(options)}")


def _check_writable(directory: Path, where: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".probe-{uuid.uuid4().hex[:6]}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{where}: report directory {str(directory)!r} is not writable ({exc.strerror}); "
                          "fix reports_dir in conf/schedule") from exc


def load_schedule(overrides: list[str] | None = None) -> Schedule:
    """The declared schedule; a bad job is reported in ``problems`` and the others still load."""
    cfg = ops.compose_plain(list(overrides or [])).get("schedule") or {}
    tz = str(cfg.get("timezone", "UTC"))
    try:
        zoneinfo.ZoneInfo(tz)
    except Exception as exc:
        raise ConfigError(f"schedule.timezone={tz!r} is not a time zone name (e.g. UTC, Europe/Paris)") from exc
    grace = int(parse_every(str(cfg.get("misfire_grace", "10m")), "schedule.misfire_grace").total_seconds())
    jobs, problems = [], {}
    for name, spec in (cfg.get("jobs") or {}).items():
        try:
            jobs.append(_check_job(str(name), spec, cfg))
        except MlplatError as exc:
            problems[str(name)] = str(exc)
    return Schedule(tz, grace, Path(str(cfg.get("reports_dir", "runs/reports"))), jobs, problems)


def _claim(store, job: str, slot: str) -> int | None:
    """Insert the (job, slot) row; None when another process already has it."""
    try:
        with store.write() as conn:
            result = conn.execute(schedule_runs.insert().values(
                job=job, slot=slot, status="running", started_at=now(), host=socket.gethostname(), pid=os.getpid()))
            return int(result.inserted_primary_key[0])
    except sa.exc.IntegrityError:
        return None


def execute(job: str, *, manual: bool = False, overrides: list[str] | None = None, notifier=None) -> dict:
    """Run one job now (manual) or for its current fire slot (scheduled). Never raises for job errors."""
    schedule = load_schedule(overrides)
    spec = next((j for j in schedule.jobs if j.name == job), None)
    if spec is None:
        if job in schedule.problems:
            raise ConfigError(schedule.problems[job])
        known = ", ".join(j.name for j in schedule.jobs) or "none"
        raise ConfigError(f"unknown job {job!r}; declared jobs: {known} (conf/schedule)")
    store = ops.open_store(create=True)  # records the job run
    slot = f"manual-{uuid.uuid4().hex[:12]}" if manual else current_slot(spec.trigger, dt.datetime.now(dt.UTC))
    row_id = _claim(store, job, slot)
    if row_id is None:
        log.info("job %s slot %s already ran in another scheduler; skipped", job, slot)
        return {"job": job, "slot": slot, "status": "skipped"}
    notifier = notifier or get_notifier()
    # a job may write its reports elsewhere (params.reports_dir, checked writable at load)
    reports_dir = Path(str(spec.params["reports_dir"])) if spec.params.get("reports_dir") else schedule.reports_dir
    ctx = JobContext(job=job, reports_dir=reports_dir, notifier=notifier)
    status, summary, error = "ok", "", None
    try:
        summary = JOB_TYPES[spec.type](spec.params, ctx)
    except Exception as exc:  # a failing job is recorded and alerted; the scheduler goes on
        status, error = "failed", one_line(exc)
        log.error("job %s failed: %s", job, error)
        log.debug("traceback", exc_info=True)
        try:
            notifier.notify({"kind": "job_failed", "title": f"Scheduled job {job} failed", "status": "error",
                             "text": error, "details": {"job": job, "slot": slot}})
        except Exception:
            log.exception("could not deliver the failure alert for %s", job)
    with store.write() as conn:
        conn.execute(schedule_runs.update().where(schedule_runs.c.id == row_id)
                     .values(status=status, ended_at=now(), summary=summary[:4000], error=error))
        audit.append(conn, actor="scheduler", source="schedule", action=f"schedule.{status}", object_type="job",
                     object_id=job, payload={"slot": slot, "summary": summary[:500], "error": error})
    return {"job": job, "slot": slot, "status": status, "summary": summary, "error": error}


# Jobs of one scheduler run one at a time: each composes the config with Hydra, whose
# GlobalHydra is a process-wide singleton, so two jobs firing in the same second on the
# pool's threads failed with "GlobalHydra is already initialized". Jobs are short (checks,
# reports); the per-slot lock in the database still decides between processes.
_RUN_LOCK = threading.Lock()


def scheduled(job: str) -> None:
    """APScheduler's entry point (an importable callable, as its SQLAlchemy job store needs)."""
    try:
        with _RUN_LOCK:
            execute(job)
    except MlplatError as exc:
        log.error("job %s not run: %s", job, exc)


def _no_pass_after_shutdown(cls):
    """``cls`` without the job-processing pass APScheduler 3 makes after ``shutdown()``.

    Its main loop wakes once more when shut down and processes due jobs although the
    executors are already closed: each due job fails to submit ("cannot schedule new
    futures after shutdown") yet gets its next_run_time advanced in the job store, so a
    missed run (e.g. one waiting to be coalesced at start-up) is silently lost. Skipping
    that pass keeps the run due for the next start.
    """
    class Guarded(cls):
        def _process_jobs(self):
            if self.state == STATE_STOPPED:
                return None
            return super()._process_jobs()

    Guarded.__name__ = cls.__name__
    return Guarded


def build_scheduler(schedule: Schedule, *, blocking: bool):
    """A configured (not started) APScheduler with the persistent job store."""
    store = ops.open_store(create=True)  # holds the schedule and the lock rows
    cls = _no_pass_after_shutdown(BlockingScheduler if blocking else BackgroundScheduler)
    scheduler = cls(jobstores={"default": SQLAlchemyJobStore(engine=store.writer, tablename=JOBSTORE_TABLE)},
                    job_defaults={"coalesce": True, "misfire_grace_time": schedule.misfire_grace_s,
                                  "max_instances": 1},
                    timezone=schedule.timezone)
    return scheduler


def install_jobs(scheduler, schedule: Schedule) -> None:
    """Add declared jobs; keep a stored job whose trigger is unchanged so a missed run survives restarts."""
    declared = {j.name for j in schedule.jobs}
    for job in scheduler.get_jobs():
        if job.id not in declared:
            scheduler.remove_job(job.id)  # removed from conf/schedule
    for spec in schedule.jobs:
        existing = scheduler.get_job(spec.name)
        if existing is not None and str(existing.trigger) == str(spec.trigger):
            continue
        scheduler.add_job("mlplat.scheduling.runner:scheduled", trigger=spec.trigger, id=spec.name, name=spec.name,
                          kwargs={"job": spec.name}, replace_existing=True)


def start(*, blocking: bool = True, overrides: list[str] | None = None):
    """Start the scheduler: blocking for `mlplat scheduler start`, in the background inside the bot.

    Jobs are reconciled with the persistent store first (through a paused background
    scheduler), so a job whose trigger did not change keeps its stored next fire time and a
    run missed while nothing was running still happens once at start-up, within the grace.
    """
    schedule = load_schedule(overrides)
    for name, problem in schedule.problems.items():
        log.error("job %s not scheduled: %s", name, problem)
    _reconcile_offline(schedule)
    scheduler = build_scheduler(schedule, blocking=blocking)
    scheduler.start()
    return scheduler


def _reconcile_offline(schedule: Schedule) -> None:
    temp = build_scheduler(schedule, blocking=False)
    assert isinstance(temp, BackgroundScheduler)  # started paused: it never runs a job, it only edits the store
    temp.start(paused=True)
    try:
        install_jobs(temp, schedule)
    finally:
        temp.shutdown(wait=False)


def list_jobs(overrides: list[str] | None = None) -> list[dict]:
    """Declared jobs with trigger, next fire time, and the last recorded run."""
    schedule = load_schedule(overrides)
    nexts: dict[str, float] = {}
    lasts: dict[str, Any] = {}
    try:
        store = ops.open_store()
    except NoStore:  # no store yet (a read never creates one): nothing has run, nothing is queued
        store = None
    if store is not None:
        with store.read() as conn:
            if sa.inspect(conn).has_table(JOBSTORE_TABLE):
                for job_id, ts in conn.execute(sa.text(f"SELECT id, next_run_time FROM {JOBSTORE_TABLE}")):
                    if ts is not None:
                        nexts[job_id] = float(ts)
            for spec in schedule.jobs:
                lasts[spec.name] = conn.execute(sa.select(schedule_runs).where(schedule_runs.c.job == spec.name)
                                                .order_by(schedule_runs.c.started_at.desc()).limit(1)).first()
    rows = []
    for spec in schedule.jobs:
        last = lasts.get(spec.name)
        next_fire = nexts.get(spec.name)
        if next_fire is None:
            fire = spec.trigger.get_next_fire_time(None, dt.datetime.now(dt.UTC))
            next_fire = fire.timestamp() if fire else None
        rows.append({"job": spec.name, "type": spec.type, "trigger": spec.trigger_text, "next_run": next_fire,
                     "last_run": last.started_at if last else None, "last_status": last.status if last else None,
                     "last_summary": (last.error or last.summary) if last else None, "problem": None})
    rows += [{"job": n, "type": None, "trigger": None, "next_run": None, "last_run": None, "last_status": "invalid",
              "last_summary": None, "problem": p} for n, p in schedule.problems.items()]
    return rows
