"""Writing and reading runs and sweeps.

Every write is one short transaction (run start, run end, sweep close) that also appends
its audit entry, so concurrent jobs hold the SQLite write lock for milliseconds. Reads
never load all runs into Python: ranking, filtering and paging happen in SQL.
"""

from __future__ import annotations

import json
import math
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from mlplat import redact
from mlplat.errors import NotFound, StoreError
from mlplat.evaluation.metrics import direction_of, get_metric
from mlplat.tracking import audit, queries
from mlplat.tracking.queries import LIST_COLUMNS, LIST_FILTERS, check_page
from mlplat.tracking.schema import (
    METRIC_RUN_COLUMNS,
    artifacts,
    experiments,
    run_fold_metrics,
    run_metrics,
    run_params,
    run_tags,
    runs,
    sweeps,
)
from mlplat.tracking.store import Store, now

FILTERS = LIST_FILTERS


def _clean(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _insert_ignore(conn: sa.Connection, table: sa.Table, values: dict) -> None:
    """INSERT that does nothing when the primary key exists (SQLite and PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        insert = postgresql.insert
    else:
        insert = sqlite.insert
    conn.execute(insert(table).values(**values).on_conflict_do_nothing())


def ensure_experiment(conn: sa.Connection, name: str) -> None:
    _insert_ignore(conn, experiments, {"name": name, "created_at": now()})


# -- sweeps ------------------------------------------------------------------------------
def create_sweep(store: Store, sweep_id: str, *, command: str, actor: str, source: str,
                 experiment: str | None = None) -> None:
    with store.write() as conn:
        started = now()
        command = redact.text(" ".join(redact.override(w) for w in command.split(" ")))
        _insert_ignore(conn, sweeps, {"id": sweep_id, "command": command, "actor": actor, "source": source,
                                      "experiment": experiment, "status": "running", "started_at": started,
                                      "host": socket.gethostname(), "pid": os.getpid(), "heartbeat_at": started})
        audit.append(conn, actor=actor, source=source, action="sweep.start", object_type="sweep",
                     object_id=sweep_id, payload={"command": command})


def describe_sweep(store: Store, sweep_id: str, *, sweeper: str, launcher: str, search_space: Any,
                   experiment: str) -> None:
    """Fill the sweeper/launcher/search space once (the first job to start does it)."""
    with store.write() as conn:
        conn.execute(
            sweeps.update().where(sweeps.c.id == sweep_id, sweeps.c.sweeper.is_(None))
            .values(sweeper=sweeper, launcher=launcher, experiment=experiment,
                    search_space=json.dumps(search_space, default=str))
        )


def close_sweep(store: Store, sweep_id: str, *, actor: str, source: str, direction: str | None = None,
                crashed: bool = False) -> dict:
    """Count the sweep's trials, pick its best and mark it finished. Safe to call twice.

    ``crashed``: its driver died (see mlplat.heartbeat), so the sweep ends 'crashed' whatever
    its trials did: jobs it never started are not in the counts.
    """
    with store.write() as conn:
        counts = dict(conn.execute(
            sa.select(runs.c.status, sa.func.count()).where(runs.c.sweep_id == sweep_id).group_by(runs.c.status)
        ).all())
        best = None
        primary = conn.execute(
            sa.select(runs.c.primary_metric).where(runs.c.sweep_id == sweep_id, runs.c.status == "done").limit(1)
        ).scalar()
        if primary:
            order = runs.c.primary_value.desc() if direction_of(primary) == "maximize" else runs.c.primary_value.asc()
            best = conn.execute(
                sa.select(runs.c.id).where(runs.c.sweep_id == sweep_id, runs.c.status == "done",
                                           runs.c.primary_value.is_not(None)).order_by(order, runs.c.id).limit(1)
            ).scalar()
        values = {
            "n_done": counts.get("done", 0), "n_failed": counts.get("failed", 0),
            "n_running": counts.get("running", 0), "n_crashed": counts.get("crashed", 0),
            "best_run_id": best, "ended_at": now(),
            "status": "crashed" if crashed else "failed" if counts.get("failed") or counts.get("crashed")
            or not counts.get("done") else "done",
        }
        conn.execute(sweeps.update().where(sweeps.c.id == sweep_id).values(**values))
        audit.append(conn, actor=actor, source=source, action="sweep.end", object_type="sweep",
                     object_id=sweep_id,
                     payload={k: values[k] for k in ("status", "n_done", "n_failed", "n_crashed", "best_run_id")})
    return values


# -- runs --------------------------------------------------------------------------------
@dataclass
class RunStart:
    id: str
    experiment: str
    actor: str
    source: str
    config: dict
    overrides: list[str]
    config_hash: str
    code_version: str
    code_dirty: bool
    package_versions: dict
    dataset: str
    model: str
    features: str
    task: str
    primary_metric: str
    sweep_id: str | None = None
    job_num: int | None = None
    invocation_id: str | None = None
    tags: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # every writer of a run (the engine, ops.models.log_run) stores it masked: a password in
        # tracking.url (an override or MLPLAT_STORE_URL) never reaches the runs table or the trail
        self.config = redact.value(self.config)
        self.overrides = [redact.override(o) for o in self.overrides]
        self.tags = redact.value(self.tags)


def _run_row(r: RunStart, *, status: str, started_at: float) -> dict:
    return dict(
        id=r.id, experiment=r.experiment, sweep_id=r.sweep_id, job_num=r.job_num,
        invocation_id=r.invocation_id, status=status, actor=r.actor, source=r.source,
        host=socket.gethostname(), pid=os.getpid(), started_at=started_at, heartbeat_at=started_at,
        dataset=r.dataset, model=r.model, features=r.features, task=r.task,
        primary_metric=r.primary_metric, config=json.dumps(r.config, default=str),
        overrides=json.dumps(r.overrides), config_hash=r.config_hash, code_version=r.code_version,
        code_dirty=r.code_dirty, package_versions=json.dumps(r.package_versions),
    )


def param_number(value: Any) -> float | None:
    """A param's value as a number when it is one (ints and floats, not booleans), for sorting."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _param_rows(r: RunStart) -> list[dict]:
    return [{"run_id": r.id, "key": k, "value": json.dumps(v, default=str), "value_num": param_number(v)}
            for k, v in r.params.items()]


def _tag_rows(r: RunStart) -> list[dict]:
    return [{"run_id": r.id, "key": k, "value": str(v)} for k, v in r.tags.items()]


def _start_event(r: RunStart) -> dict:
    return dict(actor=r.actor, source=r.source, action="run.start", object_type="run", object_id=r.id,
                payload={"experiment": r.experiment, "sweep_id": r.sweep_id, "config_hash": r.config_hash,
                         "overrides": r.overrides})


def _audit_start(conn: sa.Connection, r: RunStart) -> None:
    audit.append(conn, **_start_event(r))


def start_run(store: Store, r: RunStart) -> None:
    with store.write() as conn:
        ensure_experiment(conn, r.experiment)
        conn.execute(runs.insert().values(**_run_row(r, status="running", started_at=now())))
        if r.params:
            conn.execute(run_params.insert(), _param_rows(r))
        if r.tags:
            conn.execute(run_tags.insert(), _tag_rows(r))
        _audit_start(conn, r)


@dataclass
class RunResult:
    cv: dict[str, tuple[float, float]]
    folds: list[dict[str, float]]
    holdout: dict[str, float]
    primary_value: float | None
    fit_time_s: float
    duration_s: float
    dataset_fingerprint: str
    artifact_dir: str
    artifacts: list[Any]  # mlplat.tracking.artifacts.Artifact
    # the engine validates every dataset it loads; a run logged from outside (ops.models.log_run)
    # is validated only when its dataset is declared, and None records that it was not
    validation_passed: bool | None = True
    # the fitted estimator's own parameters (get_params), replacing the requested ones of the start
    params: dict | None = None


def _done_values(res: RunResult, ended_at: float) -> dict:
    return dict(status="done", ended_at=ended_at, duration_s=res.duration_s, fit_time_s=res.fit_time_s,
                primary_value=_clean(res.primary_value), dataset_fingerprint=res.dataset_fingerprint,
                artifact_dir=res.artifact_dir, validation_passed=res.validation_passed)


def _metric_rows(run_id: str, res: RunResult, copied: dict) -> list[dict]:
    """Aggregated metrics, each carrying the run's filter columns (``copied``) for the leaderboard."""
    rows = [{"run_id": run_id, "name": n, "stage": "cv", "value": _clean(m), "std": _clean(s), **copied}
            for n, (m, s) in res.cv.items()]
    rows += [{"run_id": run_id, "name": n, "stage": "holdout", "value": _clean(v), "std": None, **copied}
             for n, v in res.holdout.items()]
    return rows


def _fold_rows(run_id: str, res: RunResult) -> list[dict]:
    return [{"run_id": run_id, "name": n, "fold": i, "value": _clean(v)}
            for i, fold in enumerate(res.folds) for n, v in fold.items()]


def _artifact_rows(run_id: str, res: RunResult, created_at: float) -> list[dict]:
    return [{"run_id": run_id, "name": a.name, "path": a.path, "sha256": a.sha256, "size": a.size,
             "created_at": created_at} for a in res.artifacts]


def _done_event(run_id: str, res: RunResult, *, actor: str, source: str) -> dict:
    return dict(actor=actor, source=source, action="run.done", object_type="run", object_id=run_id,
                payload={"dataset_fingerprint": res.dataset_fingerprint, "primary_value": _clean(res.primary_value),
                         "artifacts": {a.name: a.sha256 for a in res.artifacts}})


def _audit_done(conn: sa.Connection, run_id: str, res: RunResult, *, actor: str, source: str) -> None:
    audit.append(conn, **_done_event(run_id, res, actor=actor, source=source))


def _insert_results(conn: sa.Connection, metric_rows: list[dict], fold_rows: list[dict],
                    artifact_rows: list[dict]) -> None:
    for table, rows in ((run_metrics, metric_rows), (run_fold_metrics, fold_rows), (artifacts, artifact_rows)):
        if rows:
            conn.execute(table.insert(), rows)


def finish_run(store: Store, run_id: str, res: RunResult, *, actor: str, source: str) -> None:
    with store.write() as conn:
        conn.execute(runs.update().where(runs.c.id == run_id).values(**_done_values(res, now())))
        copied = conn.execute(sa.select(*[runs.c[c] for c in METRIC_RUN_COLUMNS])
                              .where(runs.c.id == run_id)).one()._asdict()
        _insert_results(conn, _metric_rows(run_id, res, copied), _fold_rows(run_id, res),
                        _artifact_rows(run_id, res, now()))
        if res.params is not None:  # what ran replaces what was asked
            conn.execute(run_params.delete().where(run_params.c.run_id == run_id))
            if res.params:
                conn.execute(run_params.insert(), [{"run_id": run_id, "key": k, "value": json.dumps(v, default=str),
                                                    "value_num": param_number(v)} for k, v in res.params.items()])
        _audit_done(conn, run_id, res, actor=actor, source=source)


def _sync_metric_status(conn: sa.Connection, run_ids: sa.ColumnElement | list[str], status: str) -> None:
    """Keep run_metrics.status equal to runs.status (the leaderboard filters on the copy)."""
    ids = run_ids if isinstance(run_ids, sa.ColumnElement) else sa.bindparam("ids", run_ids, expanding=True)
    conn.execute(run_metrics.update().where(run_metrics.c.run_id.in_(ids)).values(status=status))


def fail_run(store: Store, run_id: str, error: str, *, actor: str, source: str,
             dataset_fingerprint: str | None = None, validation_passed: bool | None = None) -> None:
    error = redact.text(error)  # a driver's message can quote the URL it failed to reach
    with store.write() as conn:
        conn.execute(runs.update().where(runs.c.id == run_id).values(
            status="failed", ended_at=now(), error=error[:4000], dataset_fingerprint=dataset_fingerprint,
            validation_passed=validation_passed,
            duration_s=sa.literal(now()) - runs.c.started_at,
        ))
        _sync_metric_status(conn, [run_id], "failed")
        audit.append(conn, actor=actor, source=source, action="run.failed", object_type="run", object_id=run_id,
                     payload={"error": error[:500]})


def mark_crashed(store: Store, invocation_id: str) -> int:
    """Runs of an invocation still 'running' after its process returned are 'crashed'."""
    where = sa.and_(runs.c.invocation_id == invocation_id, runs.c.status == "running")
    with store.write() as conn:
        _sync_metric_status(conn, sa.select(runs.c.id).where(where).scalar_subquery(), "crashed")
        result = conn.execute(runs.update().where(where).values(
            status="crashed", ended_at=now(), error="the job's process ended without a result"))
    return result.rowcount


# -- batched writes ------------------------------------------------------------------------
@dataclass
class RunRecord:
    """A finished run written in one go: a sweep's trial batch, an import, a replay.

    ``result`` set means the run is done; otherwise ``error`` says why it failed.
    """
    start: RunStart
    result: RunResult | None = None
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None


def _record_chunk(conn: sa.Connection, chunk: Sequence[RunRecord]) -> None:
    for name in sorted({rec.start.experiment for rec in chunk}):
        ensure_experiment(conn, name)
    run_rows, params, tags, metric_rows, fold_rows, artifact_rows = [], [], [], [], [], []
    for rec in chunk:
        r, res = rec.start, rec.result
        started = rec.started_at if rec.started_at is not None else now()
        ended = rec.ended_at if rec.ended_at is not None else now()
        row = _run_row(r, status="done" if res else "failed", started_at=started)
        if res is not None:
            row.update(_done_values(res, ended))
            copied = {c: row[c] for c in METRIC_RUN_COLUMNS}
            metric_rows += _metric_rows(r.id, res, copied)
            fold_rows += _fold_rows(r.id, res)
            artifact_rows += _artifact_rows(r.id, res, ended)
        else:
            row.update(ended_at=ended, duration_s=ended - started, error=(rec.error or "failed")[:4000])
        run_rows.append(row)
        params += _param_rows(r)
        tags += _tag_rows(r)
    conn.execute(runs.insert(), run_rows)
    for table, rows in ((run_params, params), (run_tags, tags)):
        if rows:
            conn.execute(table.insert(), rows)
    _insert_results(conn, metric_rows, fold_rows, artifact_rows)
    events = []  # the same entries the per-run path writes, in one multi-row insert
    for rec in chunk:
        r = rec.start
        events.append(_start_event(r))
        events.append(_done_event(r.id, rec.result, actor=r.actor, source=r.source) if rec.result is not None
                      else dict(actor=r.actor, source=r.source, action="run.failed", object_type="run",
                                object_id=r.id, payload={"error": (rec.error or "")[:500]}))
    audit.append_many(conn, events)


def record_runs_batch(store: Store, records: Sequence[RunRecord], *, chunk: int = 500) -> int:
    """Write finished runs in transactions of ``chunk`` runs; returns how many were written.

    One transaction per chunk amortises the commit (an fsync on SQLite) and the write lock
    over hundreds of runs, while keeping each lock hold short enough that concurrent jobs
    still get their turn. A chunk is all-or-nothing.
    """
    written = 0
    for i in range(0, len(records), chunk):
        part = records[i:i + chunk]
        try:
            with store.write() as conn:
                _record_chunk(conn, part)
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"cannot record runs {part[0].start.id}..{part[-1].start.id}: a run id already "
                             f"exists or a value is invalid ({str(exc.orig).splitlines()[0]})") from exc
        written += len(part)
    return written


