"""A store created with the first schema is upgraded in place by Store.open, data intact."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from mlplat.tracking import runs
from mlplat.tracking.revisions import script_heads
from mlplat.tracking.store import Store

T0 = 1_700_000_000.0


def _first_schema_store(url: str, tmp_path: Path) -> None:
    """The schema of revision 0001_initial, with rows written as that version of mlplat wrote them."""
    old = Store(url, tmp_path / "artifacts")
    with old.writer.connect() as conn:
        command.upgrade(old._alembic_config(conn), "0001_initial")
        conn.commit()
        assert old.current_revisions(conn) == {"0001_initial"}
        for i, (dataset, model, auc) in enumerate([("wage", "knn", 0.7), ("wage", "xgboost", 0.9),
                                                    ("iris", "xgboost", 0.8)]):
            conn.execute(sa.text("INSERT INTO runs (id, experiment, sweep_id, status, started_at, dataset, model) "
                                 "VALUES (:id, 'e', 's1', 'done', :t, :d, :m)"),
                         {"id": f"old{i}", "t": T0 + i, "d": dataset, "m": model})
            conn.execute(sa.text("INSERT INTO run_metrics (run_id, name, stage, value, std) "
                                 "VALUES (:id, 'roc_auc', 'cv', :v, 0.01)"), {"id": f"old{i}", "v": auc})
        conn.commit()
    old.close()


@pytest.fixture
def first_schema_url(store_url: str, tmp_path: Path) -> str:
    if store_url.startswith("postgresql"):
        Store.open(store_url, tmp_path / "artifacts").close()  # forget the handle the fixture migrated
        scratch = Store(store_url, tmp_path)
        with scratch.writer.begin() as conn:  # the session's shared database: start from nothing
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        scratch.close()
    _first_schema_store(store_url, tmp_path)
    return store_url


def test_open_upgrades_a_first_schema_store_in_place(first_schema_url: str, tmp_path: Path):
    store = Store.open(first_schema_url, tmp_path / "artifacts")
    assert store.schema_version() == sorted(store.heads())
    assert store.schema_version() == ["0011_audit_anchor"]  # every branch applied, joined, the UI indexes, the audit anchor
    with store.read() as conn:  # 0007 (via 0002_store_scale) ran on the way
        assert {"host", "pid", "heartbeat_at"} <= {c["name"] for c in sa.inspect(conn).get_columns("sweeps")}
    assert [r["id"] for r in runs.list_runs(store)] == ["old2", "old1", "old0"]
    # the copied filter columns were backfilled: filtered leaderboards see the old runs
    got = runs.leaderboard(store, metric="roc_auc", filters={"model": "xgboost", "status": "done"})
    assert [(r["id"], r["value"]) for r in got] == [("old1", 0.9), ("old2", 0.8)]
    got = runs.leaderboard(store, metric="roc_auc", filters={"dataset": "wage", "sweep_id": "s1"})
    assert [r["id"] for r in got] == ["old1", "old0"]
    store.close()


def test_heads_read_from_files_match_alembic(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path}/x.db", tmp_path)
    assert script_heads() == store.alembic_heads()
    assert store.heads() == {"0011_audit_anchor"}  # one line of history from 0008_linear on


def test_the_direct_read_path_leaves_an_old_schema_to_the_store(first_schema_url: str, tmp_path: Path):
    from functools import partial

    from mlplat import ops
    from mlplat.tracking import direct, queries

    query = partial(queries.leaderboard, metric="roc_auc", greater_is_better=True)
    assert direct.read_rows(first_schema_url, query) is None  # not at the heads: no guessing at columns
    board = ops.leaderboard(url=first_schema_url, filters={"model": "xgboost"})  # the Store migrates, then reads
    assert [(r["id"], r["value"]) for r in board["rows"]] == [("old1", 0.9), ("old2", 0.8)]
    assert direct.read_rows(first_schema_url, query) is not None
    Store.open(first_schema_url, tmp_path / "artifacts").close()
