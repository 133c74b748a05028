"""Read operations: leaderboards, run and sweep listings, one run, one sweep, the registered models,
the promotion requests, the audit trail and a model's monitoring history.

The one-shot commands that list them (`mlplat leaderboard`, `runs list`, `models list`,
`approvals list`, `audit log`, `monitor history`) import this module and nothing heavier: their
rows come straight over the database driver (mlplat.tracking.direct) when that path is
certain to answer. What needs the Store (and so SQLAlchemy) or draws charts imports those
where it is used, each with its cost named.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from mlplat.errors import ConfigError, MonitoringError, NotFound
from mlplat.evaluation.metrics import DEFAULT_PRIMARY, get_metric
from mlplat.monitoring.settings import KINDS
from mlplat.ops.common import default_tracking, open_store
from mlplat.project import resolve_sqlite_url
from mlplat.registry.refs import not_registered, parse_ref
from mlplat.tracking import direct, queries


def _store_runs():
    # SQLAlchemy (~0.3 s to import, more under load): only on the Store's path, which the
    # leaderboard and the run listing take only when a direct read cannot answer
    from mlplat.tracking import runs

    return runs


def _rows(query, *, store, url: str | None) -> list[dict]:
    """The rows of ``query`` (tracking.queries): given no open ``store``, straight over the
    database driver (the store at ``url``, else the config's tracking.url), so a one-shot
    command never imports SQLAlchemy; when that path is not certain to answer (see
    tracking.direct), through the Store, which runs the same SQL."""
    if store is None:
        rows = _direct(query, url)
        if rows is not None:
            return rows
        store = open_store(url=resolve_sqlite_url(url) if url else None)
    return _store_runs().query_rows(store, query)


def _direct(query, url: str | None) -> list[dict] | None:
    """The rows of ``query`` over the bare driver, or None when that path cannot answer (tracking.direct)."""
    url = resolve_sqlite_url(url) if url else None  # a relative --store starts at the project root
    return direct.read_rows(url or str(default_tracking()["url"]), query)


def _with_sweep(filters: dict | None, *, store, url: str | None) -> dict | None:
    """``sweep_id`` given as a unique prefix (the 8 characters tables show) becomes the full id,
    as `runs show` takes run id prefixes; NotFound when it names several. A value no sweep row
    starts with is kept as given (runs logged with a sweep id of their own)."""
    ref = (filters or {}).get("sweep_id")
    if not ref:
        return filters
    ref = str(ref).strip()
    found = [r["id"] for r in _rows(partial(queries.sweep_ids, prefix=ref), store=store, url=url)]
    if ref in found or not found:
        return {**filters, "sweep_id": ref}
    if len(found) > 1:
        raise NotFound(f"sweep id prefix {ref!r} is ambiguous ({', '.join(found)}...); give more characters")
    return {**filters, "sweep_id": found[0]}


def leaderboard(*, metric: str | None = None, stage: str = "cv", filters: dict | None = None,
                since: float | None = None, top: int = 10, store=None, url: str | None = None) -> dict:
    """Runs ranked by ``metric``: {metric, direction, rows} (read as _rows says)."""
    if metric is None:
        metric = DEFAULT_PRIMARY["classification"]
    m = get_metric(metric)
    if top < 1:
        raise ConfigError(f"--top must be at least 1 (got {top})")
    filters = _with_sweep(filters, store=store, url=url)
    rows = _rows(partial(queries.leaderboard, metric=metric, greater_is_better=m.greater_is_better, stage=stage,
                         filters=filters, since=since, top=top), store=store, url=url)
    return {"metric": metric, "direction": m.direction,
            "rows": queries.ranked(rows, metric=metric, direction=m.direction)}


def leaderboard_chart(*, metric: str | None = None, stage: str = "cv", filters: dict | None = None,
                      since: float | None = None, top: int = 10, fmt: str = "png", store=None) -> bytes:
    """The leaderboard as a PNG or a self-contained HTML page (the files the Slack bot posts)."""
    # deferred: the chart and page modules load Jinja2 (~40 ms) and, drawing, matplotlib
    # (~0.5 s); a text leaderboard imports this module too and needs neither
    from mlplat.reports import charts

    if fmt not in ("png", "html"):
        raise ConfigError(f"leaderboard chart format {fmt!r} is not supported: use png or html")
    board = leaderboard(metric=metric, stage=stage, filters=filters, since=since, top=top, store=store)
    title = f"Leaderboard: {board['metric']} ({stage})"
    if filters and filters.get("sweep_id"):
        title += f", sweep {str(filters['sweep_id'])[:8]}"
    if fmt == "png":
        return charts.leaderboard_png(board["rows"], board["metric"], board["direction"], title=title)
    return charts.leaderboard_html(board["rows"], board["metric"], board["direction"], title=title)


def list_runs(*, filters: dict | None = None, since: float | None = None, page: int = 1, page_size: int = 20,
              store=None, url: str | None = None) -> list[dict]:
    """One page of runs, newest first (read as _rows says)."""
    queries.check_page(page, page_size)
    filters = _with_sweep(filters, store=store, url=url)
    return _rows(partial(queries.list_runs, filters=filters, since=since, limit=page_size,
                         offset=(page - 1) * page_size), store=store, url=url)


def list_models(*, store=None, url: str | None = None) -> list[dict[str, Any]]:
    """Every registered model with its aliases ({alias: version}), by name (read as _rows says)."""
    return queries.models_of(_rows(queries.registered_models, store=store, url=url))


def list_approvals(*, actor: str, source: str, status: str | None = None, name: str | None = None,
                   store=None, url: str | None = None) -> list[dict[str, Any]]:
    """Promotion requests, newest first; pending ones past their expiry are marked expired first (audited),
    so a listing never shows a stale request as pending. With none stale, nothing is written."""
    if store is None and _direct(partial(queries.stale_requests, before=time.time()), url) == []:
        rows = _direct(partial(queries.approval_requests, status=status, name=name), url)
    else:
        rows = None
    if rows is None:
        # the Store's path: expiring is a write (SQLAlchemy, ~0.3 s to import, only here)
        from mlplat.registry import approvals

        store = store or open_store(url=resolve_sqlite_url(url) if url else None)
        approvals.expire_stale(store, actor=actor, source=source)
        rows = _store_runs().query_rows(store, partial(queries.approval_requests, status=status, name=name))
    for r in rows:
        r["evidence"] = json.loads(r["evidence"]) if r.get("evidence") else {}
    return rows


def audit_log(*, object_id: str | None = None, object_type: str | None = None, action: str | None = None,
              limit: int = 50, store=None, url: str | None = None) -> list[dict[str, Any]]:
    """Audit entries, newest first, filtered by action (a prefix), object type and object
    (queries.audit_entries says how a model name matches its versions, aliases and requests)."""
    return _rows(partial(queries.audit_entries, object_id=object_id, object_type=object_type, action=action,
                         limit=limit), store=store, url=url)


def monitor_history(name: str, *, limit: int = 50, kind: str | None = None, store=None,
                    url: str | None = None) -> list[dict[str, Any]]:
    """Past checks of ``name`` (``churn`` or ``churn:3``), newest first: status overall and per
    feature, window, report paths."""
    if kind is not None and kind not in KINDS:
        raise MonitoringError(f"check kind {kind!r} is not known; use one of {', '.join(KINDS)}")
    ref = parse_ref(name)
    if not _rows(partial(queries.model_names, name=ref.name), store=store, url=url):
        raise not_registered(ref.name)
    rows = _rows(partial(queries.monitor_checks, model=ref.name, kind=kind, version=ref.version, limit=int(limit)),
                 store=store, url=url)
    for row in rows:
        row["features"] = json.loads(row["features"] or "{}")
        row["summary"] = json.loads(row["summary"] or "{}")
    return rows


def iter_runs(*, filters: dict | None = None, since: float | None = None, store=None) -> Iterable[dict]:
    """Every matching run, newest first, read in batches: for streaming a whole listing."""
    store = store or open_store()
    return _store_runs().iter_runs(store, filters=_with_sweep(filters, store=store, url=None), since=since)


def show_run(ref: str, *, store=None) -> dict[str, Any]:
    """Everything recorded about one run (``ref``: its id or a unique prefix)."""
    return _store_runs().get_run(store or open_store(), ref)


def list_sweeps(*, page: int = 1, page_size: int = 20, store=None) -> list[dict]:
    return _store_runs().list_sweeps(store or open_store(), page=page, page_size=page_size)


def show_sweep(ref: str, *, page: int = 1, page_size: int = 100, store=None) -> dict:
    """One sweep and one page of its trials in job order (a sweep can have thousands)."""
    runs = _store_runs()
    store = store or open_store()
    sweep = runs.get_sweep(store, ref)
    sweep["trials"] = runs.sweep_trials(store, sweep["id"], page=page, page_size=page_size)
    sweep["page"], sweep["page_size"] = page, page_size
    return sweep


__all__ = ["leaderboard", "leaderboard_chart", "list_runs", "list_models", "list_approvals", "audit_log",
           "monitor_history", "iter_runs", "show_run", "list_sweeps", "show_sweep"]
