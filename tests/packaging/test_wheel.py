"""The wheel, installed into a fresh venv in an empty directory, is a working mlplat.

One wheel build and one venv (``pip install <wheel>[serve]``, from pip's cache) serve the
whole module. Nothing from the repository is importable in these processes: no PYTHONPATH,
and the working directories are outside the repository.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO
from tests.projects.kit import CUSTOMERS_YAML, customers_csv
from tests.waiting import wait_until

SOURCES = ("mlplat", "bot", "conf", "hydra_plugins", "pyproject.toml", "setup.py", "README.md")


@dataclass
class Installed:
    base: Path
    bin: Path
    wheel_files: list[str]

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MLPLAT_", "HYDRA_", "PYTHON", "VIRTUAL_ENV"))}
        env.update(PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(self.bin.parent), **extra)
        return env

    def sh(self, command: str, cwd: Path, *, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run(["sh", "-c", command], cwd=cwd, env=self.env(), capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{command} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"  # build from a copy, so the build leaves nothing in the repository
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(src)],
                   check=True, timeout=600, capture_output=True)
    [wheel] = (base / "dist").glob("mlplat-*.whl")
    venv.create(base / "venv", with_pip=True)
    # --no-compile: byte-compiling every dependency at install is a third of the install time
    pip = [str(base / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", f"{wheel}[serve]"]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return Installed(base, base / "venv" / "bin", zipfile.ZipFile(wheel).namelist())


def test_the_wheel_ships_the_config_library_and_the_bot_under_their_own_names(installed):
    files = set(installed.wheel_files)
    for name in ("mlplat_conf/config.yaml", "mlplat_conf/mlplat.yaml", "mlplat_conf/model/lightgbm.yaml",
                 "mlplat_conf/registry/default.yaml", "mlplat_bot/cli.py", "mlplat_bot/manifest.yaml",
                 "hydra_plugins/mlplat_searchpath/searchpath.py", "mlplat/__main__.py",
                 "mlplat/reports/templates/base.html"):
        assert name in files, name
    assert not any(f.startswith(("conf/", "bot/")) for f in files)  # no generic top-level names


def test_init_train_leaderboard_in_an_empty_directory(installed):
    empty = installed.base / "empty"
    empty.mkdir()
    out = installed.sh("mlplat init && mlplat train && mlplat leaderboard", empty).stdout
    assert "example" in out and "logreg" in out
    assert installed.sh("python -m mlplat version", empty).stdout.strip() == "0.1.0"
    info = installed.sh("mlplat train --info searchpath", empty).stdout
    assert f"file://{empty / 'conf'}" in info and "pkg://mlplat_conf" in info
    # optional stacks that are not installed are named, in one line
    for command, extra in (("mlplat bot --socket", "slack"), ("mlplat chat -c help", "slack"),
                           ("mlplat train model=lightgbm", "lightgbm"), ("mlplat train model=catboost", "catboost")):
        proc = installed.sh(command, empty, check=False)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode != 0 and len(lines) == 1 and f"pip install 'mlplat[{extra}]'" in lines[0], proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_users_csv_with_a_text_target_is_trained_registered_served_and_predicted(installed):
    installed.sh("mlplat init shop", installed.base)
    shop = installed.base / "shop"
    (shop / "conf" / "dataset" / "customers.yaml").write_text(CUSTOMERS_YAML)  # the one dataset file
    customers_csv(shop / "data" / "customers.csv")
    installed.sh("mlplat train dataset=customers model=xgboost evaluation=fast", shop / "data")
    [best] = json.loads(installed.sh("mlplat leaderboard --dataset customers --format json", shop).stdout)["rows"]
    installed.sh(f"mlplat models register {best['id']} --name customers", shop)
    installed.sh("mlplat models promote customers 1 --to staging", shop)  # staging needs no approval

    port = _free_port()
    server = subprocess.Popen(["mlplat", "serve", "customers", "--alias", "staging", "--port", str(port)], cwd=shop,
                              env=installed.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                return server.poll() is not None  # stop waiting if it died
        wait_until(ready, timeout=120, interval=0.25)
        assert server.poll() is None, server.stderr.read() if server.stderr else ""
        rows = [{"region": "north", "tenure": 2, "spend": 50.0}, {"region": "east", "tenure": 55, "spend": 20.0}]
        r = httpx.post(f"{base}/v1/models/customers/predict", json={"records": rows}, timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["predictions"] == ["Yes", "No"] and body["classes"] == ["No", "Yes"]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)

    (shop / "new.csv").write_text("customer_id,region,tenure,spend\nn1,south,1,30\nn2,north,59,80\n")
    installed.sh("mlplat predict customers@staging --input new.csv --output scored.csv", shop)
    header, *rows = csv.reader((shop / "scored.csv").read_text().splitlines())
    assert header == ["customer_id", "region", "tenure", "spend", "prediction", "model_version", "proba.No",
                      "proba.Yes"]
    assert [row[4] for row in rows] == ["Yes", "No"] and {row[5] for row in rows} == {"1"}
