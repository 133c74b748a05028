"""Store upkeep: what the store holds (``stats``), reclaiming artifact space (``prune``) and
the unrecorded files a crashed or failed run left behind (``orphans``, ``remove_orphans``).

Pruning deletes the artifact files of old runs that no model version references. The
run rows, metrics and the audit trail stay: a pruned run still ranks on leaderboards and
its lineage still verifies; only its files are gone, marked by ``artifacts.pruned_at``.
Each chunk of runs is pruned in one write transaction that also appends its audit entry,
and the files are deleted while that transaction holds the write lock (SQLite) or a
SHARE lock on ``model_versions`` (PostgreSQL), so a version registered concurrently can
never lose its run's files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa

from mlplat.tracking import artifacts as art
from mlplat.tracking import audit
from mlplat.tracking.schema import artifacts, audit_log, experiments, runs, sweeps
from mlplat.tracking.store import Store, now

REGISTRY_TABLE = "model_versions"
ENDED_BADLY = ("crashed", "failed")  # a run in these states writes nothing more


# -- stats ---------------------------------------------------------------------------------
def _db_bytes(store: Store, conn: sa.Connection) -> int | None:
    if store.dialect == "postgresql":
        return int(conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar_one())
    db = store._sqlite_db
    if db is None:
        return None
    # WAL mode keeps recent writes in -wal until a checkpoint: count it, it is on disk
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists())


def stats(store: Store) -> dict:
    """Counts, sizes and schema version of the store (a few aggregate queries)."""
    with store.read() as conn:
        by_status = dict(conn.execute(sa.select(runs.c.status, sa.func.count()).group_by(runs.c.status)).all())
        first, last = conn.execute(sa.select(sa.func.min(runs.c.started_at), sa.func.max(runs.c.started_at))).one()
        live = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(artifacts.c.size), 0))
                            .where(artifacts.c.pruned_at.is_(None))).one()
        pruned = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(artifacts.c.size), 0))
                              .where(artifacts.c.pruned_at.is_not(None))).one()
        result = {
            "url": store.safe_url,
            "artifacts": str(store.artifact_root),
            "runs": sum(by_status.values()),
            "runs_by_status": dict(sorted(by_status.items())),
            "sweeps": conn.execute(sa.select(sa.func.count()).select_from(sweeps)).scalar_one(),
            "experiments": conn.execute(sa.select(sa.func.count()).select_from(experiments)).scalar_one(),
            "audit_entries": conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one(),
            "first_run_at": first,
            "last_run_at": last,
            "artifact_files": int(live[0]),
            "artifact_bytes": int(live[1]),
            "pruned_files": int(pruned[0]),
            "pruned_bytes": int(pruned[1]),
            "db_bytes": _db_bytes(store, conn),
            "schema_version": sorted(store.current_revisions(conn)),
        }
    result["orphaned_files"] = sum(len(paths) for paths in orphans(store).values())
    result["schema_heads"] = sorted(store.heads())
    result["schema_up_to_date"] = result["schema_version"] == result["schema_heads"]
    return result


# -- prune ---------------------------------------------------------------------------------
@dataclass
class PruneReport:
    cutoff: float
    dry_run: bool
    runs: int = 0
    files: int = 0
    bytes: int = 0
    missing_files: int = 0
    kept_registered: int = 0
    audit_seqs: list[int] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _is_registered(conn: sa.Connection) -> sa.Exists | None:
    """"Some model version references this run"; None when the registry's table does not exist."""
    if not sa.inspect(conn).has_table(REGISTRY_TABLE):
        return None
    versions = sa.table(REGISTRY_TABLE, sa.column("run_id"))
    return sa.exists().where(versions.c.run_id == runs.c.id)


def _old_runs(cutoff: float):
    """Finished runs started before ``cutoff`` that still have unpruned artifacts."""
    unpruned = sa.select(artifacts.c.run_id).where(artifacts.c.run_id == runs.c.id, artifacts.c.pruned_at.is_(None))
    return sa.select(runs.c.id).where(runs.c.started_at < cutoff, runs.c.status != "running", unpruned.exists())


def _candidates(conn: sa.Connection, cutoff: float, limit: int, after: str) -> tuple[list[str], int]:
    """Up to ``limit`` prunable run ids after ``after`` (id order), and how many were kept as registered."""
    q = _old_runs(cutoff).where(runs.c.id > after)
    registered = _is_registered(conn)
    kept = 0
    if registered is not None:
        kept = conn.execute(sa.select(sa.func.count()).select_from(q.where(registered).subquery())).scalar_one()
        q = q.where(~registered)
    return list(conn.execute(q.order_by(runs.c.id).limit(limit)).scalars()), kept


