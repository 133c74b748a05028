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
           allowed: tuple[str, ...], on_runs: tuple[str, ...] = ()) -> tuple[list[str], list[Any]]:
    """Equality filters on allow-listed columns (None values are no filter) and a start-time bound.
    ``on_runs``: allowed columns that only ``runs`` (alias r) holds."""
    where: list[str] = []
    params: list[Any] = []
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key not in allowed and key not in on_runs:
            raise ConfigError(f"unknown filter field {key!r}: expected one of {', '.join((*allowed, *on_runs))}")
        where.append(f"{'r' if key in on_runs else alias}.{key} = {p}")  # key is an allow-listed column name
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
    # lineage filters (dataset_fingerprint, ...) test the joined runs row: a leaderboard of the runs
    # trained on exactly this data
    where, params = _where(p, "m", filters, since, LEADERBOARD_FILTERS,
                           tuple(f for f in LIST_FILTERS if f not in LEADERBOARD_FILTERS))
    where = [f"m.name = {p}", f"m.stage = {p}", "m.value IS NOT NULL", *where]
    params = [metric, stage, *params]
    order = "DESC" if greater_is_better else "ASC"
    sql = (f"SELECT {_COLUMNS} FROM run_metrics AS m JOIN runs AS r ON r.id = m.run_id "
           "LEFT OUTER JOIN run_metrics AS h ON h.run_id = m.run_id AND h.name = m.name AND h.stage = 'holdout' "
           f"WHERE {' AND '.join(where)} "
           f"ORDER BY m.value {order}, m.started_at ASC, m.run_id ASC LIMIT {p} OFFSET {p}")
    return sql, (*params, int(top), int(offset))


def sweep_ids(dialect: str, *, prefix: str) -> tuple[str, tuple]:
    """(sql, params): up to three sweep ids starting with ``prefix`` (a prefix, never a LIKE pattern)."""
    p = PLACEHOLDER[dialect]
    return (f"SELECT id FROM sweeps WHERE substr(id, 1, {p}) = {p} ORDER BY id LIMIT 3",
            (len(prefix), prefix))



def registered_models(dialect: str) -> tuple[str, tuple]:  # noqa: ARG001 - no parameter to place
    """(sql, params): every registered model with each of its aliases (one row per alias, or one
    with a NULL alias), by name then alias; ``models_of`` folds them into one row per model."""
    return ("SELECT m.name, m.created_at, m.latest_version, a.alias, a.version AS alias_version "
            "FROM registered_models m LEFT JOIN model_aliases a ON a.name = m.name "
            "ORDER BY m.name, a.alias", ())


def models_of(rows: list[dict]) -> list[dict]:
    """The rows of ``registered_models`` as one dict per model: name, created_at, latest_version, aliases."""
    out: dict[str, dict] = {}
    for r in rows:
        m = out.setdefault(r["name"], {"name": r["name"], "created_at": r["created_at"],
                                       "latest_version": r["latest_version"], "aliases": {}})
        if r["alias"] is not None:
            m["aliases"][r["alias"]] = r["alias_version"]
    return list(out.values())

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


# -- the web UI's runs table and comparison (filters and sort keys: tracking.filters) ------------
PAGE_COLUMNS = (*LIST_COLUMNS, "features", "ended_at")
MAX_IDS = 1000  # runs one comparison or one page's column fetch may ask for


def _placeholders(p: str, n: int) -> str:
    return ", ".join([p] * n)


