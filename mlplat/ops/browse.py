"""What the web UI shows, as plain data: the runs table, comparisons, one run, sweeps, models,
monitoring and the audit trail.

The runs table and the comparison run the SQL of ``mlplat.tracking.queries`` through the same
read path as `mlplat leaderboard` and `mlplat runs list` (``ops.listing._rows``); filters and
sort keys are parsed in ``mlplat.tracking.filters``, which names the bad one. Every function
takes the open ``store`` (the UI keeps one) and returns dicts and lists the pages and the
JSON API both format.
"""

from __future__ import annotations

import json
import math
from functools import partial
from typing import Any

import sqlalchemy as sa

from mlplat.errors import ConfigError, MlplatError, NotFound
from mlplat.monitoring.schema import monitor_checks
from mlplat.ops.listing import _rows as read_rows
from mlplat.ops.listing import audit_log, list_models, monitor_history, show_run
from mlplat.ops.registry import audit_verify, show_model
from mlplat.ops.sweeps import sweep_data
from mlplat.registry import aliases, approvals
from mlplat.tracking import artifacts as art
from mlplat.tracking import filters as flt
from mlplat.tracking import queries

MAX_PAGE_SIZE = 500
MAX_COMPARE = 500
COLUMN_KINDS = {"param": "params", "tag": "tags", "metric": "cv", "holdout": "holdout"}


def _rows(query, store) -> list[dict]:
    return read_rows(query, store=store, url=None)


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _json_value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_columns(texts: list[str]) -> list[dict[str, str]]:
    """``param.C``, ``tag.team``, ``metric.roc_auc``, ``holdout.roc_auc`` -> {kind, key, text}."""
    out, seen = [], set()
    for text in texts:
        text = text.strip()
        if not text or text in seen:
            continue
        prefix, _, key = text.partition(".")
        if prefix not in COLUMN_KINDS or not key or len(key) > 200:
            raise flt.FilterError(f"column {text}", "a column is param.<key>, tag.<key>, metric.<name> or "
                                                "holdout.<name>")
        seen.add(text)
        out.append({"kind": prefix, "key": key, "text": text})
    if len(out) > 40:
        raise flt.FilterError("columns", "at most 40 extra columns")
    return out


def _attach(rows: list[dict], columns: list[dict[str, str]], store) -> None:
    """Each row's ``cells``: the chosen params, tags and metrics, fetched for this page only."""
    ids = [r["id"] for r in rows]
    for r in rows:
        r["cells"] = {}
    if not ids or not columns:
        return
    by_id = {r["id"]: r for r in rows}
    params = {c["key"] for c in columns if c["kind"] == "param"}
    tags = {c["key"] for c in columns if c["kind"] == "tag"}
    if params:
        for p in _rows(partial(queries.params_of, run_ids=ids), store):
            if p["key"] in params:
                by_id[p["run_id"]]["cells"][f"param.{p['key']}"] = _json_value(p["value"])
    if tags:
        for t in _rows(partial(queries.tags_of, run_ids=ids), store):
            if t["key"] in tags:
                by_id[t["run_id"]]["cells"][f"tag.{t['key']}"] = t["value"]
    if any(c["kind"] in ("metric", "holdout") for c in columns):
        for m in _rows(partial(queries.metrics_of, run_ids=ids), store):
            prefix = "metric" if m["stage"] == "cv" else "holdout"
            by_id[m["run_id"]]["cells"][f"{prefix}.{m['name']}"] = _clean(m["value"])
            if m["stage"] == "cv":
                by_id[m["run_id"]]["cells"][f"std.{m['name']}"] = _clean(m["std"])


def runs_table(*, filters: list[str] | None = None, sort: str | None = None, order: str | None = None,
               columns: list[str] | None = None, page: int = 1, page_size: int = 50, store) -> dict[str, Any]:
    """One page of runs: filtered, sorted and with the chosen columns (see tracking.filters)."""
    if not 1 <= page_size <= MAX_PAGE_SIZE or page < 1:
        raise flt.FilterError(f"page={page}, page_size={page_size}",
                              f"page must be >= 1 and page_size between 1 and {MAX_PAGE_SIZE}")
    if page > 100_000:
        raise flt.FilterError(f"page={page}", "pages past 100,000 are not served; narrow the filters")
    parsed = flt.parse_filters(list(filters or []))
    ordering = flt.parse_sort(sort, order)
    cols = parse_columns(list(columns or []))
    rows = _rows(partial(queries.runs_page, filters=parsed, sort=ordering, limit=page_size + 1,
                         offset=(page - 1) * page_size), store)
    has_next = len(rows) > page_size
    rows = rows[:page_size]
    for r in rows:
        r["sort_value"] = _json_value(r["sort_value"]) if ordering.kind == "param" else _clean(r["sort_value"])
        r["primary_value"] = _clean(r["primary_value"])
    _attach(rows, cols, store)
    return {"rows": rows, "page": page, "page_size": page_size, "has_next": has_next,
            "sort": ordering.text, "order": "desc" if ordering.descending else "asc",
            "filters": [f.text for f in parsed], "columns": [c["text"] for c in cols]}


