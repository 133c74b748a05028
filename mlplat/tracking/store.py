"""Open the store: engine, pragmas, migrations, and the one place database errors enter.

SQLite gets WAL (readers never block the writer) and a busy timeout; its write
transactions start with ``BEGIN IMMEDIATE`` so concurrent processes queue for the write
lock instead of failing on upgrade from a read lock. PostgreSQL needs neither. The schema
is brought to the migrations' heads once per process, under a lock, so N processes
opening a fresh store at once do not race to create it.

A SQLite file this process may not write (its permissions, or its directory's: WAL needs to
create ``-shm`` beside it) is opened read-only and immutable: read commands work, and any
write or a needed migration is refused in one line naming the file. Immutable means SQLite
takes no locks, so a reader can see a half-finished write of the file's owner; a read-only
copy is for looking, not for a store someone is writing.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import time
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa

from mlplat.errors import StoreError
from mlplat.project import is_url
from mlplat.tracking.direct import read_only_sqlite
from mlplat.tracking.revisions import MIGRATIONS, VERSION_TABLE, script_heads

BUSY_TIMEOUT_S = 60
T = TypeVar("T")
_OPENED: dict[tuple[str, str], Store] = {}


def now() -> float:
    return time.time()


def _sqlite_path(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _make_engine(url: str, *, immediate: bool, read_only: Path | None = None) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5}
                                if parsed.get_backend_name() == "postgresql" else {})
    if read_only is not None:
        uri = f"{read_only.absolute().as_uri()}?mode=ro&immutable=1"
        engine = sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True,
                                                                                check_same_thread=False))
    else:
        engine = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_S})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (SQLAlchemy's pysqlite recipe)
        cur = dbapi_conn.cursor()
        if read_only is None:  # a read-only file keeps the journal mode it has
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _describe(exc: Exception) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


class Store:
    """A handle on one store: ``read()`` and ``write()`` give connections in a transaction."""

    def __init__(self, url: str, artifact_root: str | Path):
        self.url = url
        # a directory, or an object-store URL kept as text (Path would fold s3:// into s3:/)
        self.artifact_root: Path | str = artifact_root if is_url(str(artifact_root)) else Path(artifact_root)
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise StoreError(f"malformed store URL {url!r}: expected e.g. sqlite:///runs/mlplat.db "
                             "or postgresql+psycopg://user@host:5432/db (tracking.url)") from exc
        self.dialect = parsed.get_backend_name()
        db = _sqlite_path(parsed)
        if db is not None:
            try:
                db.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the store directory {str(db.parent)!r}: {exc}") from exc
        self._sqlite_db = db
        self.read_only = db is not None and read_only_sqlite(db)
        ro = db if self.read_only else None
        try:
            self.writer = _make_engine(url, immediate=True, read_only=ro)
            self.reader = _make_engine(url, immediate=False, read_only=ro) if db is not None else self.writer
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot use store URL {url!r}: {exc}") from exc

    @classmethod
    def open(cls, url: str, artifact_root: str | Path, *, migrate: bool = True) -> Store:
        """The store at ``url``, migrated to the current schema (cached per process)."""
        key = (url, str(artifact_root))
        store = _OPENED.get(key)
        if store is None:
            store = cls(url, artifact_root)
            if migrate:
                store.migrate()
            _OPENED[key] = store
        return store

    def close(self) -> None:
        """Release the connection pools (and forget this handle), e.g. before dropping its database."""
        _OPENED.pop((self.url, str(self.artifact_root)), None)
        self.writer.dispose()
        self.reader.dispose()

    def check_writable(self) -> None:
        """Raise the one-line StoreError a write would, before work that ends in one (a run)."""
        if self.read_only:
            self._refuse_write()

    def _refuse_write(self, what: str = "record anything") -> None:
        raise StoreError(f"the store file {str(self._sqlite_db)!r} is read-only for this user (it or its "
                         f"directory is not writable), so mlplat cannot {what} in it; read commands work: "
                         "fix its permissions, or point tracking.url at a copy you can write")

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        if self.read_only:
            self._refuse_write()
        try:
            with self.writer.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StoreError(f"store {self.safe_url} failed: {_describe(exc)}") from exc

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        try:
            with self.reader.connect() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StoreError(f"store {self.safe_url} failed: {_describe(exc)}") from exc

    @cached_property
    def safe_url(self) -> str:
        return sa.make_url(self.url).render_as_string(hide_password=True)

    # -- schema ---------------------------------------------------------------------------
    # Alembic is imported where a migration needs it (~0.2 s, ~1 s under load): a store
    # already at the current schema, which is nearly every command, never loads it.
    def _alembic_config(self, conn: sa.Connection):
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        return cfg

    def heads(self) -> set[str]:
        try:
            return script_heads()
        except LookupError:
            return self.alembic_heads()

    def alembic_heads(self) -> set[str]:
        from alembic.script import ScriptDirectory

        return set(ScriptDirectory(str(MIGRATIONS)).get_heads())

    def current_revisions(self, conn: sa.Connection) -> set[str]:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return set()
        return {r[0] for r in conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}"))}

    @contextlib.contextmanager
    def _migration_lock(self, conn: sa.Connection) -> Iterator[None]:
        if self.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_lock(7216001)"))
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(7216001)"))
        elif self._sqlite_db is not None:
            lock = self._sqlite_db.with_name(self._sqlite_db.name + ".migrate.lock")
            with open(lock, "w") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        else:
            yield

    def migrate(self) -> None:
        """Upgrade the schema to every migration head (no-op when already there)."""
        try:
            with self.reader.connect() as conn:
                if self.current_revisions(conn) == self.heads():
                    return
            if self.read_only:
                self._refuse_write("bring its schema up to this version of mlplat")
            from alembic import command

            with self.writer.connect() as conn:
                with self._migration_lock(conn):
                    conn.commit()
                    command.upgrade(self._alembic_config(conn), "heads")
                    conn.commit()
        except sa.exc.OperationalError as exc:
            raise StoreError(
                f"cannot reach the store {self.safe_url}: {_describe(exc)}; check tracking.url "
                "(and that the database server is running)"
            ) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate the store {self.safe_url}: {_describe(exc)}") from exc

    def schema_version(self) -> list[str]:
        with self.read() as conn:
            return sorted(self.current_revisions(conn))


# without a tracking.lock_wait (a caller that built its own tracking node)
DEFAULT_LOCK_WAIT_S = 300.0


def _locked(exc: StoreError) -> bool:
    cause = exc.__cause__
    text = str(getattr(cause, "orig", None) or cause or exc).lower()
    return "database is locked" in text or "could not obtain lock" in text or "lock timeout" in text


def retry_locked(write: Callable[[], T], *, wait_s: float | None, what: str) -> T:
    """``write()`` (one whole transaction), retried with backoff while the write lock is taken.

    SQLite's busy timeout bounds one attempt; a process holding the lock longer (a long
    migration, a backup, a stuck writer) made a finished run fail with "database is locked"
    and lose its fit. Each retry reruns the whole transaction, so nothing is half-written.
    """
    limit = DEFAULT_LOCK_WAIT_S if wait_s is None else float(wait_s)
    start = time.monotonic()
    delay = 0.2
    while True:
        try:
            return write()
        except StoreError as exc:
            waited = time.monotonic() - start
            if not _locked(exc) or waited + delay > limit:
                if _locked(exc):
                    raise StoreError(f"{exc} while {what} (retried for {waited:.0f} s, tracking.lock_wait="
                                     f"{limit:g}); find the process holding the store's write lock or raise "
                                     "tracking.lock_wait") from exc
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def open_store(tracking: dict) -> Store:
    """Store from a tracking config node ({url, artifacts})."""
    return Store.open(str(tracking["url"]), str(tracking["artifacts"]))