def _condition(p: str, f: Any, *, row: str, ranked: Any | None) -> tuple[str, list[Any]]:
    """SQL for one tracking.filters.Filter over the run whose id is ``row``.

    Column and time filters on a metric-sorted page test run_metrics' own copies (``m.``),
    so the ranking index still answers; a filter on the sorted metric itself tests m.value.
    Param, tag and other metric filters are correlated EXISTS on those tables' primary keys.
    """
    import json

    on_m = ranked is not None
    if f.kind == "column":
        alias = "m" if on_m and f.key in ("experiment", "sweep_id", "dataset", "model", "status") else "r"
        return f"{alias}.{f.key} {f.sql_op} {p}", [f.value]  # key is an allow-listed column name
    if f.kind == "started":
        return f"{'m' if on_m else 'r'}.started_at {f.sql_op} {p}", [f.value]
    if f.kind == "metric":
        if on_m and ranked.key == f.key and ranked.stage == f.stage:
            return f"m.value {f.sql_op} {p}", [f.value]
        return (f"EXISTS (SELECT 1 FROM run_metrics AS x WHERE x.run_id = {row} AND x.name = {p} "
                f"AND x.stage = {p} AND x.value {f.sql_op} {p})"), [f.key, f.stage, f.value]
    if f.kind == "tag":
        sql = f"EXISTS (SELECT 1 FROM run_tags AS x WHERE x.run_id = {row} AND x.key = {p} AND x.value = {p})"
        return (f"NOT {sql}" if f.op == "!=" else sql), [f.key, f.value]
    # params: numbers compare on value_num (0.1 = 0.10 = 1e-1); other values as their JSON text
    head = f"EXISTS (SELECT 1 FROM run_params AS x WHERE x.run_id = {row} AND x.key = {p} AND "
    if f.op in ("=", "!="):
        try:
            number = float(f.value)
        except ValueError:
            number = None
        if number is not None and number == number and abs(number) != float("inf"):
            sql, args = head + f"x.value_num = {p})", [f.key, number]
        else:
            sql, args = head + f"x.value IN ({p}, {p}))", [f.key, str(f.value), json.dumps(str(f.value))]
        return (f"NOT {sql}" if f.op == "!=" else sql), args
    return head + f"x.value_num {f.sql_op} {p})", [f.key, f.value]


def runs_page(dialect: str, *, filters: list[Any], sort: Any, limit: int = 50,
              offset: int = 0) -> tuple[str, tuple]:
    """(sql, params): one page of the UI's runs table (rows of PAGE_COLUMNS + ``sort_value``).

    The sort decides which table the database walks, each in index order so it stops after
    one page: ``started`` walks runs (started_at, id), newest first as `runs list`; a metric
    walks that metric's ranking index as the leaderboard does (runs without the metric are not
    listed); a param walks run_params (key, value_num, value, run_id), numbers in numeric
    order; a tag walks run_tags (key, value, run_id). Ties break on the run id.
    """
    p = PLACEHOLDER[dialect]
    cols = ", ".join(f"r.{c}" for c in PAGE_COLUMNS)
    direction = "DESC" if sort.descending else "ASC"
    ranked = sort if sort.kind == "metric" else None
    if sort.kind == "metric":
        row = "m.run_id"
        head = (f"SELECT {cols}, m.value AS sort_value FROM run_metrics AS m JOIN runs AS r ON r.id = m.run_id")
        where, params = [f"m.name = {p}", f"m.stage = {p}", "m.value IS NOT NULL"], [sort.key, sort.stage]
        order = f"m.value {direction}, m.started_at ASC, m.run_id ASC"
    elif sort.kind == "param":
        row = "p.run_id"
        head = f"SELECT {cols}, p.value AS sort_value FROM run_params AS p JOIN runs AS r ON r.id = p.run_id"
        where, params = [f"p.key = {p}"], [sort.key]
        order = f"p.value_num {direction}, p.value {direction}, p.run_id {direction}"
    elif sort.kind == "tag":
        row = "t.run_id"
        head = f"SELECT {cols}, t.value AS sort_value FROM run_tags AS t JOIN runs AS r ON r.id = t.run_id"
        where, params = [f"t.key = {p}"], [sort.key]
        order = f"t.value {direction}, t.run_id {direction}"
    else:
        row = "r.id"
        column = "r.duration_s" if sort.kind == "duration" else "r.started_at"
        head = f"SELECT {cols}, {column} AS sort_value FROM runs AS r"
        where, params = [f"{column} IS NOT NULL"] if sort.kind == "duration" else [], []
        order = f"{column} {direction}, r.id {direction}"
    for f in filters:
        sql, args = _condition(p, f, row=row, ranked=ranked)
        where.append(sql)
        params.extend(args)
    sql = f"{head}{' WHERE ' + ' AND '.join(where) if where else ''} ORDER BY {order} LIMIT {p} OFFSET {p}"
    return sql, (*params, int(limit), int(offset))


