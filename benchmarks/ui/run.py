"""The web UI at 100,000 runs: server time per page, the runs page in a browser, MLflow's UI side by side.

    python benchmarks/ui/run.py                                   # mlplat at 100,000 runs
    python benchmarks/ui/run.py --mlflow                          # + MLflow's UI at 10,000 runs (own venv)

The stores hold the store_scale population (benchmarks/store_scale/run.py: 4 metrics, 5
params, 3 tags per run, 50 sweeps, 5 datasets, 5 models), populated once through the store's
API and reused. `mlplat ui` runs as a separate process; each page is fetched over HTTP and its
server time read from the Server-Timing header the app sets (handler, queries and rendering;
not the network). Figures are medians of --repeat fetches after one warm-up, with the load
average next to them (the machine is shared).

In the browser (Playwright driving /usr/bin/chromium): the time from navigation start until
the runs page is interactive (its script has run: body[data-ready]), median of --repeat.

With --mlflow: MLflow (``--mlflow-version``, 3.17.2) is installed into its own venv under the
work directory (never a dependency of mlplat), the same runs at --mlflow-runs are written to
its SQLite store, and `mlflow ui` and `mlplat ui` over the same runs are timed the same way: the
runs page (sorted by roc_auc, filtered to one dataset and model) and a 100-run comparison, as
the time until the rows (or the compared params) are on screen, and the data request each page
makes, timed from the client. The last line is the ratio MLflow / mlplat for the runs page.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from population import pg_store, sqlite_store  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TARGETS = {"runs page, sorted by metric, two filters": 50, "param-sorted page": 100,
           "compare view, 500 runs": 300}


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def start_mlplat_ui(url: str, artifacts: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    mlplat = Path(sys.executable).with_name("mlplat")
    env = {**os.environ, "MLPLAT_STORE_URL": url, "MLPLAT_ARTIFACTS": artifacts}
    proc = subprocess.Popen([str(mlplat), "ui", "--port", str(port)], env=env, cwd=tempfile.gettempdir(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_up(base + "/api/v1/runs?page_size=1", proc)
    return proc, base


def server_ms(client: httpx.Client, url: str, repeat: int) -> tuple[float, float, int]:
    """(median server ms, median client wall ms, bytes) of GET url after one warm-up."""
    client.get(url).raise_for_status()
    server, wall = [], []
    size = 0
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(url)
        wall.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        server.append(float(re.search(r"dur=([0-9.]+)", r.headers["server-timing"]).group(1)))
        size = len(r.content)
    return statistics.median(server), statistics.median(wall), size


def mlplat_pages(base: str, repeat: int) -> dict[str, tuple[float, float, int]]:
    with httpx.Client(base_url=base, timeout=60) as c:
        ids = [r["id"] for r in c.get("/api/v1/runs", params={"page_size": 500, "f": "dataset=wage"}).json()["rows"]]
        compare = "/compare?" + urllib.parse.urlencode([("ids", i) for i in ids])
        pages = {
            "runs page, sorted by metric, two filters":
                "/runs?sort=metric.roc_auc&f=dataset%3Dwage&f=model%3Dxgboost&cols=param.max_depth,metric.accuracy",
            "param-sorted page": "/runs?sort=param.max_depth&order=desc&cols=param.max_depth,param.C",
            "param-sorted page, one filter (info)": "/runs?sort=param.learning_rate&f=tag.team%3Dfraud",
            "runs page, newest first (info)": "/runs",
            "runs page 200 (info)": "/runs?page=200",
            "compare view, 500 runs": compare,
            "a sweep's page, 2,000 trials (info)": "/sweeps/sweep07",
        }
        return {name: server_ms(c, path, repeat) for name, path in pages.items()}


def report_pages(label: str, base: str, repeat: int) -> None:
    print(f"\n{label}: server time (Server-Timing), median of {repeat} after a warm-up:")
    for name, (server, wall, size) in mlplat_pages(base, repeat).items():
        target = TARGETS.get(name)
        verdict = "" if target is None else "ok" if server <= target else f"OVER {target} ms"
        print(f"  {name:<40} {server:7.1f} ms server, {wall:7.1f} ms client, {size / 1024:6.0f} KiB  "
              f"{verdict:<12} (load average {load()})")


def browser_times(urls: dict[str, tuple[str, str]], repeat: int) -> dict[str, float]:
    """Median ms from navigation start until the selector shows, per (url, selector)."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, (url, selector) in urls.items():
            times = []
            for i in range(repeat + 1):
                ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                page = ctx.new_page()
                t = time.perf_counter()
                page.goto(url, wait_until="commit")
                page.wait_for_selector(selector, timeout=120_000)
                if i:  # the first load warms the server's and the browser's caches
                    times.append((time.perf_counter() - t) * 1000)
                ctx.close()
            out[name] = statistics.median(times)
        browser.close()
    return out


