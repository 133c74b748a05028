"""Shared test kit for registry and serving tests: one trained pair of churn runs per session,
a fresh copy of their store per test, the real CLI in a subprocess, uvicorn on a free port."""

from __future__ import annotations

import copy
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

CLI = [sys.executable, "-m", "mlplat.cli"]
REPO = Path(__file__).resolve().parents[2]

POLICY = {
    "roles": {"ml-engineer": ["*"], "ml-lead": ["alice", "carol", "erin", "frank", "gina", "hank", "ivan", "judy"],
              "oncall": ["alice", "dave"]},
    "targets": {
        "staging": {"requester_roles": ["ml-engineer"], "approvals": 0, "approver_roles": ["ml-lead"],
                    "expiry_hours": 72, "gates": {"run_completed": True, "validation_passed": True, "thresholds": {},
                                                  "stage": "holdout", "beat_champion": None}},
        "production": {"requester_roles": ["ml-engineer"], "approvals": 1, "approver_roles": ["ml-lead"],
                       "expiry_hours": 72, "gates": {"run_completed": True, "validation_passed": True,
                                                     "thresholds": {"roc_auc": 0.7}, "stage": "holdout",
                                                     "beat_champion": {"metric": None, "margin": 0.0,
                                                                       "on_not_comparable": "review"}}},
    },
    "rollback_roles": ["oncall"],
    "auto_register": {"enabled": False, "name": None},
}


def policy(**production) -> dict:
    p = copy.deepcopy(POLICY)
    p["targets"]["production"].update(production)
    return p


def run_cli(args: list[str], *, cwd: Path, actor: str | None = None, store_url: str | None = None,
            check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("MLPLAT_ACTOR", None)
    if actor:
        env["MLPLAT_ACTOR"] = actor
    if store_url:
        env["MLPLAT_STORE_URL"] = store_url
    p = subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"mlplat {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def train_churn(base: Path) -> dict:
    """Two logreg runs on churn (strong C=1.0, weak C=0.01) in one multirun; cached per session."""
    marker = base / "trained.json"
    if marker.is_file():
        return json.loads(marker.read_text())
    base.mkdir(parents=True, exist_ok=True)
    db, art = base / "base.db", base / "artifacts"
    url = f"sqlite:///{db}"
    run_cli(["train", "-m", "dataset=churn", "evaluation=fast", "model=logreg", "model.classifier_params.C=1.0,0.01",
             f"tracking.url={url}", f"tracking.artifacts={art}", "hydra.sweep.dir=" + str(base / "hydra")],
            cwd=base, timeout=300)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT id, primary_value, sweep_id FROM runs WHERE status='done' ORDER BY primary_value DESC").fetchall()
    con.close()
    assert len(rows) == 2, rows
    info = {"db": str(db), "artifacts": str(art), "strong": rows[0][0], "weak": rows[1][0], "sweep_id": rows[0][2]}
    marker.write_text(json.dumps(info))
    return info


def fresh_store(tmp_path: Path, trained: dict):
    """A private copy of the trained store (SQLite backup API: consistent even with a WAL)."""
    from mlplat.tracking.store import Store

    dst = tmp_path / "mlplat.db"
    src = sqlite3.connect(trained["db"])
    out = sqlite3.connect(dst)
    src.backup(out)
    src.close()
    out.close()
    url = f"sqlite:///{dst}"
    return Store.open(url, trained["artifacts"]), url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a thread."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)