def heartbeat(store: Store, run_id: str) -> None:
    with store.write() as conn:
        conn.execute(runs.update().where(runs.c.id == run_id, runs.c.status == "running").values(heartbeat_at=now()))


# -- queries -----------------------------------------------------------------------------
def resolve_run_id(conn: sa.Connection, ref: str) -> str:
    """A full id or a unique prefix of one."""
    ref = ref.strip()
    if conn.execute(sa.select(runs.c.id).where(runs.c.id == ref)).first():
        return ref
    if len(ref) < 4:
        raise NotFound(f"run {ref!r} not found; give at least 4 characters of a run id (see `mlplat runs list`)")
    found = conn.execute(sa.select(runs.c.id).where(runs.c.id.like(f"{ref}%")).limit(3)).scalars().all()
    if not found:
        raise NotFound(f"run {ref!r} not found; see `mlplat runs list`")
    if len(found) > 1:
        raise NotFound(f"run id prefix {ref!r} is ambiguous ({', '.join(found)}...); give more characters")
    return found[0]


def get_run(store: Store, ref: str) -> dict:
    with store.read() as conn:
        run_id = resolve_run_id(conn, ref)
        row = dict(conn.execute(sa.select(runs).where(runs.c.id == run_id)).one()._mapping)
        for key in ("config", "overrides", "package_versions"):
            row[key] = json.loads(row[key]) if row[key] else None
        row["metrics"] = {}
        for m in conn.execute(sa.select(run_metrics).where(run_metrics.c.run_id == run_id)):
            row["metrics"].setdefault(m.stage, {})[m.name] = {"value": m.value, "std": m.std} if m.stage == "cv" else m.value
        folds: dict[int, dict] = {}
        for f in conn.execute(sa.select(run_fold_metrics).where(run_fold_metrics.c.run_id == run_id)):
            folds.setdefault(f.fold, {})[f.name] = f.value
        row["folds"] = [folds[k] for k in sorted(folds)]
        row["params"] = {p.key: json.loads(p.value) for p in
                         conn.execute(sa.select(run_params).where(run_params.c.run_id == run_id))}
        row["tags"] = {t.key: t.value for t in conn.execute(sa.select(run_tags).where(run_tags.c.run_id == run_id))}
        row["artifacts"] = [dict(a._mapping) for a in
                            conn.execute(sa.select(artifacts).where(artifacts.c.run_id == run_id).order_by(artifacts.c.name))]
    return row


