"""`store stats` and `store prune`: counts, and pruning that spares registered runs and is audited."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from store_helpers import record, start

from mlplat.tracking import artifacts as art
from mlplat.tracking import audit, maintenance, runs
from mlplat.tracking.schema import artifacts
from mlplat.tracking.store import Store

DAY = 86400.0


def _run_with_files(store: Store, run_id: str, age_days: float) -> list[Path]:
    folder = store.artifact_root / run_id
    written = [art.write_bytes(folder, "model.joblib", b"m" * 1000), art.write_json(folder, "config.json", {"a": 1})]
    runs.record_runs_batch(store, [record(run_id, {"roc_auc": 0.8}, started_at=time.time() - age_days * DAY,
                                          artifacts=written)])
    return [Path(a.path) for a in written]


def _store_without_registry(url: str, tmp_path: Path) -> Store:
    """The run store's own branch only (0001 -> 0002_store_scale -> 0007_sweep_driver): no model_versions table."""
    s = Store(url, tmp_path / "artifacts")
    with s.writer.connect() as conn:
        command.upgrade(s._alembic_config(conn), "0007_sweep_driver")
        # the run writers fill run_params.value_num (0010_ui_indexes) and the audit writer signs each
        # entry in audit_log.mac (0011_audit_anchor), both after the registry's revisions: add those
        # columns so runs and audit entries can still be written to this registry-less store
        conn.execute(sa.text("ALTER TABLE run_params ADD COLUMN value_num FLOAT"))
        conn.execute(sa.text("ALTER TABLE audit_log ADD COLUMN mac VARCHAR(64)"))
        conn.commit()
    return s


@pytest.fixture
def sqlite_store(tmp_path: Path):
    s = _store_without_registry(f"sqlite:///{tmp_path}/m.db", tmp_path)
    yield s
    s.close()


def test_prune_deletes_old_unregistered_artifacts_and_audits(store: Store):
    old = _run_with_files(store, "old_free", 200)
    registered = _run_with_files(store, "old_registered", 200)
    recent = _run_with_files(store, "recent", 10)
    runs.start_run(store, start("old_running"))  # a live run is never pruned, whatever its age
    with store.write() as conn:
        conn.execute(runs.runs.update().where(runs.runs.c.id == "old_running").values(started_at=time.time() - 300 * DAY))
        if sa.inspect(conn).has_table("model_versions"):  # the registry's own table, when its migration is there
            conn.execute(sa.text("INSERT INTO registered_models (name, created_at, latest_version) VALUES ('m', 0, 1)"))
            conn.execute(sa.text(
                "INSERT INTO model_versions (name, version, run_id, created_at, actor, source, tags, metrics, "
                "signature, model_path, model_sha256) VALUES ('m', 1, 'old_registered', 0, 'a', 't', '{}', '{}', "
                "'{}', 'p', 's')"))
        has_registry = sa.inspect(conn).has_table("model_versions")
        entries_before = len(audit.entries(conn, limit=10_000))

    dry = maintenance.prune(store, older_than_s=180 * DAY, actor="ops", source="test", dry_run=True)
    assert (dry.runs, dry.files) == ((1, 2) if has_registry else (2, 4))
    assert all(p.exists() for p in old + registered + recent)

    report = maintenance.prune(store, older_than_s=180 * DAY, actor="ops", source="test")
    assert report.run_ids == (["old_free"] if has_registry else ["old_free", "old_registered"])
    assert not any(p.exists() for p in old) and not old[0].parent.exists()
    assert all(p.exists() for p in recent) and all(p.exists() for p in registered) == has_registry
    with store.read() as conn:
        pruned = set(conn.execute(sa.select(artifacts.c.run_id).where(artifacts.c.pruned_at.is_not(None))).scalars())
        chain = audit.verify(conn)
        last = audit.entries(conn, limit=1)[0]
    assert pruned == set(report.run_ids)
    assert chain.ok and chain.entries == entries_before + 1
    assert last["action"] == "store.prune" and last["seq"] == report.audit_seqs[0]
    assert [r["id"] for r in runs.leaderboard(store, metric="roc_auc", top=5)][0] in {"old_free", "old_registered",
                                                                                      "recent"}
    again = maintenance.prune(store, older_than_s=180 * DAY, actor="ops", source="test")
    assert again.runs == 0 and again.audit_seqs == []


