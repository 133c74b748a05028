"""Screenshots of every page of the web UI, for the docs.

    python scripts/ui_screenshots.py --out shots                  # the project's store (tracking.url)
    python scripts/ui_screenshots.py --store sqlite:///runs/mlplat.db --out shots --user alice

Serves the UI over the store on 127.0.0.1 (in this process), opens each page in Debian's
Chromium through Playwright and writes ``<out>/<page>.png``: the runs table (sorted by the
primary metric, with a param and a metric column), one run, a comparison of the best five, the
sweeps, the newest sweep, the models, the first model, monitoring and the audit trail. With
``--user`` the pages are seen as that user behind an authenticating proxy (approval buttons
shown); nothing is clicked, so the store is only read.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
HEADER = "X-Forwarded-User"


def _serve(app):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline:
            raise SystemExit("the UI did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def pages(store) -> dict[str, str]:
    """page name -> path, chosen from what the store holds."""
    from mlplat import ops

    out = {}
    newest = ops.runs_table(page_size=1, store=store)["rows"]
    metric = (newest[0]["primary_metric"] if newest else None) or "roc_auc"
    best = ops.runs_table(sort=f"metric.{metric}", page_size=5, filters=["status=done"], store=store)["rows"]
    params = ops.run_columns(store=store)["params"]
    cols = ",".join([*(f"param.{p}" for p in params[:1]), f"metric.{metric}"])
    out["runs"] = "/runs?" + urlencode({"sort": f"metric.{metric}", "cols": cols})
    if best:
        out["run"] = f"/runs/{best[0]['id']}"
    if len(best) >= 2:
        out["compare"] = "/compare?" + urlencode([("ids", r["id"]) for r in best])
    out["sweeps"] = "/sweeps"
    sweeps = ops.list_sweeps(page_size=1, store=store)
    if sweeps:
        out["sweep"] = f"/sweeps/{sweeps[0]['id']}"
    out["models"] = "/models"
    models = ops.list_models(store=store)
    if models:
        out["model"] = f"/models/{models[0]['name']}"
    out["monitoring"] = "/monitoring"
    out["audit"] = "/audit?verify=true"
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", help="store URL (default: tracking.url of the config, or MLPLAT_STORE_URL)")
    ap.add_argument("--out", required=True, help="directory for the PNG files")
    ap.add_argument("--user", help="see the pages as this user behind an auth proxy (shows the approval buttons)")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=800)
    ap.add_argument("--full-page", action="store_true", help="the whole page, not the first screen")
    ap.add_argument("--colors", type=int, help="reduce each PNG to this many colours (smaller files for the docs)")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    from mlplat import ops
    from mlplat.errors import MlplatError
    from mlplat.ui.server import build_app

    if not Path(CHROMIUM).is_file():
        print(f"error: {CHROMIUM} is missing: apt-get install -y chromium", file=sys.stderr)
        return 1
    try:
        plain = ops.compose_plain([])
        store = ops.open_store(plain["tracking"], url=args.store)
        app = build_app(url=store.url, auth_header=HEADER if args.user else None, plain=plain,
                        trusted_proxies=["127.0.0.1"])
        wanted = pages(store)
    except MlplatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    server, thread, base = _serve(app)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            ctx = browser.new_context(viewport={"width": args.width, "height": args.height},
                                      extra_http_headers={HEADER: args.user} if args.user else {})
            page = ctx.new_page()
            for name, path in wanted.items():
                page.goto(base + path)
                page.wait_for_selector("body[data-ready='1']", timeout=30000)
                target = out / f"{name}.png"
                page.screenshot(path=str(target), full_page=args.full_page)
                if args.colors:
                    from PIL import Image  # Pillow comes with matplotlib

                    with Image.open(target) as img:
                        img.convert("RGB").quantize(colors=args.colors).save(target, optimize=True)
                print(target)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