def _lock_registry(conn: sa.Connection) -> None:
    # SQLite's BEGIN IMMEDIATE already excludes every other writer; PostgreSQL needs a lock
    # that stops new model versions (which could name a run we are about to prune)
    if conn.dialect.name == "postgresql" and sa.inspect(conn).has_table(REGISTRY_TABLE):
        conn.execute(sa.text(f"LOCK TABLE {REGISTRY_TABLE} IN SHARE MODE"))


def _delete_files(rows: list, report: PruneReport) -> None:
    for a in rows:
        if not art.delete(a.path):
            report.missing_files += 1  # already gone: still mark it pruned so stats tell the truth


def _prune_chunk(conn: sa.Connection, ids: list[str], report: PruneReport, *, actor: str, source: str) -> None:
    rows = conn.execute(sa.select(artifacts.c.run_id, artifacts.c.name, artifacts.c.path, artifacts.c.size)
                        .where(artifacts.c.run_id.in_(ids), artifacts.c.pruned_at.is_(None))).all()
    size = sum(int(a.size) for a in rows)
    report.runs += len(ids)
    report.files += len(rows)
    report.bytes += size
    report.run_ids += ids
    if report.dry_run:
        return
    conn.execute(artifacts.update().where(artifacts.c.run_id.in_(ids), artifacts.c.pruned_at.is_(None))
                 .values(pruned_at=now()))
    seq = audit.append(conn, actor=actor, source=source, action="store.prune", object_type="store",
                       object_id="artifacts", payload={"cutoff": report.cutoff, "runs": ids,
                                                       "files": len(rows), "bytes": size})
    report.audit_seqs.append(seq)
    _delete_files(rows, report)


def prune(store: Store, *, older_than_s: float, actor: str, source: str, dry_run: bool = False,
          chunk: int = 500) -> PruneReport:
    """Delete artifact files of runs older than ``older_than_s`` that no model version references."""
    report = PruneReport(cutoff=now() - older_than_s, dry_run=dry_run)
    after = ""
    while True:
        session = store.read() if dry_run else store.write()
        with session as conn:
            if not dry_run:
                _lock_registry(conn)
            ids, kept = _candidates(conn, report.cutoff, chunk, after)
            if after == "":
                report.kept_registered = kept
            if ids:
                _prune_chunk(conn, ids, report, actor=actor, source=source)
        if len(ids) < chunk:
            return report
        after = ids[-1]



# -- orphans -------------------------------------------------------------------------------
def orphans(store: Store) -> dict[str, list[str]]:
    """Files under the folder of each crashed or failed run that the artifacts table does not
    record: a half-written ``.tmp``, or a model and config written before the run's last store
    write failed. {run id: [locations]}, only runs that have some."""
    with store.read() as conn:
        ids = list(conn.execute(sa.select(runs.c.id).where(runs.c.status.in_(ENDED_BADLY))).scalars())
        recorded: dict[str, set[str]] = {}
        for run_id, path in conn.execute(sa.select(artifacts.c.run_id, artifacts.c.path)
                                         .where(artifacts.c.run_id.in_(ids), artifacts.c.pruned_at.is_(None))):
            recorded.setdefault(run_id, set()).add(str(path))
    found: dict[str, list[str]] = {}
    for run_id in ids:
        extra = [p for p in art.list_under(art.run_location(store.artifact_root, run_id))
                 if p not in recorded.get(run_id, set())]
        if extra:
            found[run_id] = sorted(extra)
    return found


def remove_orphans(store: Store, *, actor: str, source: str, dry_run: bool = False) -> dict:
    """Delete what ``orphans`` finds, audited in one entry: {"runs": [...], "files": n, "dry_run": ...}."""
    found = orphans(store)
    files = sum(len(paths) for paths in found.values())
    report = {"runs": sorted(found), "files": files, "dry_run": dry_run, "audit_seq": None}
    if dry_run or not files:
        return report
    with store.write() as conn:
        report["audit_seq"] = audit.append(conn, actor=actor, source=source, action="runs.cleanup",
                                           object_type="store", object_id="artifacts",
                                           payload={"runs": report["runs"], "orphaned_files": files})
    for paths in found.values():
        for path in paths:
            art.delete(path)
    return report