def _check_ids(run_ids: list[str]) -> None:
    if not run_ids or len(run_ids) > MAX_IDS:
        raise ConfigError(f"between 1 and {MAX_IDS} run ids per request (got {len(run_ids)})")


def runs_by_id(dialect: str, *, run_ids: list[str]) -> tuple[str, tuple]:
    _check_ids(run_ids)
    p = PLACEHOLDER[dialect]
    return (f"SELECT {', '.join(f'r.{c}' for c in PAGE_COLUMNS)} FROM runs AS r "
            f"WHERE r.id IN ({_placeholders(p, len(run_ids))})"), tuple(run_ids)


def params_of(dialect: str, *, run_ids: list[str]) -> tuple[str, tuple]:
    """(run_id, key, value) of those runs' params.

    No key condition: with ``key IN (...)`` SQLite walks the (key, value_num, ...) index over
    every run that has the key (70-120 ms at 100,000 runs) instead of the primary key for
    these runs (under 1 ms); the caller keeps the keys it wants.
    """
    _check_ids(run_ids)
    p = PLACEHOLDER[dialect]
    return (f"SELECT run_id, key, value FROM run_params WHERE run_id IN ({_placeholders(p, len(run_ids))})",
            tuple(run_ids))


def tags_of(dialect: str, *, run_ids: list[str]) -> tuple[str, tuple]:
    """(run_id, key, value) of those runs' tags (no key condition, as params_of says)."""
    _check_ids(run_ids)
    p = PLACEHOLDER[dialect]
    return (f"SELECT run_id, key, value FROM run_tags WHERE run_id IN ({_placeholders(p, len(run_ids))})",
            tuple(run_ids))


def metrics_of(dialect: str, *, run_ids: list[str]) -> tuple[str, tuple]:
    """(run_id, name, stage, value, std) of those runs' aggregated metrics."""
    _check_ids(run_ids)
    p = PLACEHOLDER[dialect]
    return (f"SELECT run_id, name, stage, value, std FROM run_metrics "
            f"WHERE run_id IN ({_placeholders(p, len(run_ids))})"), tuple(run_ids)


def fold_metrics_of(dialect: str, *, run_ids: list[str]) -> tuple[str, tuple]:
    _check_ids(run_ids)
    p = PLACEHOLDER[dialect]
    return (f"SELECT run_id, name, fold, value FROM run_fold_metrics "
            f"WHERE run_id IN ({_placeholders(p, len(run_ids))}) ORDER BY run_id, name, fold"), tuple(run_ids)


def distinct_keys(dialect: str) -> tuple[str, tuple]:
    """(kind, v): every distinct param key, tag key and metric name, as loose index scans.

    Each recursive step jumps to the next key through the table's (key, ...) index, so the cost
    grows with the number of distinct keys, not of rows (a plain DISTINCT reads all 500,000
    param rows of a 100,000-run store). One statement for the three: one round trip.
    """
    del dialect  # the same text on both databases

    def scan(name: str, table: str, column: str) -> str:
        return (f"{name}(v) AS (SELECT MIN({column}) FROM {table} UNION ALL "
                f"SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > {name}.v) FROM {name} "
                f"WHERE {name}.v IS NOT NULL)")

    return ("WITH RECURSIVE " + ", ".join([scan("p", "run_params", "key"), scan("t", "run_tags", "key"),
                                           scan("m", "run_metrics", "name")])
            + " SELECT 'params' AS kind, v FROM p WHERE v IS NOT NULL"
            " UNION ALL SELECT 'tags' AS kind, v FROM t WHERE v IS NOT NULL"
            " UNION ALL SELECT 'metrics' AS kind, v FROM m WHERE v IS NOT NULL"), ()


# -- the registry's and the monitor's listings (one-shot commands read them over the driver too) --
# column lists in table order (tests/tracking/test_direct_read.py holds them to the SQLAlchemy tables)
AUDIT_COLUMNS = ("seq", "ts", "actor", "source", "action", "object_type", "object_id", "payload", "payload_digest",
                 "prev_hash", "hash", "mac")
