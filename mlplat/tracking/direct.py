"""One read over the bare DB-API driver, for one-shot commands that must start fast.

`mlplat leaderboard` should answer in well under half a second as a whole process, and
importing SQLAlchemy (0.2-0.4 s here) plus psycopg 3 (0.15-0.25 s) costs more than that on
its own. The query it runs is plain SQL text (mlplat.tracking.queries), so it can run
straight over the driver: sqlite3 from the standard library, or psycopg2 for PostgreSQL
(~30 ms to import, against psycopg 3's ~160 ms; the Store keeps psycopg 3).

This is a fast path, never a second store. It creates nothing (a missing SQLite file is
not opened), writes nothing (SQLite is opened read-only, PostgreSQL in a read-only
session), and answers None whenever it is not certain: a URL form it does not know, no
psycopg2, a schema that is not at the current migration heads, or any driver error. The
caller then uses the Store, which migrates, reports errors in one line, and runs the same
SQL through SQLAlchemy.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from urllib.parse import unquote

from mlplat.tracking.queries import Query
from mlplat.tracking.revisions import VERSION_TABLE, script_heads


def dialect_of(url: str) -> str | None:
    """'sqlite' or 'postgresql' for the URL forms this path can open, else None."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        return None
    backend = scheme.split("+", 1)[0]
    return {"sqlite": "sqlite", "postgresql": "postgresql", "postgres": "postgresql"}.get(backend)


def read_only_sqlite(db: Path) -> bool:
    """An existing SQLite file this process cannot write (nor create its -wal/-shm beside):
    opened read-only and immutable here and by the Store (mlplat.tracking.store)."""
    return db.is_file() and not (os.access(db, os.W_OK) and os.access(db.parent, os.W_OK))


def _sqlite(url: str):
    rest = url.partition("://")[2]
    # sqlite:///rel/path and sqlite:////abs/path, as SQLAlchemy reads them (relative to the
    # working directory); memory databases and query options are left to the Store
    if not rest.startswith("/") or "?" in rest:
        return None
    path = Path(unquote(rest[1:]))
    if not path.is_file():
        return None  # the Store creates and migrates a new store; this path never creates one
    immutable = "&immutable=1" if read_only_sqlite(path) else ""
    return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro{immutable}", uri=True, timeout=60)


def _postgresql(url: str):
    try:  # only for PostgreSQL URLs, and optional: without the driver the Store answers
        import psycopg2
    except ImportError:
        return None
    # an SQLAlchemy URL without its "+driver" is a libpq connection URI: the same user,
    # password, host, port, database and query parameters (host=/socket/dir, sslmode, ...)
    conninfo = "postgresql://" + url.partition("://")[2]
    conn = psycopg2.connect(conninfo, connect_timeout=5)
    conn.set_session(readonly=True, autocommit=True)
    return conn


def read_rows(url: str, query: Query) -> list[dict] | None:
    """The rows of ``query(dialect)`` at ``url`` as dicts, or None: then use the Store.

    ``query`` runs before any connection is made, so bad input it refuses (an unknown filter
    field) raises here exactly as it would on the Store's path.
    """
    if os.environ.get("MLPLAT_NO_DIRECT_READ"):  # for comparing the two paths
        return None
    dialect = dialect_of(url)
    if dialect is None:
        return None
    sql, params = query(dialect)
    conn = None
    try:
        conn = _sqlite(url) if dialect == "sqlite" else _postgresql(url)
        if conn is None:
            return None
        cur = conn.cursor()
        cur.execute(f"SELECT version_num FROM {VERSION_TABLE}")
        if {row[0] for row in cur.fetchall()} != script_heads():
            return None  # an older (or newer) schema: the Store migrates or refuses it
        cur.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    except Exception:  # noqa: BLE001 - any failure here is answered by the Store's path
        return None
    finally:
        if conn is not None:
            conn.close()