def run_columns(*, store) -> dict[str, list[str]]:
    """Every param key, tag key and metric name in the store (loose index scans, one statement)."""
    out: dict[str, list[str]] = {"params": [], "tags": [], "metrics": []}
    for r in _rows(queries.distinct_keys, store):
        out[r["kind"]].append(r["v"])
    return {kind: sorted(values) for kind, values in out.items()}


def compare_runs(run_ids: list[str], *, store) -> dict[str, Any]:
    """2 to 500 runs side by side: params (and which differ), metrics with fold values, tags.

    Every per-run list (``params[key]``, ``tags[key]``, ``metrics[name]["cv"|"std"|"holdout"|"folds"]``)
    is aligned with ``ids``: item i belongs to run ``ids[i]`` (None where the run has no value).
    """
    ids = list(dict.fromkeys(i.strip() for i in run_ids if i.strip()))
    if not 2 <= len(ids) <= MAX_COMPARE:
        raise ConfigError(f"compare takes 2 to {MAX_COMPARE} runs (got {len(ids)}); select them in the runs table")
    found = {r["id"]: r for r in _rows(partial(queries.runs_by_id, run_ids=ids), store)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"run {missing[0]!r} not found{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}"
                       "; see the runs table")
    runs = [found[i] for i in ids]
    at = {run_id: i for i, run_id in enumerate(ids)}
    n = len(ids)

    def column() -> list[Any]:
        return [None] * n

    params: dict[str, list[Any]] = {}
    for p in _rows(partial(queries.params_of, run_ids=ids), store):
        params.setdefault(p["key"], column())[at[p["run_id"]]] = _json_value(p["value"])
    tags: dict[str, list[Any]] = {}
    for t in _rows(partial(queries.tags_of, run_ids=ids), store):
        tags.setdefault(t["key"], column())[at[t["run_id"]]] = t["value"]
    metrics: dict[str, dict[str, list[Any]]] = {}

    def metric(name: str) -> dict[str, list[Any]]:
        if name not in metrics:
            metrics[name] = {"cv": column(), "std": column(), "holdout": column(), "folds": column()}
        return metrics[name]

    for m in _rows(partial(queries.metrics_of, run_ids=ids), store):
        cell = metric(m["name"])
        cell["cv" if m["stage"] == "cv" else "holdout"][at[m["run_id"]]] = _clean(m["value"])
        if m["stage"] == "cv":
            cell["std"][at[m["run_id"]]] = _clean(m["std"])
    for f in _rows(partial(queries.fold_metrics_of, run_ids=ids), store):
        folds = metric(f["name"])["folds"]
        i = at[f["run_id"]]
        folds[i] = (folds[i] or []) + [_clean(f["value"])]

    def differs(values: list[Any]) -> bool:
        # (type, value): 1, 1.0 and True are different settings
        seen = {(type(v).__name__, v if isinstance(v, str | int | float | bool) or v is None
                 else json.dumps(v, default=str, sort_keys=True)) for v in values}
        return len(seen) > 1

    for r in runs:
        r["primary_value"] = _clean(r["primary_value"])
    return {"ids": ids, "runs": runs, "params": dict(sorted(params.items())), "tags": dict(sorted(tags.items())),
            "metrics": dict(sorted(metrics.items())),
            "differing_params": [k for k, v in sorted(params.items()) if differs(v)],
            "differing_tags": [k for k, v in sorted(tags.items()) if differs(v)]}


def _artifact_json(run: dict, name: str) -> Any:
    found = next((a for a in run["artifacts"] if a["name"] == name and not a.get("pruned_at")), None)
    if found is None:
        return None
    try:
        return json.loads(art.read_verified(found["path"], found["sha256"]))
    except (OSError, ValueError, MlplatError) as exc:
        return {"error": f"{name} could not be read: {str(exc).splitlines()[0][:200]}"}


