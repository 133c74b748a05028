"""The web UI in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium).

With CI=true a missing Chromium or Playwright fails these tests (`.ci/run` installs Chromium);
elsewhere they are skipped with the reason.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from conftest import HEADER, serve

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _missing(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run; .ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.is_file():
        _missing(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class Watched:
    """A page that records console errors and every request to a host other than the UI's."""

    def __init__(self, context, base: str):
        self.page = context.new_page()
        self.errors: list[str] = []
        self.foreign: list[str] = []
        host = urlparse(base).netloc
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.foreign.append(r.url)
                     if urlparse(r.url).scheme in ("http", "https", "ws", "wss") and urlparse(r.url).netloc != host
                     else None)

    def open(self, url: str):
        response = self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']", timeout=15000)
        return response


def test_every_page_loads_draws_and_calls_no_other_host(browser, ui, seeded):
    ctx = browser.new_context()
    w = Watched(ctx, ui.url)
    ids = [d["id"] for d in seeded["volume"][:4]]
    for path in ["/runs", f"/runs/{seeded['strong']}", "/compare?" + "&".join(f"ids={i}" for i in ids), "/sweeps",
                 f"/sweeps/{seeded['sweep_id']}", "/models", "/models/churn", "/monitoring",
                 f"/monitoring/checks/{seeded['check_id']}", "/audit"]:
        assert w.open(ui.url + path).status == 200, path
    assert w.errors == [] and w.foreign == []
    w.open(f"{ui.url}/compare?" + "&".join(f"ids={i}" for i in ids))
    assert w.page.locator("#parallel polyline").count() == 4  # one line per run
    assert w.page.locator("#errorbars circle").count() >= 4 * 4  # mean + 3 folds per run
    assert w.page.locator("#scatter circle").count() == 4
    w.open(f"{ui.url}/sweeps/{seeded['sweep_id']}")
    assert w.page.locator("#history circle.trial").count() == 2
    w.open(f"{ui.url}/runs/nosuchrun")
    assert "not found" in w.page.locator("#problem").inner_text()
    ctx.close()


def test_sort_filter_select_and_compare(browser, ui, seeded):
    ctx = browser.new_context()
    w = Watched(ctx, ui.url)
    w.open(ui.url + "/runs")
    w.page.locator("input[name=f]").last.fill("dataset=wage")
    w.page.locator("input[name=cols]").fill("param.max_depth,metric.roc_auc")
    w.page.locator("#filters button[type=submit]").click()
    w.page.wait_for_url(re.compile(r"f=dataset%3Dwage"))
    w.page.wait_for_selector("body[data-ready='1']")
    datasets = w.page.locator("#runs tbody tr td:nth-child(6)").all_inner_texts()
    assert datasets and set(datasets) == {"wage"}
    # sort by the param column: click its header, then again for the other direction
    w.page.locator("#runs th[data-key='param.max_depth'] a").click()
    w.page.wait_for_url(re.compile(r"sort=param.max_depth"))
    w.page.wait_for_selector("body[data-ready='1']")
    col = w.page.locator("#runs thead th").all_inner_texts().index("param.max_depth") + 1
    desc = [int(v) for v in w.page.locator(f"#runs tbody tr td:nth-child({col})").all_inner_texts()]
    assert desc == sorted(desc, reverse=True)
    w.page.locator("#runs th[data-key='param.max_depth'] a").click()
    w.page.wait_for_url(re.compile(r"order=asc"))
    w.page.wait_for_selector("body[data-ready='1']")
    asc = [int(v) for v in w.page.locator(f"#runs tbody tr td:nth-child({col})").all_inner_texts()]
    assert asc == sorted(asc) and asc[0] <= desc[-1]
    # select three runs and compare them
    compare = w.page.locator("#compare")
    assert compare.is_disabled()
    picks = w.page.locator("input.pick")
    chosen = [picks.nth(i).get_attribute("value") for i in range(3)]
    for i in range(3):
        picks.nth(i).check()
    assert compare.is_enabled()
    compare.click()
    w.page.wait_for_url(re.compile(r"/compare\?"))
    w.page.wait_for_selector("body[data-ready='1']")
    assert w.page.locator("h1").inner_text() == "Compare 3 runs"
    heads = w.page.locator("#params thead th").all_inner_texts()[1:]
    assert heads == [c[:8] for c in chosen]
    same = w.page.locator("#params tr.same").first
    assert same.is_visible()
    w.page.locator("#only-diff").check()
    assert not same.is_visible() and w.page.locator("#params tr.diff").first.is_visible()
    assert w.errors == [] and w.foreign == []
    ctx.close()