def query_rows(store: Store, query: queries.Query) -> list[dict]:
    """The rows of ``query(dialect)`` (SQL text from tracking.queries) through the Store."""
    sql, params = query(store.dialect)
    with store.read() as conn:
        result = conn.exec_driver_sql(sql, params)
        names = list(result.keys())
        # zip over plain tuples: building a Row mapping per row costs ~3x as much (a 500-run
        # comparison reads 6,500 rows)
        return [dict(zip(names, row, strict=True)) for row in result]


def list_runs(store: Store, *, filters: dict[str, Any] | None = None, since: float | None = None,
              page: int = 1, page_size: int = 20) -> list[dict]:
    """Newest first; page 1 is the newest ``page_size`` runs. A page past the end is empty."""
    check_page(page, page_size)
    return query_rows(store, partial(queries.list_runs, filters=filters, since=since, limit=page_size,
                                     offset=(page - 1) * page_size))


def iter_runs(store: Store, *, filters: dict[str, Any] | None = None, since: float | None = None,
              batch: int = 1000) -> Iterable[dict]:
    """Every matching run, newest first, fetched in batches (keyset paging) for streaming output."""
    last: tuple[float, str] | None = None
    while True:
        rows = query_rows(store, partial(queries.list_runs, filters=filters, since=since, limit=batch, after=last))
        yield from rows
        if len(rows) < batch:
            return
        last = (rows[-1]["started_at"], rows[-1]["id"])