def _profile_rows(profile: Any) -> list[dict[str, Any]]:
    if not isinstance(profile, dict) or "features" not in profile:
        return []
    rows = []
    for name, f in (profile.get("features") or {}).items():
        rows.append({"feature": name, "kind": f.get("kind"), "n": f.get("n"), "null_share": f.get("null_share"),
                     "mean": f.get("mean"), "std": f.get("std"), "min": f.get("min"), "max": f.get("max"),
                     "categories": len(f.get("counts") or {}) if f.get("kind") == "categorical" else None,
                     "error": f.get("error")})
    return rows


def run_details(ref: str, *, store) -> dict[str, Any]:
    """Everything about one run: the stored run, its audit entries, importances and data profile."""
    run = show_run(ref, store=store)
    features = _artifact_json(run, "features.json")
    importances = (features or {}).get("importances") if isinstance(features, dict) else None
    profile = _artifact_json(run, "profile.json")
    return {"run": run, "audit": audit_log(object_id=run["id"], limit=200, store=store),
            "importances": [{"feature": k, "importance": v} for k, v in list((importances or {}).items())[:50]],
            "profile": {"n_rows": profile.get("n_rows") if isinstance(profile, dict) else None,
                        "features": _profile_rows(profile),
                        "error": profile.get("error") if isinstance(profile, dict) else None},
            "rerun": f"mlplat runs rerun {run['id']}"}


def sweep_view(ref: str, *, store) -> dict[str, Any]:
    """One sweep: its row, every trial with its searched values, direction and importances."""
    data = sweep_data(ref, store=store)
    counts: dict[str, int] = {}
    for t in data["trials"]:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
        t["primary_value"] = _clean(t["primary_value"])
    data["counts"] = counts
    return data


def model_view(name: str, *, at: float | None = None, store) -> dict[str, Any]:
    """A registered model: versions, aliases and their history, its approval requests, and
    with ``at`` (epoch seconds) which version each alias served then."""
    model = show_model(name, store=store)
    requests = approvals.list_requests(store, name=name, limit=50)
    served_at = None
    if at is not None:
        with store.read() as conn:
            served_at = {a: aliases.at(conn, name, a, at) for a in sorted({h["alias"] for h in model["alias_history"]})}
    return {**model, "requests": requests, "at": at, "served_at": served_at}


def monitoring_overview(*, limit: int = 50, store) -> list[dict[str, Any]]:
    """Per registered model, its latest monitoring checks (newest first)."""
    return [{"model": m["name"], "aliases": m["aliases"], "checks": monitor_history(m["name"], limit=limit,
                                                                                     store=store)}
            for m in list_models(store=store)]


def monitor_check(check_id: int, *, store) -> dict[str, Any]:
    with store.read() as conn:
        row = conn.execute(sa.select(monitor_checks).where(monitor_checks.c.id == int(check_id))).first()
    if row is None:
        raise NotFound(f"monitoring check {check_id} not found; see the monitoring page")
    out = dict(row._mapping)
    out["features"] = json.loads(out["features"] or "{}")
    out["summary"] = json.loads(out["summary"] or "{}")
    return out


def audit_view(*, object_id: str | None = None, object_type: str | None = None, action: str | None = None,
               limit: int = 100, verify: bool = False, store) -> dict[str, Any]:
    """Entries newest first; with ``verify`` also the hash chain's check (it reads every entry)."""
    if not 1 <= limit <= 1000:
        raise ConfigError(f"limit must be between 1 and 1000 (got {limit})")
    entries = audit_log(object_id=object_id or None, object_type=object_type or None, action=action or None,
                        limit=limit, store=store)
    for e in entries:
        e["payload"] = _json_value(e["payload"])
    return {"entries": entries, "verify": audit_verify(store=store) if verify else None}


def approval_requests(*, status: str | None = None, name: str | None = None, limit: int = 100,
                      store) -> list[dict[str, Any]]:
    """Approval requests, newest first, as they stand (read-only: a request past its expiry is
    left for the next decision or `approvals list` to mark expired)."""
    return approvals.list_requests(store, status=status or None, name=name or None, limit=limit)


__all__ = ["approval_requests", "runs_table", "run_columns", "compare_runs", "run_details", "sweep_view", "model_view",
           "monitoring_overview", "monitor_check", "audit_view", "parse_columns"]