def test_a_running_sweep_page_updates_itself(browser, store_url, seeded):
    from conftest import insert_volume, volume

    from mlplat.tracking import runs
    from mlplat.tracking.store import Store

    store = Store.open(store_url, seeded["artifacts"])
    runs.create_sweep(store, "livesweep0000001", command="mlplat train -m ...", actor="t", source="test",
                      experiment="volume")
    trials = volume(6, seed=3)
    for i, t in enumerate(trials):
        t.update(id=f"live{i:04d}" + "0" * 8, sweep_id="livesweep0000001", started_at=time.time() + i)
    insert_volume(store, trials[:1])
    stop = threading.Event()

    def more() -> None:  # trials finishing while the page is open, then the sweep closing
        for t in trials[1:]:
            if stop.wait(0.6):
                return
            insert_volume(store, [t])
        stop.wait(0.6)
        runs.close_sweep(store, "livesweep0000001", actor="t", source="test")

    with serve(store_url, seeded["artifacts"], refresh_s=0.5) as server:
        ctx = browser.new_context()
        w = Watched(ctx, server.url)
        w.open(f"{server.url}/sweeps/livesweep0000001")
        assert w.page.locator("#trials tbody tr").count() == 1
        assert "refreshing" in w.page.locator("#refresh-note").inner_text()
        worker = threading.Thread(target=more, daemon=True)
        worker.start()
        try:
            # expect() polls from Python: the page's CSP forbids wait_for_function's evaluated strings
            from playwright.sync_api import expect

            expect(w.page.locator("#trials tbody tr")).not_to_have_count(1, timeout=20000)  # new trials appear
            expect(w.page.locator("#refresh-note")).to_contain_text("finished", timeout=20000)
        finally:
            stop.set()
            worker.join(10)
        assert w.page.locator("#trials tbody tr").count() == 6
        assert w.page.locator("#sweep-status .badge").inner_text() == "done"
        assert w.page.locator("#history circle.trial").count() == 6
        assert w.errors == [] and w.foreign == []
        ctx.close()


def test_approve_through_the_proxy_header_moves_the_alias(browser, ui_auth, seeded):
    ctx = browser.new_context(extra_http_headers={HEADER: "alice"})
    w = Watched(ctx, ui_auth.url)
    w.open(ui_auth.url + "/models/churn")
    assert w.page.locator("#aliases tr[data-alias='production'] .alias-version").inner_text() == "1"
    assert "signed in as alice" in w.page.locator("header").inner_text()
    w.page.locator(f"#requests tr[data-request='{seeded['pending']}'] button.approve").click()
    w.page.wait_for_selector("#notice")
    assert "now points at version 2" in w.page.locator("#notice").inner_text()
    assert w.page.locator("#aliases tr[data-alias='production'] .alias-version").inner_text() == "2"
    assert w.page.locator(f"#requests tr[data-request='{seeded['pending']}']").inner_text().count("approved") == 1
    assert w.errors == [] and w.foreign == []
    ctx.close()


def test_without_the_header_no_button_exists_and_a_forged_post_is_refused(browser, ui_auth, seeded):
    ctx = browser.new_context()
    w = Watched(ctx, ui_auth.url)
    w.open(ui_auth.url + "/models/churn")
    assert w.page.locator("button.approve").count() == 0 and w.page.locator("button.rollback").count() == 0
    assert "read-only" in w.page.locator("header").inner_text()
    forged = ctx.request.post(f"{ui_auth.url}/approvals/{seeded['pending']}/approve",
                              form={"csrf": "f" * 64, "comment": "forged"}, headers={HEADER: "alice"})
    assert forged.status == 403
    w.open(ui_auth.url + "/models/churn")
    assert w.page.locator("#aliases tr[data-alias='production'] .alias-version").inner_text() == "1"
    ctx.close()


def test_the_screenshot_script_writes_every_page(browser, store_url, seeded, tmp_path):
    import subprocess
    import sys

    from kit import REPO

    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
    env.update(MLPLAT_ARTIFACTS=seeded["artifacts"], PYTHONPATH=str(REPO))
    p = subprocess.run([sys.executable, str(REPO / "scripts" / "ui_screenshots.py"), "--store", store_url,
                        "--out", str(tmp_path / "shots"), "--user", "alice", "--colors", "64"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    names = {Path(line).stem for line in p.stdout.split()}
    assert names == {"runs", "run", "compare", "sweeps", "sweep", "models", "model", "monitoring", "audit"}
    for name in names:
        png = (tmp_path / "shots" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
