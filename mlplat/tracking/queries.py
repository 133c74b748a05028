"""The leaderboard and run-listing queries as plain SQL text, one definition for every way
they are run.

The Store runs them through SQLAlchemy (``Connection.exec_driver_sql``); one-shot commands
run them over the bare DB-API driver (mlplat.tracking.direct) because importing SQLAlchemy
costs more than the whole query. Both get the same text from here, so the two paths
cannot rank or page differently. The SQL is portable between SQLite and PostgreSQL; only the
parameter placeholder differs (``?`` for sqlite3, ``%s`` for psycopg and psycopg2).

This module must not import SQLAlchemy (it is on the fast path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlplat.errors import ConfigError

Query = Callable[[str], tuple[str, tuple]]  # dialect -> (sql, params): what both read paths run

# what a leaderboard can filter on: the run columns copied into run_metrics (plus time)
LEADERBOARD_FILTERS = ("experiment", "sweep_id", "dataset", "model", "status")
# listings also answer lineage questions: which runs used this exact data, this config
LIST_FILTERS = (*LEADERBOARD_FILTERS, "dataset_fingerprint", "config_hash", "invocation_id")
LIST_COLUMNS = ("id", "experiment", "status", "dataset", "model", "sweep_id", "job_num", "started_at",
                "duration_s", "primary_metric", "primary_value", "actor", "source", "error")
PLACEHOLDER = {"sqlite": "?", "postgresql": "%s"}


def check_page(page: int, page_size: int) -> None:
    if page < 1 or page_size < 1:
        raise ConfigError(f"page and page size must be >= 1 (got page={page}, page_size={page_size})")


def _where(p: str, alias: str, filters: dict[str, Any] | None, since: float | None,
           allowed: tuple[str, ...]) -> tuple[list[str], list[Any]]:
    """Equality filters on allow-listed columns (None values are no filter) and a start-time bound."""
    where: list[str] = []
    params: list[Any] = []
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key not in allowed:
            raise ConfigError(f"unknown filter field {key!r}: expected one of {', '.join(allowed)}")
        where.append(f"{alias}.{key} = {p}")  # key is one of the allow-listed column names
        params.append(value)
    if since is not None:
        where.append(f"{alias}.started_at >= {p}")
        params.append(since)
    return where, params

_COLUMNS = ("r.id, r.experiment, r.dataset, r.model, r.features, r.sweep_id, r.status, r.started_at, "
            "r.fit_time_s, r.duration_s, m.value AS value, m.std AS std, h.value AS holdout")


def leaderboard(dialect: str, *, metric: str, greater_is_better: bool, stage: str = "cv",
                filters: dict[str, Any] | None = None, since: float | None = None, top: int = 10,
                offset: int = 0) -> tuple[str, tuple]:
    """(sql, params): runs ranked by one metric in its direction; ties by earlier start, then id.

    Filters and ordering use run_metrics' own columns (copies of the run's), so the database
    walks one ranking index (name, stage, value, started_at, run_id [+ a filter column]) and
    stops after ``top`` rows; ``runs`` and the holdout row are joined only for those.
    """
    p = PLACEHOLDER[dialect]
    where, params = _where(p, "m", filters, since, LEADERBOARD_FILTERS)
    where = [f"m.name = {p}", f"m.stage = {p}", "m.value IS NOT NULL", *where]
    params = [metric, stage, *params]
    order = "DESC" if greater_is_better else "ASC"
    sql = (f"SELECT {_COLUMNS} FROM run_metrics AS m JOIN runs AS r ON r.id = m.run_id "
           "LEFT OUTER JOIN run_metrics AS h ON h.run_id = m.run_id AND h.name = m.name AND h.stage = 'holdout' "
           f"WHERE {' AND '.join(where)} "
           f"ORDER BY m.value {order}, m.started_at ASC, m.run_id ASC LIMIT {p} OFFSET {p}")
    return sql, (*params, int(top), int(offset))


def ranked(rows: list[dict], *, metric: str, direction: str, offset: int = 0) -> list[dict]:
    """Number the rows of a leaderboard page (rank 1 is the best) and say what they rank."""
    for i, row in enumerate(rows, start=offset + 1):
        row["rank"] = i
        row["metric"] = metric
        row["direction"] = direction
    return rows


def list_runs(dialect: str, *, filters: dict[str, Any] | None = None, since: float | None = None,
              limit: int = 20, offset: int = 0, after: tuple[float, str] | None = None) -> tuple[str, tuple]:
    """(sql, params): runs newest first, the id breaking ties so pages never overlap or skip.

    ``after`` = (started_at, id) of the last row seen starts the page after it (keyset paging,
    for streaming every run: a run recorded meanwhile never shifts a row into the next batch).
    """
    p = PLACEHOLDER[dialect]
    where, params = _where(p, "r", filters, since, LIST_FILTERS)
    if after is not None:
        where.append(f"(r.started_at, r.id) < ({p}, {p})")
        params.extend(after)
    sql = (f"SELECT {', '.join(f'r.{c}' for c in LIST_COLUMNS)} FROM runs AS r"
           f"{' WHERE ' + ' AND '.join(where) if where else ''} "
           f"ORDER BY r.started_at DESC, r.id DESC LIMIT {p} OFFSET {p}")
    return sql, (*params, int(limit), int(offset))