REQUEST_COLUMNS = ("id", "name", "version", "target", "status", "requester", "source", "created_at", "expires_at",
                   "decided_at", "decided_by", "approvals_needed", "base_version", "evidence", "reason")
CHECK_COLUMNS = ("id", "created_at", "kind", "model", "version", "window_start", "window_end", "input", "n_rows",
                 "status", "features", "summary", "report_json", "report_html", "actor", "source")


def _starts(column: str, p: str, prefix: str) -> tuple[str, list[Any]]:
    """``column`` starts with ``prefix``, compared as text (never a LIKE pattern, case-sensitive on both databases)."""
    return f"substr({column}, 1, {p}) = {p}", [len(prefix), prefix]


def audit_entries(dialect: str, *, object_id: str | None = None, object_type: str | None = None,
                  action: str | None = None, limit: int = 50) -> tuple[str, tuple]:
    """(sql, params): audit entries, newest first. ``object_id``: that exact id, or a model name that
    also matches its versions (``churn:3``), aliases (``churn@production``) and its promotion
    requests (entries about the request id); ``churn:3`` matches that version's requests too."""
    p = PLACEHOLDER[dialect]
    where: list[str] = []
    params: list[Any] = []
    if object_id:
        name, colon, version = object_id.rpartition(":")
        if colon and version.isdigit():
            reqs, req_params = f"SELECT id FROM approval_requests WHERE name = {p} AND version = {p}", [name, int(version)]
        else:
            reqs, req_params = f"SELECT id FROM approval_requests WHERE name = {p}", [object_id]
        (versions_sql, vp), (aliases_sql, ap) = _starts("object_id", p, f"{object_id}:"), _starts("object_id", p,
                                                                                                  f"{object_id}@")
        where.append(f"(object_id = {p} OR {versions_sql} OR {aliases_sql} OR "
                     f"(object_type = 'request' AND object_id IN ({reqs})))")
        params += [object_id, *vp, *ap, *req_params]
    if object_type:
        where.append(f"object_type = {p}")
        params.append(object_type)
    if action:
        sql, ap = _starts("action", p, action)
        where.append(sql)
        params += ap
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return (f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log{clause} ORDER BY seq DESC LIMIT {p}",
            (*params, int(limit)))


def approval_requests(dialect: str, *, status: str | None = None, name: str | None = None,
                      limit: int = 100) -> tuple[str, tuple]:
    """(sql, params): promotion requests, newest first, each with its number of approvals."""
    p = PLACEHOLDER[dialect]
    where, params = [], []
    for column, value in (("status", status), ("name", name)):
        if value:
            where.append(f"r.{column} = {p}")
            params.append(value)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return (f"SELECT {', '.join('r.' + c for c in REQUEST_COLUMNS)}, "
            f"(SELECT count(*) FROM approvals a WHERE a.request_id = r.id) AS approvals_count "
            f"FROM approval_requests r{clause} ORDER BY r.created_at DESC LIMIT {p}", (*params, int(limit)))


def stale_requests(dialect: str, *, before: float) -> tuple[str, tuple]:
    """(sql, params): pending requests past their expiry (a listing marks them expired first)."""
    p = PLACEHOLDER[dialect]
    return f"SELECT id FROM approval_requests WHERE status = 'pending' AND expires_at < {p}", (float(before),)


def model_names(dialect: str, *, name: str) -> tuple[str, tuple]:
    """(sql, params): ``name`` if it is a registered model (no row: it is not)."""
    return f"SELECT name FROM registered_models WHERE name = {PLACEHOLDER[dialect]}", (name,)


def monitor_checks(dialect: str, *, model: str, kind: str | None = None, version: int | None = None,
                   limit: int = 50) -> tuple[str, tuple]:
    """(sql, params): past monitoring checks of ``model``, newest first."""
    p = PLACEHOLDER[dialect]
    where, params = [f"model = {p}"], [model]
    for column, value in (("kind", kind), ("version", version)):
        if value is not None and value != "":
            where.append(f"{column} = {p}")
            params.append(value)
    return (f"SELECT {', '.join(CHECK_COLUMNS)} FROM monitor_checks WHERE {' AND '.join(where)} "
            f"ORDER BY created_at DESC, id DESC LIMIT {p}", (*params, int(limit)))