def mlflow_venv(workdir: Path, version: str) -> Path:
    venv = workdir / f"mlflow-{version}-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating MLflow {version}'s own venv in {venv} (a few minutes)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"mlflow=={version}", "pyarrow<26"], check=True)
    return python


def mlflow_side(args, workdir: Path, mlplat_base: str) -> None:
    sys.path.insert(0, str(HERE.parent / "store_scale"))
    from run import synthetic_runs  # noqa: E402 (benchmarks/store_scale/run.py)

    n = args.mlflow_runs
    python = Path(args.mlflow_python) if args.mlflow_python else mlflow_venv(workdir, args.mlflow_version)
    data_file = workdir / f"runs_{n}.json"
    if not data_file.exists():
        data_file.write_text(json.dumps(synthetic_runs(n)))
    print(f"\nwriting {n:,} runs to MLflow's SQLite store (reused when present)", flush=True)
    info = json.loads(subprocess.run([str(python), str(HERE / "mlflow_side.py"), str(data_file),
                                      str(workdir / f"mlflow_{n}")], check=True, capture_output=True,
                                     text=True).stdout.strip().splitlines()[-1])
    port = free_port()
    mlflow_bin = python.with_name("mlflow")
    proc = subprocess.Popen([str(mlflow_bin), "ui", "--backend-store-uri", f"sqlite:///{workdir}/mlflow_{n}/mlflow.db",
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base + "/health", proc, timeout=180)
        exp = info["experiment_id"]
        by_job = list(info["run_ids"].values())
        wage_xgb = [d for d in json.loads(data_file.read_text()) if d["dataset"] == "wage" and d["model"] == "xgboost"]
        best = max(wage_xgb, key=lambda d: d["metrics"]["roc_auc"])["id"]
        compare_ids = by_job[:100]
        mlplat_ids = list(info["run_ids"])[:100]
        flt = "tags.dataset = 'wage' and tags.model = 'xgboost'"
        mlflow_runs = (f"{base}/#/experiments/{exp}/runs?searchFilter={urllib.parse.quote(flt)}"
                       f"&orderByKey={urllib.parse.quote('metrics.`roc_auc`')}&orderByAsc=false")
        mlflow_compare = (f"{base}/#/compare-runs?runs={urllib.parse.quote(json.dumps(compare_ids))}"
                          f"&experiments={urllib.parse.quote(json.dumps([exp]))}")
        ours_runs = f"{mlplat_base}/runs?sort=metric.roc_auc&f=dataset%3Dwage&f=model%3Dxgboost"
        ours_compare = f"{mlplat_base}/compare?" + urllib.parse.urlencode([("ids", i) for i in mlplat_ids])
        shown = browser_times({
            "mlflow runs": (mlflow_runs, f"text={best}"),
            "mlplat runs": (ours_runs, f"#runs a:has-text('{best[:12]}')"),
            "mlflow compare": (mlflow_compare, "text=Show diff only"),  # its params table
            "mlplat compare": (ours_compare, "#params th:has-text('max_depth')"),
        }, args.repeat)
        with httpx.Client(timeout=120) as c:
            body = {"experiment_ids": [exp], "filter": flt, "order_by": ["metrics.`roc_auc` DESC"], "max_results": 100}

            def mlflow_search() -> None:
                c.post(f"{base}/ajax-api/2.0/mlflow/runs/search", json=body).raise_for_status()

            def median_wall(fn) -> float:
                fn()
                times = []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    fn()
                    times.append((time.perf_counter() - t) * 1000)
                return statistics.median(times)

            api_mlflow = median_wall(mlflow_search)
            api_ours = median_wall(lambda: c.get(f"{mlplat_base}/api/v1/runs", params={
                "sort": "metric.roc_auc", "f": ["dataset=wage", "model=xgboost"], "page_size": 100}).raise_for_status())
        print(f"\nside by side at {n:,} runs (MLflow {info['version']}, `mlflow ui`; load average {load()}), "
              f"median of {args.repeat}:")
        print(f"  runs page on screen (sorted by roc_auc, 2 filters)  MLflow {shown['mlflow runs']:8.0f} ms   "
              f"mlplat {shown['mlplat runs']:6.0f} ms")
        print(f"  100-run comparison on screen                       MLflow {shown['mlflow compare']:8.0f} ms   "
              f"mlplat {shown['mlplat compare']:6.0f} ms")
        print(f"  the runs page's data request (100 rows)            MLflow {api_mlflow:8.1f} ms   "
              f"mlplat {api_ours:6.1f} ms")
        print(f"ratio MLflow/mlplat, runs page on screen at {n:,} runs: "
              f"{shown['mlflow runs'] / shown['mlplat runs']:.1f}x")
        print(f"ratio MLflow/mlplat, 100-run comparison on screen at {n:,} runs: "
              f"{shown['mlflow compare'] / shown['mlplat compare']:.1f}x")
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "mlplat_ui_bench"))
    ap.add_argument("--pg", action="store_true", help="also time the pages on PostgreSQL at 127.0.0.1:5432")
    ap.add_argument("--mlflow", action="store_true", help="compare with `mlflow ui` (installed in its own venv)")
    ap.add_argument("--mlflow-python", help="python of an existing venv with mlflow (instead of creating one)")
    ap.add_argument("--mlflow-version", default="3.17.2")
    ap.add_argument("--mlflow-runs", type=int, default=10_000)
    args = ap.parse_args()
    workdir = Path(args.workdir)
    print(f"{os.cpu_count()} CPUs, load average {load()} at start (other work shares the machine)", flush=True)
    _store, url, rate = sqlite_store(workdir, args.runs)
    print(f"SQLite store, {args.runs:,} runs" + (f" (written at {rate:,.0f} runs/s)" if rate else " (populated earlier)"))
    proc, base = start_mlplat_ui(url, str(workdir / "artifacts"))
    try:
        report_pages("SQLite", base, args.repeat)
        if args.pg:
            _pg, pg_url, pg_rate = pg_store(workdir, args.runs)
            print(f"\nPostgreSQL store, {args.runs:,} runs"
                  + (f" (written at {pg_rate:,.0f} runs/s)" if pg_rate else " (populated earlier)"))
            pg_proc, pg_base = start_mlplat_ui(pg_url, str(workdir / "artifacts"))
            try:
                report_pages("PostgreSQL", pg_base, args.repeat)
            finally:
                pg_proc.terminate()
                pg_proc.wait(30)
        with httpx.Client(base_url=base, timeout=60) as c:
            ids = [r["id"] for r in c.get("/api/v1/runs", params={"page_size": 500}).json()["rows"]]
        shown = browser_times({
            "runs page": (base + "/runs?sort=metric.roc_auc&f=dataset%3Dwage&f=model%3Dxgboost", "body[data-ready='1']"),
            "compare": (base + "/compare?" + urllib.parse.urlencode([("ids", i) for i in ids]), "body[data-ready='1']"),
        }, args.repeat)
        print(f"\nin Chromium (navigation start to the page's script done), median of {args.repeat}:")
        print(f"  runs page interactive                      {shown['runs page']:7.0f} ms  "
              f"{'ok' if shown['runs page'] <= 1000 else 'OVER 1 s'}  (load average {load()})")
        print(f"  compare view, 500 runs, tables and charts drawn (info) {shown['compare']:7.0f} ms  "
              f"(load average {load()})")
        if args.mlflow:
            _small, small_url, _ = sqlite_store(workdir, args.mlflow_runs)
            small_proc, small_base = start_mlplat_ui(small_url, str(workdir / "artifacts"))
            try:
                mlflow_side(args, workdir, small_base)
            finally:
                small_proc.terminate()
                small_proc.wait(30)
    finally:
        proc.terminate()
        proc.wait(30)


if __name__ == "__main__":
    main()
