"""The JSON API under /api/v1: what the pages show, for scripts and notebooks too (read-only).

Filters (``f``, repeatable), ``sort``, ``order`` and ``cols`` take the same text as the runs
page (see mlplat.tracking.filters); errors are ``{"detail": "..."}`` with 400 (a filter,
naming it), 404 (an unknown id), 503 (the store is unreachable).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from mlplat import ops

router = APIRouter()
Filters = Annotated[list[str] | None, Query(description="filters such as dataset=wage, param.max_depth>=6, "
                                                        "tag.team=fraud, metric.roc_auc>=0.9, started>=7d")]
Sort = Annotated[str | None, Query(description="started (default), duration, metric.<name>, holdout.<name>, "
                                               "param.<key> or tag.<key>")]
Order = Annotated[str | None, Query(description="asc or desc (a metric defaults to best first)")]
Cols = Annotated[str | None, Query(description="extra columns, comma separated: param.C,metric.accuracy,tag.team")]


def _json(data: Any) -> Response:
    from mlplat.ui.app import to_json

    return Response(to_json(data), media_type="application/json")


def split(text: str | list[str] | None) -> list[str]:
    items = text if isinstance(text, list) else [text or ""]
    return [c.strip() for item in items for c in item.split(",") if c.strip()]


def ctx_of(request: Request):
    return request.app.state.ctx


@router.get("/runs", summary="one page of runs, filtered and sorted in the database")
def runs(request: Request, f: Filters = None, sort: Sort = None, order: Order = None, cols: Cols = None,
         page: int = 1, page_size: int = 50) -> Response:
    ctx = ctx_of(request)
    return _json(ops.runs_table(filters=f or [], sort=sort, order=order, columns=split(cols), page=page,
                                page_size=page_size, store=ctx.store()))


@router.get("/runs/columns", summary="every param key, tag key and metric name in the store")
def columns(request: Request) -> Response:
    return _json(ops.run_columns(store=ctx_of(request).store()))


@router.get("/runs/{run_id}", summary="one run: lineage, metrics, folds, artifacts, profile, audit entries")
def run(request: Request, run_id: str) -> Response:
    return _json(ops.run_details(run_id, store=ctx_of(request).store()))


@router.get("/compare", summary="2 to 500 runs side by side (ids comma separated or repeated)")
def compare(request: Request, ids: Annotated[list[str], Query()]) -> Response:
    return _json(ops.compare_runs(split(ids), store=ctx_of(request).store()))


@router.get("/sweeps", summary="sweeps, newest first")
def sweeps(request: Request, page: int = 1, page_size: int = 50) -> Response:
    return _json(ops.list_sweeps(page=page, page_size=page_size, store=ctx_of(request).store()))


@router.get("/sweeps/{sweep_id}", summary="one sweep: trials with their searched values, importances")
def sweep(request: Request, sweep_id: str) -> Response:
    return _json(ops.sweep_view(sweep_id, store=ctx_of(request).store()))


@router.get("/models", summary="registered models and their aliases")
def models(request: Request) -> Response:
    return _json(ops.list_models(store=ctx_of(request).store()))


@router.get("/models/{name}", summary="a model's versions, aliases, alias history and approval requests")
def model(request: Request, name: str, at: float | None = None) -> Response:
    return _json(ops.model_view(name, at=at, store=ctx_of(request).store()))


@router.get("/approvals", summary="approval requests (status: pending, approved, rejected, expired, superseded)")
def approvals(request: Request, status: str | None = None) -> Response:
    return _json(ops.approval_requests(status=status, store=ctx_of(request).store()))


@router.get("/monitoring", summary="per model, its latest drift/performance/latency checks")
def monitoring(request: Request) -> Response:
    return _json(ops.monitoring_overview(store=ctx_of(request).store()))


@router.get("/audit", summary="audit entries, newest first, filtered; verify=true walks the hash chain")
def audit(request: Request, object_id: str | None = None, object_type: str | None = None,
          action: str | None = None, limit: int = 100, verify: bool = False) -> Response:
    return _json(ops.audit_view(object_id=object_id, object_type=object_type, action=action, limit=limit,
                                verify=verify, store=ctx_of(request).store()))