def leaderboard(store: Store, *, metric: str, stage: str = "cv", filters: dict[str, Any] | None = None,
                since: float | None = None, top: int = 10, offset: int = 0) -> list[dict]:
    """Runs ranked by one metric in its own direction (the SQL is in tracking.queries)."""
    m = get_metric(metric)
    rows = query_rows(store, partial(queries.leaderboard, metric=metric, greater_is_better=m.greater_is_better,
                                     stage=stage, filters=filters, since=since, top=top, offset=offset))
    return queries.ranked(rows, metric=metric, direction=m.direction, offset=offset)


def get_sweep(store: Store, sweep_id: str) -> dict:
    with store.read() as conn:
        row = conn.execute(sa.select(sweeps).where(sweeps.c.id == sweep_id)).first()
        if row is None:
            found = conn.execute(sa.select(sweeps).where(sweeps.c.id.like(f"{sweep_id}%")).limit(2)).all()
            if len(found) != 1:
                raise NotFound(f"sweep {sweep_id!r} not found; see `mlplat sweeps list`")
            row = found[0]
        return dict(row._mapping)


def sweep_trials(store: Store, sweep_id: str, *, page: int = 1, page_size: int = 100) -> list[dict]:
    """A sweep's trials in job order (nulls last on both databases), paginated."""
    check_page(page, page_size)
    q = (sa.select(*[runs.c[c] for c in LIST_COLUMNS]).where(runs.c.sweep_id == sweep_id)
         .order_by(sa.nulls_last(runs.c.job_num.asc()), runs.c.id.asc())
         .limit(page_size).offset((page - 1) * page_size))
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def list_sweeps(store: Store, *, page: int = 1, page_size: int = 20) -> list[dict]:
    check_page(page, page_size)
    q = sa.select(sweeps).order_by(sweeps.c.started_at.desc(), sweeps.c.id.desc()).limit(page_size).offset(
        (page - 1) * page_size)
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def runs_of_invocation(store: Store, invocation_id: str) -> list[dict]:
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(runs.c.id, runs.c.status, runs.c.error, runs.c.primary_metric, runs.c.primary_value)
            .where(runs.c.invocation_id == invocation_id).order_by(runs.c.job_num))]
