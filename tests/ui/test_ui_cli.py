"""`mlplat ui` as a user runs it: a real process on 127.0.0.1, and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from conftest import HEADER

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from kit import REPO, free_port  # noqa: E402  (tests/registry, on the path via conftest)
from waiting import wait_until  # noqa: E402


def _env(store_url: str, artifacts: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
    env.update(MLPLAT_STORE_URL=store_url, MLPLAT_ARTIFACTS=artifacts, PYTHONPATH=str(REPO))
    return env


def _start(args: list[str], env: dict[str, str], cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mlplat.cli", "ui", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code < 500
    except httpx.HTTPError:
        return False


def test_mlplat_ui_serves_the_store_read_only(store_url, seeded, tmp_path):
    port = free_port()
    env = _env(store_url, seeded["artifacts"])
    env.pop("MLPLAT_STORE_URL")  # the store named on the command line, as docs/ui.md shows
    proc = _start(["--store", store_url, "--port", str(port)], env, tmp_path)
    try:
        wait_until(lambda: _up(f"http://127.0.0.1:{port}/runs"), timeout=60, interval=0.2)
        page = httpx.get(f"http://127.0.0.1:{port}/runs", timeout=10)
        assert page.status_code == 200 and seeded["strong"][:12] in page.text and "read-only" in page.text
        assert "Approve" not in httpx.get(f"http://127.0.0.1:{port}/models/churn", headers={HEADER: "alice"},
                                          timeout=10).text
    finally:
        proc.terminate()
        out, _err = proc.communicate(timeout=20)
    assert f"mlplat ui on http://127.0.0.1:{port} (read-only)" in out


def test_mlplat_ui_behind_an_auth_proxy_allows_decisions(store_url, seeded, tmp_path):
    port = free_port()
    proc = _start(["--host", "127.0.0.1", "--port", str(port), "--auth-header", HEADER],
                  _env(store_url, seeded["artifacts"]), tmp_path)
    try:
        wait_until(lambda: _up(f"http://127.0.0.1:{port}/runs"), timeout=60, interval=0.2)
        page = httpx.get(f"http://127.0.0.1:{port}/models/churn", headers={HEADER: "alice"}, timeout=10).text
        assert "Approve" in page and "signed in as <b>alice</b>" in page
    finally:
        proc.terminate()
        out, _err = proc.communicate(timeout=20)
    assert f"approvals allowed for users named by {HEADER}" in out


def test_bad_options_are_one_line(store_url, seeded, tmp_path):
    env = _env(store_url, seeded["artifacts"])
    for args, said in ((["--auth-header", "X Forwarded User"], "is not a header name"),
                       (["--port", "70000"], "is not a TCP port")):
        p = subprocess.run([sys.executable, "-m", "mlplat.cli", "ui", *args], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and said in p.stderr and "Traceback" not in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