def test_prune_spares_runs_a_model_version_references(sqlite_store: Store):
    old = _run_with_files(sqlite_store, "old_free", 200)
    kept = _run_with_files(sqlite_store, "old_kept", 200)
    with sqlite_store.write() as conn:  # the column prune relies on: model_versions.run_id
        conn.execute(sa.text("CREATE TABLE model_versions (name TEXT, version INTEGER, run_id TEXT)"))
        conn.execute(sa.text("INSERT INTO model_versions VALUES ('m', 1, 'old_kept')"))
    report = maintenance.prune(sqlite_store, older_than_s=180 * DAY, actor="ops", source="test")
    assert report.run_ids == ["old_free"] and report.kept_registered == 1
    assert not old[0].exists() and all(p.exists() for p in kept)


def test_stats_counts_runs_sizes_and_schema(sqlite_store: Store):
    _run_with_files(sqlite_store, "a", 1)
    runs.start_run(sqlite_store, start("b"))
    runs.create_sweep(sqlite_store, "s1", command="c", actor="a", source="t")
    s = maintenance.stats(sqlite_store)
    assert s["runs"] == 2 and s["runs_by_status"] == {"done": 1, "running": 1}
    assert (s["sweeps"], s["experiments"], s["artifact_files"]) == (1, 1, 2)
    assert s["artifact_bytes"] == sum(p.stat().st_size for p in (sqlite_store.artifact_root / "a").iterdir())
    assert s["db_bytes"] > 0 and s["schema_version"] == ["0007_sweep_driver"]
    assert s["schema_up_to_date"] is (set(s["schema_heads"]) == {"0007_sweep_driver"})


def test_unrecorded_files_of_crashed_and_failed_runs_are_counted_then_removed_and_audited(store: Store):
    recorded = _run_with_files(store, "done_run", 1)
    stray_of_done = art.write_bytes(store.artifact_root / "done_run", "notes.txt", b"kept").path  # a done run's
    runs.record_runs_batch(store, [runs.RunRecord(start=start("failed_run"), error="disk full",
                                                  started_at=time.time(), ended_at=time.time())])
    runs.start_run(store, start("crashed_run"))
    with store.write() as conn:
        conn.execute(runs.runs.update().where(runs.runs.c.id == "crashed_run").values(status="crashed"))
    left = [art.write_bytes(store.artifact_root / "failed_run", name, b"x" * 10).path
            for name in ("model.joblib", "config.json")]
    left.append(art.write_bytes(store.artifact_root / "crashed_run", ".model.joblib.ab12.tmp", b"half").path)

    found = maintenance.orphans(store)
    assert found == {"failed_run": sorted(left[:2]), "crashed_run": [left[2]]}
    assert maintenance.stats(store)["orphaned_files"] == 3
    with store.read() as conn:
        entries_before = len(audit.entries(conn, limit=10_000))
    dry = maintenance.remove_orphans(store, actor="ops", source="test", dry_run=True)
    assert dry["files"] == 3 and all(Path(p).exists() for p in left)

    done = maintenance.remove_orphans(store, actor="ops", source="test")
    assert done["runs"] == ["crashed_run", "failed_run"] and done["files"] == 3
    assert not any(Path(p).exists() for p in left)
    assert all(p.exists() for p in recorded) and Path(stray_of_done).exists()  # a done run's files are its own
    with store.read() as conn:
        chain = audit.verify(conn)
        last = audit.entries(conn, limit=1)[0]
    assert chain.ok and chain.entries == entries_before + 1 and last["action"] == "runs.cleanup"
    assert maintenance.orphans(store) == {} and maintenance.remove_orphans(store, actor="ops", source="t")["files"] == 0
