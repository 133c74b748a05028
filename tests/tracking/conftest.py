"""Stores for the tracking tests: a fresh SQLite file per test, and PostgreSQL.

PostgreSQL tests use one database created for the session (``mlplat_t_<random>``, dropped
at the end) and empty its tables before each test. With CI=true a missing server fails
the run; elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from store_helpers import population, record

from mlplat.tracking import runs
from mlplat.tracking.store import VERSION_TABLE, Store

PG_ADMIN_URL = os.environ.get("MLPLAT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql",
                                                               marks=pytest.mark.postgres)]


def _admin_engine() -> sa.Engine:
    return sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    """URL of a database created for this test session."""
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc.orig).strip().splitlines()[0]}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"mlplat_t_{uuid.uuid4().hex[:12]}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def empty_tables(store: Store) -> None:
    """Every table but the migration version, emptied (PostgreSQL tests share one database)."""
    with store.write() as conn:
        tables = [t for t in sa.inspect(conn).get_table_names() if t != VERSION_TABLE]
        if tables:
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


def url_for(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/mlplat.db"
    return request.getfixturevalue("pg_session_url")


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL per backend; PostgreSQL's is emptied first, SQLite's is new."""
    url = url_for(request.param, request, tmp_path)
    if request.param == "postgresql":
        s = Store.open(url, tmp_path / "artifacts")
        empty_tables(s)
    return url


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    s = Store.open(store_url, tmp_path / "artifacts")
    yield s
    s.close()


@pytest.fixture
def populated(store):
    """A store holding population(): (store, the runs as dicts)."""
    data = population()
    recs = [record(d["id"], {"roc_auc": d["roc_auc"], "log_loss": d["log_loss"]}, started_at=d["started_at"],
                   dataset=d["dataset"], model=d["model"], sweep_id=d["sweep_id"], job_num=d["job_num"],
                   experiment=d["experiment"]) for d in data]
    assert runs.record_runs_batch(store, recs, chunk=32) == len(data)
    return store, data
