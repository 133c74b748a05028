"""The UI's store side: migration 0010_ui_indexes on SQLite and PostgreSQL, the same answers on both,
and the indexes the queries walk."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from conftest import insert_volume, volume

from mlplat import ops
from mlplat.tracking.store import Store


def _old_store_with_params(url: str, tmp_path: Path) -> None:
    old = Store(url, tmp_path)
    with old.writer.connect() as conn:
        command.upgrade(old._alembic_config(conn), "0008_linear")
        conn.commit()
        conn.execute(sa.text("INSERT INTO runs (id, experiment, status, started_at) VALUES ('r1', 'e', 'done', 1.0)"))
        for key, value in (("depth", "10"), ("lr", "0.03"), ("big", "1e+20"), ("name", '"rbf"'), ("flag", "true"),
                           ("neg", "-2")):
            conn.execute(sa.text("INSERT INTO run_params (run_id, key, value) VALUES ('r1', :k, :v)"),
                         {"k": key, "v": value})
        conn.commit()
    old.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/s.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")


def test_the_migration_backfills_numbers_and_adds_the_indexes(url: str, tmp_path: Path):
    _old_store_with_params(url, tmp_path)
    store = Store.open(url, tmp_path / "a")
    from mlplat.tracking.revisions import script_heads

    assert store.schema_version() == sorted(script_heads())  # 0010_ui_indexes and every later one applied
    with store.read() as conn:
        got = dict(conn.execute(sa.text("SELECT key, value_num FROM run_params")).all())
        indexes = {i["name"] for t in ("run_params", "run_tags") for i in sa.inspect(conn).get_indexes(t)}
    assert got == {"depth": 10.0, "lr": 0.03, "big": 1e20, "name": None, "flag": None, "neg": -2.0}
    assert {"ix_run_params_key_num", "ix_run_tags_key_value"} <= indexes
    store.close()


VIEWS = [dict(sort="param.max_depth", order="desc"), dict(sort="param.kernel"), dict(sort="tag.team"),
         dict(sort="metric.log_loss", filters=["param.C>=1", "tag.team!=fraud"]),
         dict(sort="holdout.roc_auc", filters=["dataset=wage", "started>=2025-01-01"]),
         dict(sort="duration", filters=["metric.roc_auc<0.8", "param.kernel!=rbf"]),
         dict(filters=["param.C=0.1", "model!=knn"])]


def _pages(url: str, tmp_path: Path) -> list[list[str]]:
    store = Store.open(url, tmp_path / "a")
    insert_volume(store, volume(60))
    out = [[r["id"] for r in ops.runs_table(page_size=100, store=store, **view)["rows"]] for view in VIEWS]
    assert ops.run_columns(store=store) == {"params": ["C", "kernel", "max_depth"], "tags": ["team"],
                                            "metrics": ["log_loss", "roc_auc"]}
    store.close()
    return out


def test_pages_are_sorted_and_filtered_as_asked(url: str, tmp_path: Path):
    data = volume(60)
    pages = _pages(url, tmp_path)
    assert pages[0] == [d["id"] for d in sorted(data, key=lambda d: (d["params"]["max_depth"], d["id"]), reverse=True)]
    want = sorted((d for d in data if d["params"]["C"] >= 1 and d["tags"]["team"] != "fraud"),
                  key=lambda d: (d["log_loss"], d["started_at"]))  # a loss: lowest first
    assert pages[3] == [d["id"] for d in want]
    assert set(pages[6]) == {d["id"] for d in data if d["params"]["C"] == 0.1 and d["model"] != "knn"}


@pytest.mark.postgres
def test_postgresql_answers_what_sqlite_answers(pg_url: str, tmp_path: Path):
    assert _pages(pg_url, tmp_path / "pg") == _pages(f"sqlite:///{tmp_path}/s.db", tmp_path / "lite")


def test_sorting_by_a_param_reads_its_index_on_sqlite(tmp_path: Path):
    from functools import partial

    from mlplat.tracking import filters, queries

    store = Store.open(f"sqlite:///{tmp_path}/s.db", tmp_path / "a")
    sql, params = partial(queries.runs_page, filters=filters.parse_filters(["dataset=wage"]),
                          sort=filters.parse_sort("param.max_depth"), limit=50)("sqlite")
    with store.read() as conn:
        plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "ix_run_params_key_num" in plan and "TEMP B-TREE" not in plan, plan  # index order, no sort
    store.close()
