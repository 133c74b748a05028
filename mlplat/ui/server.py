"""Build the UI from the config and run it: what `mlplat ui` and the screenshot script start.

The UI is a front door, so building it lives here rather than in mlplat.ops (ops never
imports a front door); the app itself only calls ops.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from mlplat import ops
from mlplat.errors import ConfigError
from mlplat.ops.browse import MAX_PAGE_SIZE
from mlplat.ui.app import create_app


def settings(ui: dict | None, *, auth_header: str | None = None, host: str | None = None,
             port: int | None = None) -> dict[str, Any]:
    """ui.* with the command line's values over it, checked (one clear error each)."""
    out = dict(ui or {})
    if auth_header is not None:
        out["auth_header"] = auth_header
    header = out.get("auth_header")
    if header is not None and not str(header).strip().replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"--auth-header {header!r} is not a header name: use letters, digits and '-', "
                          "e.g. X-Forwarded-User")
    for proxy in out.get("trusted_proxies") or []:
        try:
            ipaddress.ip_network(str(proxy), strict=False)
        except ValueError:
            raise ConfigError(f"ui.trusted_proxies entry {proxy!r} is not an IP address or network, e.g. "
                              "127.0.0.1 or 10.0.0.0/8") from None
    out["host"] = host or out.get("host") or "127.0.0.1"
    out["port"] = int(port if port is not None else out.get("port") or 5100)
    if not 0 <= out["port"] <= 65535:
        raise ConfigError(f"--port {out['port']} is not a TCP port: use 0-65535")
    if not 1 <= int(out.get("page_size") or 50) <= MAX_PAGE_SIZE:
        raise ConfigError(f"ui.page_size must be between 1 and {MAX_PAGE_SIZE} (got {out.get('page_size')})")
    return out


def build_app(*, url: str | None = None, auth_header: str | None = None, plain: dict | None = None,
              trusted_proxies: list[str] | None = None):
    """The UI's FastAPI app over the store at ``url`` (else tracking.url), from the composed config.

    The store is not opened here: the UI starts, and says so on every page while the store
    cannot be reached.
    """
    plain = plain or ops.compose_plain([])
    s = settings(plain["ui"], auth_header=auth_header)
    return create_app(url or str(plain["tracking"]["url"]), str(plain["tracking"]["artifacts"]),
                      auth_header=s.get("auth_header"),
                      trusted_proxies=list(trusted_proxies if trusted_proxies is not None
                                           else s.get("trusted_proxies") or []),
                      policy=plain["registry"], page_size=int(s.get("page_size") or 50),
                      refresh_s=float(s.get("refresh_s") or 2.0))


def serve(*, host: str | None = None, port: int | None = None, auth_header: str | None = None,
          url: str | None = None, on_start: Callable[[str, int, dict], None] | None = None) -> None:
    """Serve the UI until interrupted (blocks); ``on_start(host, port, settings)`` runs first."""
    import uvicorn  # the server only when serving (tests build the app without it)

    plain = ops.compose_plain([])
    s = settings(plain["ui"], auth_header=auth_header, host=host, port=port)
    app = build_app(url=url, auth_header=auth_header, plain=plain)
    if on_start is not None:
        on_start(s["host"], s["port"], s)
    uvicorn.run(app, host=s["host"], port=s["port"], log_level="warning", access_log=False)
