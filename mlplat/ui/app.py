"""The web UI's FastAPI app: server-rendered pages, a versioned JSON API, the shipped assets.

Like the prediction service it only formats what ``mlplat.ops`` returns. Errors become
pages (or JSON under /api): an unknown id is a 404 with a way back, a filter that cannot be
applied a 400 that names it, an unreachable store a 503 saying so while the server stays
up (the store is opened per request until it answers). Every response carries a
Content-Security-Policy that allows only this origin, so a page makes no request to any
other host, and a Server-Timing header with the time the server spent on it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException

from mlplat import ops
from mlplat.errors import MlplatError, NotFound, PermissionDenied, RegistryError, StoreError
from mlplat.reports import html
from mlplat.tracking.filters import FilterError
from mlplat.ui.security import Guard

log = logging.getLogger("mlplat.ui")
HERE = Path(__file__).resolve().parent
API = "/api/v1"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
NAV = (("runs", "/runs", "Runs"), ("sweeps", "/sweeps", "Sweeps"), ("models", "/models", "Models"),
       ("monitoring", "/monitoring", "Monitoring"), ("audit", "/audit", "Audit"))


def fmt_time(ts: Any) -> str:
    if ts is None:
        return ""
    return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_num(value: Any, digits: int = 4) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value if isinstance(value, str) else json.dumps(value, default=str)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def fmt_secs(value: Any) -> str:
    if value is None:
        return ""
    v = float(value)
    return f"{v:.1f} s" if v < 120 else f"{v / 60:.1f} min" if v < 7200 else f"{v / 3600:.1f} h"


def clean(obj: Any) -> Any:
    """JSON-safe: NaN/inf become null (JSON has no NaN), other odd values their text."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    if obj is None or isinstance(obj, str | int | bool):
        return obj
    return str(obj)


def to_json(obj: Any) -> str:
    try:  # what ops returns is JSON-safe already; walking it first would double the cost
        return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str)
    except ValueError:  # a NaN or infinity somewhere: null it
        return json.dumps(clean(obj), separators=(",", ":"), default=str)


def js_data(obj: Any) -> Markup:
    """JSON to embed in <script type="application/json">: no "<", ">", "&" or "'" can end the element."""
    text = to_json(obj)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(ch, esc)
    return Markup(text)


@dataclass
class Context:
    """What every route needs: where the store is, the identity guard, the registry policy."""

    url: str
    artifacts: str
    guard: Guard
    policy: dict[str, Any] | None = None
    page_size: int = 50
    refresh_s: float = 2.0
    templates: Any = field(default=None)

    def store(self):
        # Store.open caches a store once it answers, and is retried on the next request until
        # then; a read-only door never creates one (a missing SQLite file is NoStore: a 503 page)
        return ops.open_store({"url": self.url, "artifacts": self.artifacts}, url=self.url, create=False)

    def identity(self, request: Request) -> str | None:
        return self.guard.identity(request.headers, request.client.host if request.client else None)

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        who = self.identity(request)
        values = {"active": "", "title": "mlplat", **context}
        page = self.templates.get_template(template).render(
            nav=NAV, identity=who, csrf=self.guard.token(who) if who else "", request=request,
            store_url=self.safe_url, generated="", **values)
        return HTMLResponse(page, status_code=status)

    @property
    def safe_url(self) -> str:
        import sqlalchemy as sa

        try:
            return sa.make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # a malformed URL is reported by Store.open; never echo a password
            return "(malformed store URL)"


def _status_of(exc: Exception) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, StoreError):
        return 503
    if isinstance(exc, RegistryError):
        return 409
    return 400


def create_app(url: str, artifacts: str, *, auth_header: str | None = None, trusted_proxies: list[str] | None = None,
               policy: dict[str, Any] | None = None, page_size: int = 50, refresh_s: float = 2.0) -> FastAPI:
    """The UI over the store at ``url``; approvals only with ``auth_header`` from ``trusted_proxies``."""
    from mlplat.ui import api, pages

    ctx = Context(url=url, artifacts=artifacts, guard=Guard(auth_header, trusted_proxies or []), policy=policy,
                  page_size=page_size, refresh_s=refresh_s)
    env = html.add_templates(HERE / "templates")
    env.filters.update(time=fmt_time, num=fmt_num, secs=fmt_secs, tojson_safe=to_json, jsdata=js_data)
    ctx.templates = env
    app = FastAPI(title="mlplat web UI API", version="1", docs_url=f"{API}/docs", redoc_url=None,
                  openapi_url=f"{API}/openapi.json",
                  description="Read-only JSON behind the mlplat web UI's pages: runs (filtered, sorted, paged), "
                              "comparisons, sweeps, models, monitoring checks and the audit trail.")
    app.state.ctx = ctx
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.middleware("http")
    async def timing(request: Request, call_next):
        t0 = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - t0) * 1000:.2f}"
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith(API)

    def error_response(request: Request, status: int, message: str, title: str | None = None) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": message}, status_code=status)
        return ctx.render(request, "error.html", status=status, code=status, message=message,
                          title=title or {404: "Not found", 403: "Not allowed", 503: "Store unreachable"}.get(
                              status, "Cannot show this"))

    @app.exception_handler(MlplatError)
    async def mlplat_error(request: Request, exc: MlplatError) -> Response:
        status = _status_of(exc)
        if status == 503:
            log.warning("store unreachable: %s", exc)
        return error_response(request, status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_params(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', [])[1:]) or 'request'}: {e.get('msg')}"
                             for e in exc.errors()[:5])
        return error_response(request, 400, f"malformed request: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if exc.status_code != 404 else f"no page at {request.url.path}"
        return error_response(request, exc.status_code, str(message))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(request, 500, f"internal error ({type(exc).__name__}); see the server log",
                              title="Internal error")

    app.include_router(api.router, prefix=API)
    app.include_router(pages.router)
    return app


__all__ = ["create_app", "FilterError"]
