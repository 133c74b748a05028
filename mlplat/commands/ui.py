"""`mlplat ui`: the web UI over the project's store."""

from __future__ import annotations

from mlplat.commands.common import add_store
from mlplat.extras import require


def register(sub) -> None:
    p = sub.add_parser("ui", help="browse runs, compare, watch sweeps and decide approvals in a browser")
    p.add_argument("--host", help="default: ui.host (127.0.0.1)")
    p.add_argument("--port", type=int, help="default: ui.port (5100)")
    p.add_argument("--auth-header", metavar="HEADER",
                   help="header an authenticating proxy sets to the user (e.g. X-Forwarded-User); trusted only "
                        "from ui.trusted_proxies. Without it the UI is read-only")
    add_store(p)
    p.set_defaults(handler=cmd_ui)


def cmd_ui(args) -> int:
    require("ui", "mlplat ui")
    from mlplat.ui.server import serve  # FastAPI/uvicorn: the `ui` extra, checked just above

    def started(host: str, port: int, settings: dict) -> None:
        mode = (f"approvals allowed for users named by {settings['auth_header']} from "
                f"{', '.join(settings.get('trusted_proxies') or [])}") if settings.get("auth_header") else "read-only"
        print(f"mlplat ui on http://{host}:{port} ({mode}); Ctrl-C stops", flush=True)

    serve(host=args.host, port=args.port, auth_header=args.auth_header, url=args.store, on_start=started)
    return 0
