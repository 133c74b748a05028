"""The leaderboard query as plain SQL text, one definition for every way it is run.

The Store runs it through SQLAlchemy (``Connection.exec_driver_sql``); one-shot commands
run it over the bare DB-API driver (mlplat.tracking.direct) because importing SQLAlchemy
costs more than the whole query. Both get the same text from here, so the two paths
cannot rank differently. The SQL is portable between SQLite and PostgreSQL; only the
parameter placeholder differs (``?`` for sqlite3, ``%s`` for psycopg and psycopg2).

This module must not import SQLAlchemy (it is on the fast path).
"""

from __future__ import annotations

from typing import Any

from mlplat.errors import ConfigError

# what a leaderboard can filter on: the run columns copied into run_metrics (plus time)
LEADERBOARD_FILTERS = ("experiment", "sweep_id", "dataset", "model", "status")
PLACEHOLDER = {"sqlite": "?", "postgresql": "%s"}

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
    where = [f"m.name = {p}", f"m.stage = {p}", "m.value IS NOT NULL"]
    params: list[Any] = [metric, stage]
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key not in LEADERBOARD_FILTERS:
            raise ConfigError(f"unknown filter field {key!r}: expected one of {', '.join(LEADERBOARD_FILTERS)}")
        where.append(f"m.{key} = {p}")  # key is one of the allow-listed column names above
        params.append(value)
    if since is not None:
        where.append(f"m.started_at >= {p}")
        params.append(since)
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
