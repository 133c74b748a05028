"""The UI's pages: Jinja2 templates over what mlplat.ops returns, plus the three decisions.

Approve, reject and rollback are POST forms that exist only for a request carrying an
identity (see mlplat.ui.security); each must carry the CSRF token of that identity, and the
decision goes through the same ops functions as the CLI and the bot, so roles, four-eyes and
expiry hold whatever door is used.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mlplat import ops
from mlplat.errors import MlplatError, NotFound
from mlplat.tracking.filters import FilterError
from mlplat.ui.api import split

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 16 * 1024


def _ctx(request: Request):
    return request.app.state.ctx


def _keep(request: Request, **changes) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    items = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    items += [(k, v) for k, v in changes.items() if v is not None]
    return f"{request.url.path}?{urlencode(items)}"


@router.get("/")
def home() -> Response:
    return RedirectResponse("/runs", status_code=307)


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request, f: Annotated[list[str] | None, Query()] = None, sort: str | None = None,
              order: str | None = None, cols: str | None = None, page: int = 1,
              page_size: int | None = None) -> Response:
    ctx = _ctx(request)
    store = ctx.store()
    filters = [x for x in (f or []) if x.strip()]
    columns = split(cols)
    size = page_size or ctx.page_size
    error, table, status = None, None, 200
    try:
        table = ops.runs_table(filters=filters, sort=sort, order=order, columns=columns, page=page,
                               page_size=size, store=store)
    except FilterError as exc:
        error, status = exc, 400
    available = ops.run_columns(store=store)

    def sort_link(key: str) -> str:
        current = table["sort"] if table else None
        flip = "asc" if current == key and table["order"] == "desc" else "desc"
        return _keep(request, sort=key, order=flip, page=None)

    return ctx.render(request, "runs.html", status=status, title="Runs", active="runs", table=table,
                      error=error, filters=filters, sort=sort or "started", order=order or "", cols=",".join(columns),
                      columns=columns, page_size=size, available=available, sort_link=sort_link,
                      prev_url=_keep(request, page=str(page - 1)) if page > 1 else None,
                      next_url=_keep(request, page=str(page + 1)) if table and table["has_next"] else None)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> Response:
    ctx = _ctx(request)
    data = ops.run_details(run_id, store=ctx.store())
    run = data["run"]
    return ctx.render(request, "run.html", title=f"Run {run['id'][:12]}", active="runs", d=data, run=run,
                      config_text=json.dumps(run.get("config") or {}, indent=2, default=str))


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, ids: Annotated[list[str] | None, Query()] = None) -> Response:
    ctx = _ctx(request)
    data = ops.compare_runs(split(ids or []), store=ctx.store())
    return ctx.render(request, "compare.html", title=f"Compare {len(data['ids'])} runs", active="runs", d=data)


@router.get("/sweeps", response_class=HTMLResponse)
def sweeps_page(request: Request, page: int = 1) -> Response:
    ctx = _ctx(request)
    rows = ops.list_sweeps(page=page, page_size=50, store=ctx.store())
    return ctx.render(request, "sweeps.html", title="Sweeps", active="sweeps", rows=rows, page=page,
                      prev_url=_keep(request, page=str(page - 1)) if page > 1 else None,
                      next_url=_keep(request, page=str(page + 1)) if len(rows) == 50 else None)


@router.get("/sweeps/{sweep_id}", response_class=HTMLResponse)
def sweep_page(request: Request, sweep_id: str) -> Response:
    ctx = _ctx(request)
    data = ops.sweep_view(sweep_id, store=ctx.store())
    return ctx.render(request, "sweep.html", title=f"Sweep {data['sweep']['id'][:12]}", active="sweeps", d=data,
                      refresh_s=ctx.refresh_s)


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request) -> Response:
    ctx = _ctx(request)
    store = ctx.store()
    return ctx.render(request, "models.html", title="Models", active="models", models=ops.list_models(store=store),
                      pending=ops.approval_requests(status="pending", store=store), now=_now())


def _now() -> float:
    return datetime.now(UTC).timestamp()


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(request: Request, name: str, at: str | None = None, msg: str | None = None) -> Response:
    ctx = _ctx(request)
    when = None
    if at:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise FilterError(f"at={at}", "not a date and time; use e.g. 2026-11-26T10:00") from None
        when = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    data = ops.model_view(name, at=when, store=ctx.store())
    return ctx.render(request, "model.html", title=f"Model {name}", active="models", m=data, at=at or "",
                      msg=msg, now=_now())


@router.get("/models/{name}/{version}/card", response_class=HTMLResponse)
def card_page(request: Request, name: str, version: int) -> Response:
    ctx = _ctx(request)
    card = ops.model_card(f"{name}:{version}", fmt="html", store=ctx.store())
    return HTMLResponse(card["content"])


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(request: Request) -> Response:
    ctx = _ctx(request)
    return ctx.render(request, "monitoring.html", title="Monitoring", active="monitoring",
                      models=ops.monitoring_overview(store=ctx.store()))


@router.get("/monitoring/checks/{check_id}", response_class=HTMLResponse)
def check_page(request: Request, check_id: int) -> Response:
    ctx = _ctx(request)
    check = ops.monitor_check(check_id, store=ctx.store())
    report = check.get("report_html")
    return ctx.render(request, "check.html", title=f"Check {check_id}", active="monitoring", c=check,
                      has_report=bool(report) and Path(report).is_file())


@router.get("/monitoring/checks/{check_id}/report", response_class=HTMLResponse)
def check_report(request: Request, check_id: int) -> Response:
    ctx = _ctx(request)
    check = ops.monitor_check(check_id, store=ctx.store())
    path = check.get("report_html")
    if not path or not Path(path).is_file():
        raise NotFound(f"check {check_id} has no HTML report on this machine ({path or 'none written'})")
    return HTMLResponse(Path(path).read_text(encoding="utf-8"))


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, object_id: str | None = None, object_type: str | None = None,
               action: str | None = None, limit: int = 100, verify: bool = False) -> Response:
    ctx = _ctx(request)
    data = ops.audit_view(object_id=object_id, object_type=object_type, action=action, limit=limit, verify=verify,
                          store=ctx.store())
    return ctx.render(request, "audit.html", title="Audit", active="audit", d=data, object_id=object_id or "",
                      object_type=object_type or "", action=action or "", limit=limit,
                      verify_url=_keep(request, verify="true"))


# -- decisions (POST, identity + CSRF token) -------------------------------------------------------
async def _form(request: Request) -> dict[str, str]:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FilterError("form", f"larger than {MAX_FORM_BYTES} bytes")
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


async def _decide(request: Request) -> tuple[str, dict[str, str]] | Response:
    """(identity, form) for an allowed decision, else the refusal page (403)."""
    ctx = _ctx(request)
    who = ctx.identity(request)
    if who is None:
        return ctx.render(request, "error.html", status=403, code=403, title="Not allowed",
                          message="this UI is read-only: decisions need an identity from the authenticating "
                                  "proxy (mlplat ui --auth-header HEADER, from an address in ui.trusted_proxies)")
    form = await _form(request)
    if not ctx.guard.check_token(who, form.get("csrf")):
        return ctx.render(request, "error.html", status=403, code=403, title="Not allowed",
                          message="the form's CSRF token is missing or not yours; reload the page and try again")
    return who, form


def _done(name: str, message: str) -> Response:
    return RedirectResponse(f"/models/{quote(name, safe='')}?msg={quote(message)}", status_code=303)


@router.post("/approvals/{request_id}/approve")
async def approve(request: Request, request_id: str) -> Response:
    allowed = await _decide(request)
    if isinstance(allowed, Response):
        return allowed
    who, form = allowed
    ctx = _ctx(request)
    r = ops.approve(request_id, actor=who, source="ui", comment=form.get("comment") or None, store=ctx.store(),
                    policy=ctx.policy)
    state = f"{r['name']}@{r['target']} now points at version {r['version']}" if r["status"] == "approved" \
        else f"approval recorded ({r['status']})"
    return _done(r["name"], f"{who} approved request {r['id']}: {state}")


@router.post("/approvals/{request_id}/reject")
async def reject(request: Request, request_id: str) -> Response:
    allowed = await _decide(request)
    if isinstance(allowed, Response):
        return allowed
    who, form = allowed
    ctx = _ctx(request)
    r = ops.reject(request_id, actor=who, source="ui", reason=form.get("reason") or "", store=ctx.store(),
                   policy=ctx.policy)
    return _done(r["name"], f"{who} rejected request {r['id']}")


@router.post("/models/{name}/rollback")
async def rollback(request: Request, name: str) -> Response:
    allowed = await _decide(request)
    if isinstance(allowed, Response):
        return allowed
    who, form = allowed
    ctx = _ctx(request)
    r = ops.rollback(name, actor=who, source="ui", alias=form.get("alias") or "production", store=ctx.store(),
                     policy=ctx.policy)
    return _done(name, f"{who} rolled {name}@{r['alias']} back from version {r['from_version']} "
                       f"to {r['to_version']}")


__all__ = ["router", "MlplatError"]
